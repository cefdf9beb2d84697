"""MixedDomainTeacher: the loss terms of each phase, pseudo-labels, mixing
across domains, empty pseudo-label sets, bad arguments."""
import copy
import glob
import math
import os.path as osp

import numpy as np
import pytest
import torch
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.structures import InstanceData

from lossmix_mm.mixing.across import mix_across
from lossmix_mm.models.detectors import zero_loss_dict
from lossmix_mm.models.detectors.mixed_domain_teacher import domain_accuracy

ROOT = osp.dirname(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
DA_CONFIG = glob.glob(
    osp.join(ROOT, 'configs', 'toy',
             'mixed-teacher_faster-rcnn_r18_fpn_lossmix_*_toy2clipart.py'))[0]
SIZE = 64


def model_cfg(**changes):
    cfg = Config.fromfile(DA_CONFIG).model
    cfg.detector.roi_head.bbox_head.fc_out_channels = 32
    cfg.semi_train_cfg.update(changes.pop('semi_train_cfg', {}))
    cfg.update(changes)
    return cfg


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    built = MODELS.build(model_cfg())
    built.init_weights()  # the discriminator's std-0.01 init
    return built


def sample(boxes=(), labels=(), homography=None, shape=(SIZE, SIZE)):
    s = DetDataSample(
        metainfo=dict(
            img_shape=shape,
            ori_shape=shape,
            pad_shape=shape,
            batch_input_shape=shape,
            scale_factor=(1.0, 1.0),
            homography_matrix=np.eye(3, dtype=np.float32) if homography is
            None else homography))
    s.gt_instances = InstanceData(
        bboxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
        labels=torch.tensor(labels, dtype=torch.long))
    return s


def batch(seed=0):
    g = torch.Generator().manual_seed(seed)
    inputs = {
        k: torch.randn(2, 3, SIZE, SIZE, generator=g)
        for k in ('sup', 'unsup_teacher', 'unsup_student')
    }
    samples = {
        'sup': [
            sample([[4, 4, 30, 30]], [0]),
            sample([[20, 10, 60, 50], [2, 2, 12, 12]], [1, 2])
        ],
        'unsup_teacher': [sample(), sample()],
        'unsup_student': [sample(), sample()],
    }
    return inputs, samples


def fake_teacher(scores_per_image):
    """A teacher.predict returning fixed detections."""

    def predict(batch_inputs, batch_data_samples, rescale=False):
        out = []
        for scores in scores_per_image:
            n = len(scores)
            res = DetDataSample()
            res.pred_instances = InstanceData(
                bboxes=torch.tensor([[8.0 + i, 8.0, 40.0 + i, 40.0]
                                     for i in range(n)]).reshape(-1, 4),
                scores=torch.tensor(scores, dtype=torch.float32),
                labels=torch.arange(n) % 3)
            out.append(res)
        return out

    return predict


def all_finite(losses):
    for key, value in losses.items():
        values = value if isinstance(value, list) else [value]
        for v in values:
            assert torch.isfinite(v).all(), key


def test_warmup_terms(model):
    model.set_phase('warmup')
    torch.manual_seed(1)
    losses = model.loss(*batch())
    all_finite(losses)
    for term in ('mss', 'nst'):
        assert losses[f'{term}_loss_cls'] > 0
        assert losses[f'{term}_loss_rpn_cls'][0] > 0
    # the adaptation terms are logged as zeros, none computed
    for key in ('mtt_loss_cls', 'mst_loss_bbox', 'loss_disc_src',
                'loss_disc_tgt', 'mtt_num_pseudo'):
        assert key in losses
        assert not losses[key].requires_grad and losses[key] == 0


def test_warmup_nst_is_source_plus_a_little_target(model, monkeypatch):
    calls = []
    student_loss = model.student.loss

    def spy(inputs, samples):
        calls.append([(s.metainfo.get('mix_lambda'), s.gt_instances.clone())
                      for s in samples])
        return student_loss(inputs, samples)

    monkeypatch.setattr(model.student, 'loss', spy)
    model.set_phase('warmup')
    torch.manual_seed(4)
    inputs, samples = batch()
    model.loss(inputs, samples)
    assert len(calls) == 2  # mss, nst
    for (lam, gts), src in zip(calls[1], samples['sup']):
        # the source image keeps > 0.9 (lam_target ~ U(0, 0.1)), its boxes
        # only, at weight 1
        assert 0.9 <= lam <= 1.0
        assert len(gts) == len(src.gt_instances)
        assert gts.loss_weights.tolist() == [1.0] * len(gts)
        assert gts.mix_group.tolist() == [0] * len(gts)
        assert gts.labels.tolist() == src.gt_instances.labels.tolist()


def test_adapt_terms_and_discriminator(model, monkeypatch):
    monkeypatch.setattr(model.teacher, 'predict',
                        fake_teacher([[0.95, 0.3], [0.9]]))
    model.set_phase('adapt')
    torch.manual_seed(2)
    losses = model.loss(*batch())
    all_finite(losses)
    assert losses['mtt_num_pseudo'].item() == pytest.approx(1.0)  # 2 / 2
    for term in ('mss', 'mtt', 'mst'):
        assert losses[f'{term}_loss_cls'].requires_grad
        assert losses[f'{term}_loss_cls'] > 0
    assert losses[
        'nst_loss_cls'] == 0 and not losses['nst_loss_cls'].requires_grad
    # discriminator classifier initialised with std 0.01: logits ~ 0, so
    # each domain's BCE is about log 2 (within 5 %), times the weight 0.1
    for key in ('loss_disc_src', 'loss_disc_tgt'):
        assert losses[key].item() == pytest.approx(0.1 * math.log(2), rel=0.05)
    # the discriminator is trained by the total loss, the teacher is not
    model.zero_grad()
    total = sum(v.sum() if not isinstance(v, list) else sum(x.sum() for x in v)
                for k, v in losses.items() if 'loss' in k)
    total.backward()
    assert all(p.grad is not None for p in model.discriminator.parameters())
    assert all(p.grad is None for p in model.teacher.parameters())
    model.zero_grad()


def test_empty_pseudo_labels_train_as_background(model, monkeypatch):
    """A target batch without any pseudo-box is Eq. 14 with y = {}: the
    background loss (objectness and classification), no regression."""
    # scores at or below 0.8 are all dropped: no pseudo-box in the batch
    monkeypatch.setattr(model.teacher, 'predict', fake_teacher([[0.8, 0.5],
                                                                []]))
    model.set_phase('adapt')
    torch.manual_seed(3)
    losses = model.loss(*batch())
    all_finite(losses)
    assert losses['mtt_num_pseudo'] == 0
    assert losses['mtt_loss_cls'].requires_grad
    assert losses['mtt_loss_cls'] > 0
    # objectness of the sampled negative anchors (some levels may have none)
    rpn_cls = sum(losses['mtt_loss_rpn_cls'])
    assert rpn_cls.requires_grad and rpn_cls > 0
    assert losses['mtt_loss_bbox'] == 0
    assert all(v == 0 for v in losses['mtt_loss_rpn_bbox'])
    # the discriminator still sees the target features
    assert losses['loss_disc_tgt'] > 0
    assert losses['mst_loss_cls'] > 0  # the source boxes remain


def spy_student(model, monkeypatch):
    """Record (mix_lambda, gt_instances) of every student.loss call."""
    calls = []
    student_loss = model.student.loss

    def spy(inputs, samples):
        calls.append([(s.metainfo.get('mix_lambda'), s.gt_instances.clone())
                      for s in samples])
        return student_loss(inputs, samples)

    monkeypatch.setattr(model.student, 'loss', spy)
    return calls


def test_pseudo_boxes_train_no_regression(model, monkeypatch):
    """mtt: every box is a pseudo-box, so both regression losses are exactly
    0 while classification trains; mst: the pseudo-boxes carry reg weight 0,
    the source boxes 1."""
    monkeypatch.setattr(model.teacher, 'predict',
                        fake_teacher([[0.95, 0.9], [0.99]]))
    calls = spy_student(model, monkeypatch)
    model.set_phase('adapt')
    torch.manual_seed(5)
    losses = model.loss(*batch())
    assert losses['mtt_num_pseudo'] == pytest.approx(1.5)
    assert losses['mtt_loss_cls'] > 0
    assert losses['mtt_loss_bbox'] == 0
    assert all(v == 0 for v in losses['mtt_loss_rpn_bbox'])
    assert losses['mst_loss_bbox'] > 0  # the source boxes regress
    mss, mtt, mst = calls
    for _, gts in mtt:
        assert gts.reg_weights.tolist() == [0.0] * len(gts)
    for _, gts in mst:
        expect = [1.0 if g == 0 else 0.0 for g in gts.mix_group.tolist()]
        assert gts.reg_weights.tolist() == expect
        assert 0 in gts.mix_group.tolist() and 1 in gts.mix_group.tolist()


def test_pseudo_box_reg_option(monkeypatch):
    torch.manual_seed(0)
    model = MODELS.build(model_cfg(semi_train_cfg=dict(pseudo_box_reg=True)))
    monkeypatch.setattr(model.teacher, 'predict',
                        fake_teacher([[0.95, 0.9], [0.99]]))
    inputs, samples = batch()
    out = model.pseudo_label(inputs['unsup_teacher'], samples['unsup_teacher'],
                             samples['unsup_student'])
    assert set(out[0].gt_instances.keys()) == {'bboxes', 'labels'}
    model.set_phase('adapt')
    torch.manual_seed(5)
    losses = model.loss(inputs, samples)
    assert losses['mtt_loss_bbox'] > 0


def test_source_strong_view_is_trained_and_mixed_within_its_view(
        model, monkeypatch):
    calls = spy_student(model, monkeypatch)
    inputs, samples = batch()
    g = torch.Generator().manual_seed(7)
    inputs['sup_strong'] = torch.randn(2, 3, SIZE, SIZE, generator=g)
    samples['sup_strong'] = copy.deepcopy(samples['sup'])
    model.set_phase('warmup')
    torch.manual_seed(6)
    model.loss(inputs, samples)
    mss = calls[0]
    assert len(mss) == 4  # weak and strong views of both source images
    own_labels = [[0], [1, 2], [0], [1, 2]]
    for b, (lam, gts) in enumerate(mss):
        assert 0 < lam < 1  # every image mixed (a derangement of 2: swap)
        groups = gts.mix_group
        assert gts.labels[groups == 0].tolist() == own_labels[b]
        # the partner is the other image of the same view, never the own
        # image's other view
        assert gts.labels[groups == 1].tolist() == own_labels[b ^ 1]


def test_nst_throughout_noise_baseline(monkeypatch):
    """Table 4's Noise baseline: the AT-style teacher (no mixing, no mst)
    plus noise mixing of the target into the source in both phases."""
    torch.manual_seed(0)
    model = MODELS.build(
        model_cfg(
            mixer=None,
            semi_train_cfg=dict(
                loss_weights=dict(mst=0.0), nst_phases=('warmup', 'adapt'))))
    monkeypatch.setattr(model.teacher, 'predict', fake_teacher([[0.9], [0.9]]))
    calls = spy_student(model, monkeypatch)
    model.set_phase('adapt')
    torch.manual_seed(2)
    losses = model.loss(*batch())
    assert losses['nst_loss_cls'].requires_grad and losses['nst_loss_cls'] > 0
    assert not any(k.startswith('mst') for k in losses)
    mss, nst, mtt = calls
    assert all(lam is None or lam == 1.0 for lam, _ in mss + mtt)  # unmixed
    for lam, gts in nst:
        assert 0.9 <= lam < 1.0
        assert gts.mix_group.tolist() == [0] * len(gts)


@pytest.mark.parametrize('disc_input', ['weak', 'mixed'])
def test_discriminator_input(disc_input, monkeypatch):
    """'weak': one extra forward of the weak source + weak target views
    (4 images); 'mixed': the mss / mtt forwards' features, none extra."""
    torch.manual_seed(0)
    model = MODELS.build(model_cfg(semi_train_cfg=dict(disc_input=disc_input)))
    monkeypatch.setattr(model.teacher, 'predict', fake_teacher([[0.9], [0.9]]))
    sizes = []
    extract = model.student.extract_feat

    def spy(x):
        sizes.append(x.size(0))
        return extract(x)

    monkeypatch.setattr(model.student, 'extract_feat', spy)
    inputs, samples = batch()
    seen = []
    disc_loss = model.discriminator.loss

    def disc_spy(feat, domain):
        seen.append(feat.detach().clone())
        return disc_loss(feat, domain)

    monkeypatch.setattr(model.discriminator, 'loss', disc_spy)
    model.set_phase('adapt')
    torch.manual_seed(2)
    model.loss(inputs, samples)
    if disc_input == 'weak':
        assert sizes == [2, 2, 2, 4]  # mss, mtt, mst, weak views
        # the discriminator saw the weak, unmixed views: the same forward
        # (train mode, same batch) gives the same features
        with torch.no_grad():
            ref = model._features(
                torch.cat([inputs['sup'], inputs['unsup_teacher']]))
        torch.testing.assert_close(seen[0], ref[:2])
        torch.testing.assert_close(seen[1], ref[2:])
    else:
        assert sizes == [2, 2, 2]


def test_pseudo_labels_are_filtered_and_projected(model, monkeypatch):
    monkeypatch.setattr(model.teacher, 'predict',
                        fake_teacher([[0.9, 0.81, 0.8, 0.2], [0.5]]))
    inputs, samples = batch()
    # the strong view of image 0 is the weak one scaled by 2
    scale = np.diag([2.0, 2.0, 1.0]).astype(np.float32)
    strong = [sample(homography=scale, shape=(2 * SIZE, 2 * SIZE)), sample()]
    out = model.pseudo_label(inputs['unsup_teacher'], samples['unsup_teacher'],
                             strong)
    assert set(
        out[0].gt_instances.keys()) == {'bboxes', 'labels', 'reg_weights'}
    assert out[0].gt_instances.reg_weights.tolist() == [0.0, 0.0]
    # kept: scores strictly above 0.8
    torch.testing.assert_close(
        out[0].gt_instances.bboxes,
        torch.tensor([[16.0, 16.0, 80.0, 80.0], [18.0, 16.0, 82.0, 80.0]]))
    assert out[0].gt_instances.labels.tolist() == [0, 1]
    assert len(out[1].gt_instances) == 0
    assert len(strong[0].gt_instances) == 0  # the inputs are not changed


def test_mix_across_by_hand():
    src = torch.full((1, 1, 4, 6), 2.0)
    tgt = torch.full((2, 1, 8, 4), 10.0)
    src_s = [sample([[0, 0, 2, 2]], [1], shape=(4, 6))]
    tgt_s = [
        sample([[1, 1, 3, 3]], [2], shape=(8, 4)),
        sample([[0, 0, 1, 1]], [0], shape=(6, 4))
    ]
    x, out = mix_across(
        src,
        copy.deepcopy(src_s),
        tgt,
        copy.deepcopy(tgt_s),
        torch.tensor([0.75]),
        'lossmix',
        partner_inds=torch.tensor([0]))
    assert x.shape == (1, 1, 8, 6)
    # canvas 8 x 6: the source at rows 2-5, the target at columns 1-4
    expected = torch.zeros(8, 6)
    expected[2:6, :] += 0.75 * 2.0
    expected[:, 1:5] += 0.25 * 10.0
    torch.testing.assert_close(x[0, 0], expected)
    gts = out[0].gt_instances
    torch.testing.assert_close(
        gts.bboxes, torch.tensor([[0.0, 2.0, 2.0, 4.0], [2.0, 1.0, 4.0, 3.0]]))
    assert gts.labels.tolist() == [1, 2]
    torch.testing.assert_close(gts.loss_weights, torch.tensor([0.75, 0.25]))
    assert gts.mix_group.tolist() == [0, 1]
    assert out[0].batch_input_shape == (8, 6)
    assert out[0].img_shape == (8, 6)
    # noise: the target's boxes are dropped, the source keeps weight 1
    _, out = mix_across(
        src,
        copy.deepcopy(src_s),
        tgt,
        copy.deepcopy(tgt_s),
        torch.tensor([0.95]),
        'noise',
        partner_inds=torch.tensor([1]))
    assert out[0].gt_instances.loss_weights.tolist() == [1.0]
    with pytest.raises(ValueError, match='empty second batch'):
        mix_across(src, src_s, tgt[:0], [], torch.tensor([0.5]), 'lossmix')


def test_fixed_mst_lambda_and_no_mixer(monkeypatch):
    torch.manual_seed(0)
    model = MODELS.build(model_cfg(semi_train_cfg=dict(mst_lambda=0.5)))
    seen = []
    student_loss = model.student.loss

    def spy(inputs, samples):
        seen.append([s.metainfo.get('mix_lambda') for s in samples])
        return student_loss(inputs, samples)

    monkeypatch.setattr(model.student, 'loss', spy)
    monkeypatch.setattr(model.teacher, 'predict', fake_teacher([[0.9], [0.9]]))
    model.set_phase('adapt')
    model.loss(*batch())
    assert seen[-1] == [0.5, 0.5]  # mss, mtt, then mst

    # without a mixer (the Adaptive-Teacher-style baseline): plain batches
    nomix = MODELS.build(
        model_cfg(
            mixer=None,
            semi_train_cfg=dict(loss_weights=dict(nst=0.0, mst=0.0))))
    nomix.set_phase('warmup')
    losses = nomix.loss(*batch())
    assert not any(k.startswith(('nst', 'mst')) for k in losses)
    assert losses['mss_loss_cls'] > 0


@pytest.mark.parametrize('changes, match', [
    (dict(mixer=None), 'mst term'),
    (dict(semi_train_cfg=dict(loss_weights=dict(msst=1.0))), 'msst'),
    (dict(semi_train_cfg=dict(loss_weights=dict(mtt=-1.0))), 'mtt'),
    (dict(semi_train_cfg=dict(loss_weights=dict(mtt=float('nan')))),
     'semi_train_cfg.loss_weights.mtt must be a finite number >= 0, got '
     'nan'),
    (dict(semi_train_cfg=dict(loss_weights=dict(mst=-0.5))),
     r'semi_train_cfg.loss_weights.mst must be a finite number >= 0, got '
     r'-0\.5'),
    (dict(semi_train_cfg=dict(loss_weights=dict(nst=True))),
     'loss_weights.nst .* got True'),
    (dict(semi_train_cfg=dict(nst_noise_range=(0.0, 1.0))), 'nst_noise_range'),
    (dict(semi_train_cfg=dict(mst_lambda=1.0)), 'mst_lambda'),
    (dict(semi_train_cfg=dict(disc_feature='rpn')), 'disc_feature'),
    (dict(semi_train_cfg=dict(disc_input='strong')), "'weak', 'mixed'"),
    (dict(semi_train_cfg=dict(nst_phases=('burn-in', ))), 'nst_phases'),
    (dict(semi_train_cfg=dict(nst_phases='adapt')), 'nst_phases'),
    (dict(semi_train_cfg=dict(pseudo_quality_thrs=(0.5, 1.5))),
     r'pseudo_quality_thrs must be a tuple of score thresholds in \[0, 1\], '
     r'got \(0\.5, 1\.5\)'),
    (dict(semi_train_cfg=dict(pseudo_quality_thrs='0.8')),
     'pseudo_quality_thrs'),
])
def test_bad_arguments(changes, match):
    with pytest.raises(ValueError, match=match):
        MODELS.build(model_cfg(**changes))


def test_bad_phase(model):
    with pytest.raises(ValueError, match="'warmup', 'adapt'"):
        model.set_phase('burn-in')


def test_zero_loss_dict():
    losses = dict(
        a=torch.tensor(2.0, requires_grad=True),
        b=[torch.ones(2), torch.tensor(3.0)],
        acc=5.0)
    out = zero_loss_dict(losses)
    assert out['a'] == 0 and not out['a'].requires_grad
    assert [v.tolist() for v in out['b']] == [[0.0, 0.0], 0.0]
    assert out['acc'] == 5.0


def with_target_truth(samples, scale=1.0):
    """``samples`` whose target views carry ground truth: one object of
    class 0 at [8, 8, 40, 40] of the original image in each, the weak view
    being the original scaled by ``scale``."""
    homography = np.diag([scale, scale, 1.0]).astype(np.float32)
    box = [[8 * scale, 8 * scale, 40 * scale, 40 * scale]]
    samples = dict(samples)
    for key in ('unsup_teacher', 'unsup_student'):
        samples[key] = [
            sample(box, [0], homography=homography) for _ in range(2)
        ]
    return samples


@pytest.mark.parametrize('scale', [1.0, 2.0])
def test_pseudo_label_quality_is_logged_against_the_target_truth(
        scale, monkeypatch):
    torch.manual_seed(0)
    model = MODELS.build(
        model_cfg(semi_train_cfg=dict(pseudo_quality_thrs=(0.3, 0.8))))
    # image 0: [8, 8, 40, 40] class 0 (0.9, a hit), [9, 8, 41, 40] class 1
    # (0.81), class 2 (0.8), class 0 (0.2); image 1: class 0 (0.5, a hit);
    # the teacher's boxes are in the original frame after its projection
    monkeypatch.setattr(model.teacher, 'predict',
                        fake_teacher([[0.9, 0.81, 0.8, 0.2], [0.5]]))
    monkeypatch.setattr(
        model, 'get_pseudo_instances', lambda inputs, samples:
        (_predicted(model, inputs, samples), {}))
    model.set_phase('adapt')
    inputs, samples = batch()
    losses = model.loss(inputs, with_target_truth(samples, scale))
    # above 0.8: 2 boxes of image 0, one hit of 2 objects
    assert losses['pseudo_per_img@0.8'].item() == 1.0
    assert losses['pseudo_precision@0.8'].item() == 0.5
    assert losses['pseudo_recall@0.8'].item() == 0.5
    # above 0.3: 3 boxes of image 0 and 1 of image 1, both objects found
    assert losses['pseudo_per_img@0.3'].item() == 2.0
    assert losses['pseudo_precision@0.3'].item() == 0.5
    assert losses['pseudo_recall@0.3'].item() == 1.0


def _predicted(model, inputs, samples):
    """``get_pseudo_instances`` with an identity homography for the
    predictions (fake_teacher's boxes are already in the original frame)."""
    results = model.teacher.predict(inputs, samples)
    for s, r in zip(samples, results):
        s.gt_instances = r.pred_instances
    return samples


def test_pseudo_label_quality_needs_truth_and_thresholds(monkeypatch):
    torch.manual_seed(0)
    no_thrs = MODELS.build(
        model_cfg(semi_train_cfg=dict(pseudo_quality_thrs=())))
    for model, truth in ((no_thrs, True), (no_thrs, False), (None, False)):
        if model is None:  # the toy config's thresholds, no truth at all
            model = MODELS.build(model_cfg())
            assert model.semi_train_cfg['pseudo_quality_thrs']
        monkeypatch.setattr(model.teacher, 'predict', fake_teacher([[0.9],
                                                                    []]))
        model.set_phase('adapt')
        inputs, samples = batch()
        if truth:
            samples = with_target_truth(samples)
        else:  # samples of an unlabelled pipeline without boxes
            for s in samples['unsup_teacher']:
                s.gt_instances = InstanceData()
        losses = model.loss(inputs, samples)
        assert not [k for k in losses if k.startswith('pseudo_')]


def test_target_truth_never_reaches_the_losses(monkeypatch):
    """Every loss is the same with and without ground truth on the target
    views (only the diagnostics read it)."""
    torch.manual_seed(0)
    model = MODELS.build(
        model_cfg(semi_train_cfg=dict(pseudo_quality_thrs=(0.5, ))))
    monkeypatch.setattr(model.teacher, 'predict',
                        fake_teacher([[0.95, 0.3], [0.9]]))
    runs = []
    for phase in ('warmup', 'adapt'):
        model.set_phase(phase)
        for truth in (False, True):
            inputs, samples = batch()
            if truth:
                samples = with_target_truth(samples)
                samples['unsup_student'][0].ignored_instances = \
                    samples['unsup_student'][0].gt_instances.clone()
            torch.manual_seed(5)
            runs.append(model.loss(inputs, samples))
    for plain, with_truth in (runs[:2], runs[2:]):
        keys = [k for k in with_truth if not k.startswith('pseudo_')]
        assert keys == [k for k in plain if not k.startswith('pseudo_')]
        for key in keys:
            a, b = plain[key], with_truth[key]
            a, b = (a, b) if isinstance(a, list) else ([a], [b])
            for x, y in zip(a, b):
                torch.testing.assert_close(x, y, rtol=0, atol=0)
    # pseudo-labelled views drop the target's own ignored instances too
    inputs, samples = batch()
    samples = with_target_truth(samples)
    samples['unsup_student'][0].ignored_instances = \
        samples['unsup_student'][0].gt_instances.clone()
    out = model.pseudo_label(inputs['unsup_teacher'], samples['unsup_teacher'],
                             samples['unsup_student'])
    assert 'ignored_instances' not in out[0]
    # measured in the adapt phase (against no object at all without truth)
    assert runs[3]['pseudo_recall@0.5'].item() == 1.0
    assert 'pseudo_recall@0.5' not in runs[2]


PROBE = dict(
    type='ImageDomainDiscriminator',
    in_channels=64,
    feat_channels=16,
    loss_weight=1.0)


def test_domain_accuracy_by_hand():

    def constant(value):
        return lambda feat: feat.new_full((len(feat), 1, 2, 2), value)

    src, tgt = torch.zeros(2, 3, 2, 2), torch.zeros(1, 3, 2, 2)
    # a classifier saying "target" everywhere is right on the 4 target
    # locations of 12
    accuracy = [
        domain_accuracy(constant(v), src, tgt).item() for v in (1, -1, 0)
    ]
    # a logit of 0 counts as source
    assert accuracy == pytest.approx([4 / 12, 8 / 12, 8 / 12])

    def perfect(feat):
        return feat[:, :1] * 2 - 1  # channel 0 holds the domain

    tgt[:, 0] = 1
    assert domain_accuracy(perfect, src, tgt).item() == 1.0


def test_domain_probe_learns_from_detached_features_only(monkeypatch):
    torch.manual_seed(0)
    plain = MODELS.build(model_cfg())
    probed = MODELS.build(model_cfg(domain_probe=PROBE))
    # the same detector and discriminator weights in both
    missing, unexpected = probed.load_state_dict(
        plain.state_dict(), strict=False)
    assert not unexpected and all(
        k.startswith('domain_probe.') for k in missing)
    runs = []
    for model in (plain, probed):
        monkeypatch.setattr(model.teacher, 'predict',
                            fake_teacher([[0.95, 0.3], [0.9]]))
        model.set_phase('adapt')
        torch.manual_seed(4)
        runs.append(model.loss(*batch()))
    # every other loss is the same with the probe
    for key, value in runs[0].items():
        values = value if isinstance(value, list) else [value]
        other = runs[1][key] if isinstance(value, list) else [runs[1][key]]
        for x, y in zip(values, other):
            torch.testing.assert_close(x, y, rtol=0, atol=0)
    losses = runs[1]
    assert set(losses) - set(runs[0]) == {
        'loss_probe_src', 'loss_probe_tgt', 'probe_acc', 'disc_acc'
    }
    for key in ('probe_acc', 'disc_acc'):
        assert 0.0 <= losses[key].item() <= 1.0
    # its losses train the probe and nothing else
    probed.zero_grad()
    (losses['loss_probe_src'] + losses['loss_probe_tgt']).backward()
    assert all(p.grad is not None for p in probed.domain_probe.parameters())
    for module in (probed.student, probed.discriminator):
        assert all(p.grad is None for p in module.parameters())
    probed.zero_grad()
