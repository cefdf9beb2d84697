"""Many processes give the same training: ``tools/dist_train.sh`` on CPU.

Two gloo processes of 2 images each train the same model as one process of
4 images (:func:`test_two_processes_train_like_one`), and the
domain-adaptation toy config runs through its warmup -> adaptation switch
under 2 processes (:func:`test_domain_adaptation_two_processes`).

Why the two trainings can be equal, read in the installed mmengine 0.10.7
and mmdet 3.3.0:

* **Data.** ``InfiniteSampler`` draws one endless sequence of
  ``torch.randperm`` permutations from ``torch.Generator().manual_seed(
  seed)`` and gives rank ``r`` the items ``r, r + W, r + 2W, ...`` of it
  (``_indices_of_rank``: ``itertools.islice(..., rank, None,
  world_size)``); ``Runner.build_dataloader`` passes ``randomness.seed`` to
  the sampler on every rank (``diff_rank_seed=False``). With 2 images per
  process, iteration k of the 2-process run takes items ``4k .. 4k + 3`` of
  the sequence, split ``{4k, 4k + 2}`` / ``{4k + 1, 4k + 3}``: the batch of
  iteration k of the 1-process run (:func:`test_sampler_splits_the_batch`
  checks it on the installed class). The batch sampler is torch's plain one
  (mmdet's ``AspectRatioBatchSampler`` would regroup images per process),
  and every image is resized to 128 x 128 (no aspect ratio kept), so that
  no batch is padded and a process's batch is exactly its part of the
  1-process batch. No random transform: no flip.
* **Losses.** DDP averages the gradients of the processes, so the mean of
  the per-process losses must equal the 1-process loss. FCOS is taken
  because it is deterministic and normalised across processes:
  ``FCOSHead.loss_by_feat`` divides by ``reduce_mean`` of the positive count
  and of the centerness-target sum (``sum_r S_r / (sum_r N_r / W)`` per
  process, whose mean is ``sum S / sum N``), it has no sampler (Faster
  R-CNN's ``RandomSampler`` draws different random numbers per process)
  and its GroupNorm head is per image. RetinaNet, normalised by the local
  positive count, is the counter-example: the same set-up trained it to a
  max abs difference of 1.8e-3 after 3 iterations (a ``LossMixRetinaHead``
  on the same backbone and data). The head is
  ``LossMixFCOSHead``, on unmixed data the stock FCOS loss.
* **BatchNorm** (batch statistics per process) is frozen everywhere:
  ``norm_cfg.requires_grad=False``, ``norm_eval=True``.

Measured: all 153 parameters and buffers after 1, 2 and 3 SGD iterations
(lr 0.01, momentum 0.9) agree to 3e-8 max abs difference, while iterations
2 and 3 move them by 0.038; the test asserts < 1e-6 and > 1e-3.
"""
import glob
import itertools
import json
import os
import os.path as osp
import signal
import socket
import subprocess
import sys

import pytest
import torch
from mmengine.dataset import InfiniteSampler

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tools'))

import train as train_tool  # noqa: E402

DIST_TRAIN = osp.join(ROOT, 'tools', 'dist_train.sh')
TOY_RETINANET = osp.join(ROOT, 'configs', 'toy',
                         'retinanet_r18_fpn_1xb4-800it_toy.py')
DA_CONFIG = glob.glob(
    osp.join(ROOT, 'configs', 'toy',
             'mixed-teacher_faster-rcnn_r18_fpn_lossmix_*_toy2clipart.py'))[0]
TIMEOUT = 300  # a hang (a DDP collective waiting forever) fails, not stalls
ITERS = 3

