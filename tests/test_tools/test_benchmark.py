"""tools/benchmark.py and tools/benchmark_breakdown.py: options, the
variants' table, a one-iteration run that writes table and figure, the
stage breakdown's counts, and the R50-FPN variant's model."""
import os.path as osp

import pytest
import torch
from mmdet.models.roi_heads.roi_extractors import SingleRoIExtractor
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

from lossmix_mm.models.data_preprocessors import BatchLossMix
import benchmark  # tools/ is on pytest's pythonpath
import benchmark_breakdown

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PNG_MAGIC = b'\x89PNG\r\n\x1a\n'


def test_parse_args_defaults_and_choices():
    args = benchmark.parse_args([])
    assert (args.model, args.device, args.iters, args.warmup) == \
        ('toy', 'cpu', 20, 5)
    # every toy variant, baseline first, in the table's order
    assert benchmark.selected_variants(args) == [
        'no-mix', 'pair', 'cached', 'inbatch', 'exact', 'union', 'noise'
    ]
    args = benchmark.parse_args(['--breakdown'])
    assert benchmark.selected_variants(args) == ['no-mix', 'inbatch']
    args = benchmark.parse_args([
        '--model', 'r50-fpn', '--variants', 'union', 'pair', '--iters', '1',
        '--warmup', '0'
    ])
    assert benchmark.selected_variants(args) == ['no-mix', 'pair', 'union']
    assert benchmark.command_line(args) == (
        'python tools/benchmark.py --model r50-fpn --variants union pair '
        '--iters 1 --warmup 0')


@pytest.mark.parametrize(
    'argv',
    [
        ['--variants', 'bogus'],
        ['--model', 'r50-fpn', '--variants', 'cached'],  # toy only
        ['--model', 'r50-fpn', '--da'],
        ['--iters', '0'],
        ['--device', 'tpu'],
    ])
def test_parse_args_rejects(argv):
    with pytest.raises(SystemExit):
        benchmark.parse_args(argv)


@pytest.mark.skipif(torch.cuda.is_available(), reason='has a GPU')
def test_cuda_refused_without_gpu():
    with pytest.raises(SystemExit):
        benchmark.parse_args(['--device', 'cuda'])


def test_variants_and_goals():
    toy = benchmark.MODEL_VARIANTS['toy']
    assert toy['cached'] == (
        'lossmix (pair, cached)',
        'toy/faster-rcnn_r18_fpn_lossmix-cached_1xb4-800it_toy.py', 1.03)
    goals = {label: goal for label, _, goal in toy.values()}
    assert goals == {
        'no-mix': None,
        'lossmix (pair)': 1.03,
        'lossmix (pair, cached)': 1.03,
        'lossmix (in-batch)': 1.03,
        'lossmix exact (pair)': 1.10,
        'union (pair)': None,
        'noise (pair)': None
    }
    r50 = benchmark.MODEL_VARIANTS['r50-fpn']
    assert r50['exact'][2] == 1.10 and r50['inbatch'][2] == 1.03
    for variants in benchmark.MODEL_VARIANTS.values():
        for _, config, _ in variants.values():
            assert osp.isfile(osp.join(ROOT, 'configs', config)), config


@pytest.mark.slow
def test_toy_run_writes_table_and_png(toy_root, tmp_path):
    """One iteration of no-mix and in-batch: the table (with memory from
    the probes' subprocesses) and the figure beside it."""
    out = tmp_path / 'bench.md'
    benchmark.main([
        '--iters', '1', '--warmup', '0', '--variants', 'inbatch',
        '--pipeline-samples', '2', '--threads', '1', '--data-root', toy_root,
        '--out',
        str(out)
    ])
    text = out.read_text()
    assert 'Smoke run (1 iterations < 20)' in text
    rows = {
        line.split(' | ')[0].lstrip('| '): line.split(' | ')
        for line in text.splitlines() if line.startswith('| ')
    }
    assert rows['no-mix'][3] == '1.000'  # its own ratio
    assert float(rows['lossmix (in-batch)'][3]) > 0
    assert rows['lossmix (in-batch)'][4].startswith('<= 1.03 (')
    # the CPU-time ratio and its goal, then memory
    assert 'CPU-time ratio | its goal' in text
    assert rows['no-mix'][5] == '1.000'
    cpu_ratio = float(rows['lossmix (in-batch)'][5])
    assert cpu_ratio > 0
    assert rows['lossmix (in-batch)'][6] in ('<= 1.03 (met)',
                                             '<= 1.03 (MISSED)')
    assert float(rows['no-mix'][7]) >= 0  # memory from the probe
    assert 'per-sample pipeline, LossMixPair / mmdet MixUp' in rows
    assert 'in-batch mixing op / its iteration' in rows
    with open(tmp_path / 'bench.png', 'rb') as f:
        assert f.read(8) == PNG_MAGIC


