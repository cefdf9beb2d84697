import copy
from functools import lru_cache

import pytest
import torch
from mmdet.models.dense_heads import YOLOXHead
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmengine.hub import get_config

from lossmix_test_utils import make_gts
from one_stage_head_utils import assert_same_losses

TYPE = 'LossMixYOLOXHead'
SIZE = 32
META = dict(img_shape=(SIZE, SIZE), pad_shape=(SIZE, SIZE), scale_factor=1)
# two boxes of different labels and places: a positive's box target names
# its gt
BOXES = [[2, 2, 18, 18], [14, 10, 30, 30]]
LABELS = [0, 1]
LABEL_ERROR = (r"gt label {} of image 'bad\.jpg' is out of range: labels "
               r'must be in \[0, 3\) for a head of num_classes=3')
GROUP_ERROR = (r"mix_group of image 'bad\.jpg' must be 0 \(own image\) or 1 "
               r'\(partner\), got 2')


@lru_cache(maxsize=None)
def _model_cfg():
    return get_config('mmdet::yolox/yolox_s_8xb8-300e_coco.py').model


def build_pair(use_l1=False, **kwargs):
    """mmdet's YOLOX-S head (3 classes, 8 channels, one conv) and the
    LossMix one with the same parameters, in eval mode (BN statistics
    fixed)."""
    model = copy.deepcopy(_model_cfg())
    cfg = model.bbox_head
    cfg.update(
        num_classes=3,
        in_channels=8,
        feat_channels=8,
        stacked_convs=1,
        train_cfg=model.train_cfg,
        test_cfg=model.test_cfg)
    torch.manual_seed(0)
    stock = MODELS.build(cfg)
    ours = MODELS.build(dict(cfg, type=TYPE, **kwargs))
    ours.load_state_dict(stock.state_dict())
    stock.use_l1 = ours.use_l1 = use_l1
    return stock.eval(), ours.eval()