# The toy RetinaNet's ResNet-18 / FPN with a 1-conv FCOS head, all BN
# frozen, 128 x 128 images, no flip, constant lr, no evaluation.
FCOS_CONFIG = """\
_base_ = {base!r}
model = dict(
    type='FCOS',
    backbone=dict(
        norm_cfg=dict(type='BN', requires_grad=False), norm_eval=True),
    neck=dict(add_extra_convs='on_output', relu_before_extra_convs=True),
    bbox_head=dict(
        _delete_=True,
        type='LossMixFCOSHead',
        num_classes=3,
        in_channels=64,
        feat_channels=32,
        stacked_convs=1,
        strides=[8, 16, 32, 64, 128],
        norm_cfg=dict(type='GN', num_groups=8, requires_grad=True),
        loss_cls=dict(
            type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25,
            loss_weight=1.0),
        loss_bbox=dict(type='IoULoss', loss_weight=1.0),
        loss_centerness=dict(
            type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0)),
    train_cfg=None,
    test_cfg=None)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(128, 128), keep_ratio=False),
    dict(type='PackDetInputs')
]
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    batch_sampler=None,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(data_root={data_root!r}, pipeline=train_pipeline))
train_cfg = dict(max_iters={iters}, val_interval={iters} + 1)
val_cfg = val_dataloader = val_evaluator = None
test_cfg = test_dataloader = test_evaluator = None
param_scheduler = None
optim_wrapper = dict(optimizer=dict(lr=0.01))
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(interval=1, max_keep_ckpts=-1, save_best=None))
randomness = dict(seed=0)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def dist_train(config, work_dir, options, nproc=2):
    """``bash tools/dist_train.sh CONFIG nproc`` in its own process group,
    killed whole (torchrun and its workers) after ``TIMEOUT`` seconds.

    Returns:
        str: stdout and stderr.
    """
    env = dict(
        os.environ,
        PYTHON=sys.executable,
        PORT=str(free_port()),
        OMP_NUM_THREADS='1')
    proc = subprocess.Popen(
        [
            'bash', DIST_TRAIN, config,
            str(nproc), '--work-dir', work_dir, '--cfg-options'
        ] + options,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
        env=env,
        start_new_session=True)
    try:
        log, _ = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        log, _ = proc.communicate()
        pytest.fail(f'no end after {TIMEOUT} s (a hang?):\n{log[-3000:]}')
    assert proc.returncode == 0, log[-5000:]
    assert 'Distributed training: True' in log
    return log


def state(work_dir, it):
    ckpt = torch.load(
        osp.join(work_dir, f'iter_{it}.pth'),
        map_location='cpu',
        weights_only=False)
    return ckpt['state_dict']


def max_abs_diff(a, b):
    assert a.keys() == b.keys()
    return max((a[k].double() - b[k].double()).abs().max().item() for k in a)


def scalars(work_dir):
    path = sorted(
        glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))[-1]
    with open(path) as f:
        return [json.loads(line) for line in f]


def test_sampler_splits_the_batch():
    """Rank r of 2 gets items r::2 of the 1-process sequence."""
    one = InfiniteSampler(list(range(6)), shuffle=True, seed=0)
    ranks = []
    for rank in (0, 1):
        sampler = InfiniteSampler(list(range(6)), shuffle=True, seed=0)
        sampler.rank, sampler.world_size = rank, 2
        ranks.append(list(itertools.islice(sampler._indices_of_rank(), 6)))
    single = list(itertools.islice(iter(one), 12))
    assert sorted(single[:6]) == list(range(6))  # a permutation per pass
    for k in range(3):  # iteration k: 4 images of one, 2 + 2 of two
        assert single[4 * k:4 * k + 4] == [
            ranks[0][2 * k], ranks[1][2 * k], ranks[0][2 * k + 1],
            ranks[1][2 * k + 1]
        ]


@pytest.mark.slow
def test_two_processes_train_like_one(toy_root, tmp_path):
    config = str(tmp_path / 'fcos_toy_dist.py')
    with open(config, 'w') as f:
        f.write(
            FCOS_CONFIG.format(
                base=TOY_RETINANET, data_root=toy_root + '/', iters=ITERS))
    one = str(tmp_path / 'one')
    train_tool.main([
        config, '--work-dir', one, '--cfg-options',
        f'visualizer.name=vis_dist_eq_{id(tmp_path)}'
    ])
    two = str(tmp_path / 'two')
    dist_train(config, two, ['train_dataloader.batch_size=2'])

    for it in range(1, ITERS + 1):
        a, b = state(one, it), state(two, it)
        assert len(a) == 153
        assert max_abs_diff(a, b) < 1e-6, it
    moved = max_abs_diff(state(one, 1), state(one, ITERS))
    assert moved > 1e-3  # the equality is not that of an idle model
    # the frozen BN kept its initial statistics
    final = state(one, ITERS)
    assert torch.equal(final['backbone.bn1.running_mean'], torch.zeros(32))


@pytest.mark.slow
def test_domain_adaptation_two_processes(toy_root, toy_clipart_root, tmp_path):
    """The DA toy config under 2 gloo processes, 2 warmup + 2 adaptation
    iterations: the discriminator, idle in warmup, raises no DDP
    unused-parameter error (``find_unused_parameters=True`` in the config),
    the run ends, the log shows both phases and the teacher was copied from
    the student at the switch."""
    s, t = toy_root + '/', toy_clipart_root + '/'
    options = [
        f'train_dataloader.dataset.datasets.0.data_root={s}',
        f'train_dataloader.dataset.datasets.1.data_root={t}',
        # tiny: 96 x 96 images (pipeline item 3 is the Resize), 64-wide
        # box head, fewer RoIs and proposals
        'train_dataloader.dataset.datasets.0.pipeline.3.scale=(96,96)',
        'train_dataloader.dataset.datasets.1.pipeline.3.scale=(96,96)',
        'model.detector.roi_head.bbox_head.fc_out_channels=64',
        'model.detector.train_cfg.rcnn.sampler.num=64',
        'model.detector.train_cfg.rpn_proposal.nms_pre=300',
        'model.detector.train_cfg.rpn_proposal.max_per_img=100',
        'model.detector.test_cfg.rpn.nms_pre=300',
        'model.detector.test_cfg.rpn.max_per_img=100',
        'model.detector.test_cfg.rcnn.max_per_img=20',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'train_cfg.max_iters=4',
        'train_cfg.val_interval=5',
        'val_cfg=None',
        'val_dataloader=None',
        'val_evaluator=None',
        'test_cfg=None',
        'test_dataloader=None',
        'test_evaluator=None',
        'custom_hooks.0.warmup_iters=2',
        'load_from=None',  # random init (the config starts from a file)
        'default_hooks.checkpoint.interval=1',
        'default_hooks.checkpoint.max_keep_ckpts=-1',
        'default_hooks.checkpoint.save_best=None',
        'default_hooks.logger.interval=1',
        'log_processor.window_size=1',
        # an untrained teacher yields some pseudo-boxes
        'model.semi_train_cfg.cls_pseudo_thr=0.05',
    ]
    work_dir = str(tmp_path / 'da')
    log = dist_train(DA_CONFIG, work_dir, options)
    assert 'iteration 2: warmup done, teacher = student' in log
    train = [r for r in scalars(work_dir) if 'loss' in r]
    assert [r['iter'] for r in train] == [1, 2, 3, 4]
    for r in train[:2]:  # warmup: mss + nst
        assert r['nst_loss_cls'] > 0 and r['loss_disc_src'] == 0
    for r in train[2:]:  # adaptation: mss + mtt + mst + disc
        assert r['nst_loss_cls'] == 0
        assert r['mst_loss_cls'] > 0 and r['loss_disc_src'] > 0

    states = {it: state(work_dir, it) for it in (1, 2, 3)}
    disc = [k for k in states[1] if k.startswith('discriminator.')]
    assert disc
    # warmup: the discriminator's grads stay None (unused on all ranks), so
    # SGD leaves it exactly as it is; adaptation trains it
    assert all(torch.equal(states[1][k], states[2][k]) for k in disc)
    assert not all(torch.equal(states[2][k], states[3][k]) for k in disc)
    # teacher (random init of its own) := student before iteration 3, then
    # one EMA step: teacher_3 = 0.99 student_2 + 0.01 student_3
    floats = [
        k[len('teacher.'):] for k, v in states[3].items()
        if k.startswith('teacher.') and v.is_floating_point()
    ]
    assert any(
        not torch.equal(states[2]['teacher.' + k], states[2]['student.' + k])
        for k in floats)
    for k in floats:
        expected = 0.99 * states[2]['student.' + k] + \
            0.01 * states[3]['student.' + k]
        torch.testing.assert_close(
            states[3]['teacher.' + k], expected, rtol=1e-5, atol=1e-6)