def test_breakdown_counts(toy_root, tmp_path):
    """Same seed, same images: in-batch mixing gives every image its own
    gts and its partner's, twice the no-mix gts per image on average."""
    out = tmp_path / 'breakdown.md'
    benchmark.main([
        '--breakdown', '--iters', '1', '--warmup', '0', '--threads', '1',
        '--data-root', toy_root, '--out',
        str(out)
    ])
    rows = {
        line.split(' | ')[0].lstrip('| '): line.rstrip(' |').split(' | ')
        for line in out.read_text().splitlines() if line.startswith('| ')
    }
    nomix, inbatch = (float(v) for v in rows['gts per image'][1:3])
    assert nomix > 0 and inbatch == pytest.approx(2 * nomix)
    # the RPN assigns every anchor to every gt: pairs scale with the gts
    pairs = [
        float(v) for v in rows['RPN assignment IoU pairs per image (k)'][1:3]
    ]
    assert pairs[1] > 1.9 * pairs[0]
    for stage in ('iteration', 'backward + SGD step',
                  '&nbsp;&nbsp;of which in-batch mixing op',
                  '&nbsp;&nbsp;of which RPN LossMix weights'):
        assert stage in rows, stage
    assert float(rows['&nbsp;&nbsp;of which in-batch mixing op'][1]) == 0


def test_roi_align_points_by_hand():
    """mmcv's adaptive RoIAlign grid (sampling_ratio 0, aligned): per RoI
    on its level, 7 x 7 bins x ceil(h / 7) x ceil(w / 7) points."""
    extractor = SingleRoIExtractor(
        roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0),
        out_channels=8,
        featmap_strides=[4, 8, 16, 32])
    rois = torch.tensor(
        [
            [0, 0, 0, 28, 28],  # scale 28 < 112: level 0, 7 x 7 px: 1 x 1
            [0, 0, 0, 100, 60],  # scale 77: level 0, 25 x 15 px: 4 x 3
            [0, 0, 0, 200, 200],  # scale 200: level 1, 25 x 25 px: 4 x 4
        ],
        dtype=torch.float32)
    assert benchmark_breakdown.roi_align_points(extractor, rois) == \
        49 * (1 + 12 + 16)


def _samples(num, size=(96, 128)):
    samples = []
    for i in range(num):
        sample = DetDataSample(
            metainfo=dict(
                img_shape=size, ori_shape=size, scale_factor=(1.0, 1.0)))
        sample.gt_instances = InstanceData(
            bboxes=torch.tensor([[10., 12., 60., 70.], [30., 5., 90., 40.]]),
            labels=torch.tensor([0, 2]))
        samples.append(sample)
    return samples


@pytest.mark.slow
def test_r50_fpn_configs_build_and_train_a_step(toy_root):
    """The paper's model for the --model r50-fpn variants: random init,
    BN, toy images at (1333, 800), batch 2; one training forward and
    backward on a tiny batch."""
    init_default_scope('mmdet')
    variants = benchmark.MODEL_VARIANTS['r50-fpn']
    cfg = benchmark.load_cfg(variants['inbatch'][1], toy_root, 'r50-fpn')
    assert cfg.model.backbone.init_cfg is None
    assert cfg.model.backbone.norm_cfg == dict(type='BN', requires_grad=True)
    assert cfg.train_dataloader.batch_size == 2
    assert dict(type='Resize', scale=(1333, 800), keep_ratio=True) in \
        cfg.train_dataloader.dataset.pipeline
    assert cfg.train_dataloader.dataset.data_root == toy_root + '/'
    pair = benchmark.load_cfg(variants['pair'][1], toy_root, 'r50-fpn')
    inner = pair.train_dataloader.dataset.dataset
    assert pair.train_dataloader.dataset.type == 'MultiImageMixDataset'
    assert inner.ann_file == 'annotations/train.json'
    assert dict(type='Resize', scale=(1333, 800), keep_ratio=True) in \
        inner.pipeline

    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    assert type(model.rpn_head).__name__ == 'LossMixRPNHead'
    assert type(model.roi_head).__name__ == 'LossMixRoIHead'
    assert isinstance(model.data_preprocessor.batch_augments[0], BatchLossMix)
    assert model.backbone.depth == 50
    assert type(model.backbone.bn1).__name__ == 'BatchNorm2d'
    # Faster R-CNN R50-FPN, 80 COCO classes: 41.75 M parameters, 41.53 M
    # trained (stem and stage 1 frozen, frozen_stages=1)
    assert sum(p.numel() for p in model.parameters()) == 41_753_056
    assert sum(p.numel() for p in model.parameters()
               if p.requires_grad) == 41_527_712
    model.train()
    data = model.data_preprocessor(
        dict(
            inputs=[
                torch.randint(0, 255, (3, 96, 128), dtype=torch.uint8)
                for _ in range(2)
            ],
            data_samples=_samples(2)),
        training=True)
    # in-batch mixing: each image carries its own 2 gts and its partner's
    assert [len(s.gt_instances) for s in data['data_samples']] == [4, 4]
    losses = model.loss(data['inputs'], data['data_samples'])
    assert {'loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls',
            'loss_bbox'} <= set(losses)
    total, _ = model.parse_losses(losses)
    assert torch.isfinite(total)
    total.backward()
    # the stem is frozen (frozen_stages=1), stage 4 trains (its shortcut:
    # residual branches start gated off, zero-init last BN of each block)
    assert model.backbone.conv1.weight.grad is None
    assert model.backbone.layer4[0].downsample[0].weight.grad.abs().sum() > 0


def test_write_markdown_keeps_the_reading(tmp_path):
    out = tmp_path / 'b.md'
    benchmark.write_markdown('| old | table |', str(out))
    assert out.read_text() == '| old | table |\n'
    out.write_text('stale note\n| old | table |\n\n## Reading\n\nprose\n')
    benchmark.write_markdown('| new | table |', str(out))
    assert out.read_text() == '| new | table |\n\n## Reading\n\nprose\n'