def outs(head, num_imgs=1):
    """The head's outputs on seeded (B, 8, 32 / s, 32 / s) features."""
    g = torch.Generator().manual_seed(0)
    return head(
        tuple(
            torch.randn(num_imgs, 8, SIZE // s, SIZE // s, generator=g)
            for s in (8, 16, 32)))


def gts(weights=None, reg_weights=None, boxes=BOXES, labels=LABELS):
    gt = make_gts(boxes, labels, weights)
    if reg_weights is not None:
        gt.reg_weights = torch.tensor(reg_weights, dtype=torch.float32)
    return gt


def raw_losses(head, gts_list, metas=None):
    metas = [META] * len(gts_list) if metas is None else metas
    return head.loss_by_feat(*outs(head, len(gts_list)), gts_list, metas)


def losses(head, gts_list, metas=None):
    return {k: v.item() for k, v in raw_losses(head, gts_list, metas).items()}


def per_sample_losses(stock):
    """The stock head's own targets and its loss modules with reduction
    'none' on the two gts of one image, before normalisation.

    Returns:
        tuple: (P, ) gt of each positive (read off its box target), dict of
        each positive's cls, bbox, l1 and objectness losses, the
        negatives' objectness loss summed, and the stock normaliser.
    """
    cls_scores, bbox_preds, objectnesses = outs(stock)
    priors = torch.cat(
        stock.prior_generator.grid_priors([s.shape[2:] for s in cls_scores],
                                          device=cls_scores[0].device,
                                          with_stride=True))
    cls = torch.cat([s.permute(0, 2, 3, 1).reshape(-1, 3) for s in cls_scores])
    raw = torch.cat([b.permute(0, 2, 3, 1).reshape(-1, 4) for b in bbox_preds])
    obj = torch.cat([o.permute(0, 2, 3, 1).reshape(-1) for o in objectnesses])
    boxes = stock._bbox_decode(priors, raw[None])[0]
    pos, cls_t, obj_t, box_t, l1_t, num_pos = YOLOXHead._get_targets_single(
        stock, priors, cls.detach(), boxes.detach(), obj.detach(), gts(), META)
    gt_of = (box_t[:, None] == torch.tensor(BOXES)[None]).all(-1).float()
    assert (gt_of.sum(1) == 1).all()
    obj_all = stock.loss_obj(obj[:, None], obj_t, reduction_override='none')
    terms = dict(
        loss_cls=stock.loss_cls(cls[pos], cls_t,
                                reduction_override='none').sum(1),
        loss_bbox=stock.loss_bbox(
            boxes[pos], box_t, reduction_override='none'),
        loss_l1=stock.loss_l1(raw[pos], l1_t,
                              reduction_override='none').sum(1),
        loss_obj=obj_all[pos, 0])
    return gt_of.argmax(1), terms, obj_all[~pos].sum(), max(num_pos, 1)


@pytest.mark.parametrize('use_l1', [False, True])
@pytest.mark.parametrize('weights', ['absent', 'ones'])
def test_equals_stock_yolox_head(use_l1, weights):
    """Two images, the first weighted (all ones) or not: bit-equal."""
    stock, ours = build_pair(use_l1)
    second = gts(boxes=BOXES[1:], labels=LABELS[1:])
    ref = raw_losses(stock, [gts(), second])
    first = gts() if weights == 'absent' else gts([1.0, 1.0], [1.0, 1.0])
    assert_same_losses(raw_losses(ours, [first, second]), ref)
    assert ref['loss_bbox'].item() > 0
    assert ('loss_l1' in ref) == use_l1


def test_empty_gts_equal_stock():
    stock, ours = build_pair(True)
    empty = dict(boxes=[], labels=[])
    ref = raw_losses(stock, [gts(**empty)])
    assert_same_losses(raw_losses(ours, [gts([], **empty)]), ref)
    assert ref['loss_cls'].item() == ref['loss_bbox'].item() == 0
    assert ref['loss_obj'].item() > 0


def test_weights_hand_derived():
    """Every positive term times its gt's weight, negatives' objectness
    times 1, the stock normaliser; the pieces sum to the stock loss."""
    stock, ours = build_pair(True)
    gt_of, terms, obj_neg, norm = per_sample_losses(stock)
    assert set(gt_of.tolist()) == {0, 1}  # both gts have positives
    ref = losses(stock, [gts()])
    w = torch.tensor([0.3, 0.8])
    got = losses(ours, [gts(w.tolist())])
    for key, term in terms.items():
        neg = obj_neg if key == 'loss_obj' else 0
        assert ref[key] == pytest.approx(
            (term.sum() + neg).item() / norm, rel=1e-5)
        want = ((term * w[gt_of]).sum() + neg).item() / norm
        assert got[key] == pytest.approx(want, rel=1e-5)
        assert got[key] < ref[key]


def test_reg_weights_remove_box_terms_only():
    """reg_weights 0 drops a gt's IoU and L1 terms; its classification and
    objectness terms stay."""
    stock, ours = build_pair(True)
    gt_of, terms, _, norm = per_sample_losses(stock)
    ref = losses(stock, [gts()])
    got = losses(ours, [gts(reg_weights=[0.0, 1.0])])
    assert got['loss_cls'] == ref['loss_cls']
    assert got['loss_obj'] == ref['loss_obj']
    for key in ('loss_bbox', 'loss_l1'):
        want = terms[key][gt_of == 1].sum().item() / norm
        assert 0 < got[key] < ref[key]
        assert got[key] == pytest.approx(want, rel=1e-5)
    got = losses(ours, [gts([0.5, 0.5], reg_weights=[0.0, 0.0])])
    assert got['loss_bbox'] == got['loss_l1'] == 0
    assert got['loss_cls'] == pytest.approx(0.5 * ref['loss_cls'], rel=1e-6)


def test_mix_cls_and_mix_reg_switches():
    stock, _ = build_pair(True)
    ref = losses(stock, [gts()])
    _, no_cls = build_pair(True, mix_cls=False)
    got = losses(no_cls, [gts([0.4, 0.4])])
    assert got['loss_cls'] == ref['loss_cls']
    assert got['loss_bbox'] == pytest.approx(0.4 * ref['loss_bbox'], rel=1e-6)
    _, no_reg = build_pair(True, mix_reg=False)
    got = losses(no_reg, [gts([0.4, 0.4])])
    assert got['loss_cls'] == pytest.approx(0.4 * ref['loss_cls'], rel=1e-6)
    for key in ('loss_bbox', 'loss_l1', 'loss_obj'):
        assert got[key] == ref[key]


@pytest.mark.parametrize('use_l1', [False, True])
def test_exact_mode_is_eq14(use_l1):
    """lam * stock(y_i) + (1 - lam) * stock(y_j), each a SimOTA assignment
    of its own label set."""
    lam = 0.3
    stock, exact = build_pair(use_l1, exact=True)
    own = losses(stock, [gts(boxes=BOXES[:1], labels=LABELS[:1])])
    partner = losses(stock, [gts(boxes=BOXES[1:], labels=LABELS[1:])])
    mixed = gts([lam, 1 - lam])
    mixed.mix_group = torch.tensor([0, 1])
    got = losses(exact, [mixed], [dict(META, mix_lambda=lam)])
    assert got.keys() == own.keys()
    for key in got:
        assert got[key] == pytest.approx(
            lam * own[key] + (1 - lam) * partner[key], rel=1e-5)
    assert got != losses(stock, [gts()])


@pytest.mark.parametrize('bad', [3, -1])
@pytest.mark.parametrize('exact', [False, True])
def test_bad_label_raises(bad, exact):
    """Weights absent or present: the image, the label and num_classes
    are named before SimOTA's one-hot fails."""
    _, head = build_pair(exact=exact)
    meta = dict(META, img_path='bad.jpg', mix_lambda=0.4)
    for weights in (None, [0.4, 0.6]):
        gt = gts(weights, labels=[0, bad])
        gt.mix_group = torch.tensor([0, 1])
        with pytest.raises(ValueError, match=LABEL_ERROR.format(bad)):
            raw_losses(head, [gt], [meta])


def test_loss_from_data_samples_backpropagates():
    """``loss`` on packed samples (the detector's path), in train mode, a
    weighted and an unweighted image: every branch gets a gradient."""
    _, head = build_pair(True)
    head.train()
    samples = [DetDataSample(metainfo=META) for _ in range(2)]
    samples[0].gt_instances = gts([0.3, 0.7])
    samples[1].gt_instances = gts(boxes=BOXES[1:], labels=LABELS[1:])
    g = torch.Generator().manual_seed(1)
    feats = tuple(
        torch.randn(2, 8, SIZE // s, SIZE // s, generator=g)
        for s in (8, 16, 32))
    loss = sum(head.loss(feats, samples).values())
    loss.backward()
    assert torch.isfinite(loss)
    for branch in ('cls', 'reg', 'obj'):
        conv = getattr(head, f'multi_level_conv_{branch}')[0]
        assert conv.weight.grad.abs().sum() > 0


def test_exact_bad_mix_group_raises():
    _, head = build_pair(exact=True)
    gt = gts([0.4, 0.6])
    gt.mix_group = torch.tensor([0, 2])
    meta = dict(META, img_path='bad.jpg', mix_lambda=0.4)
    with pytest.raises(ValueError, match=GROUP_ERROR):
        raw_losses(head, [gt], [meta])
