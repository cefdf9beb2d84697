"""LossMix DETR-family heads: matched, encoder and denoising queries."""
import copy
from functools import lru_cache

import pytest
import torch
import torch.nn.functional as F
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import bbox_xyxy_to_cxcywh
from mmengine.hub import get_config

from lossmix_test_utils import make_gts

CONFIGS = dict(
    detr=('detr/detr_r50_8xb2-150e_coco.py', 'DETRHead', 'LossMixDETRHead'),
    deformable=('deformable_detr/deformable-detr_r50_16xb2-50e_coco.py',
                'DeformableDETRHead', 'LossMixDeformableDETRHead'),
    dino=('dino/dino-4scale_r50_8xb2-12e_coco.py', 'DINOHead',
          'LossMixDINOHead'),
)
KINDS = list(CONFIGS)
D, Q, L, C, K = 16, 6, 3, 3, 12  # dims, queries, layers, classes, enc points
SHAPES = [(64, 64), (48, 64)]
BOXES = [[4, 4, 30, 36], [30, 10, 60, 44]]


@lru_cache(maxsize=None)
def _stock_model(kind):
    return get_config('mmdet::' + CONFIGS[kind][0]).model


def build(kind, stock=False, **kwargs):
    """The stock (or LossMix) head of ``kind``'s mmdet config, tiny; the
    Deformable / DINO heads two-stage, with ``L`` decoder layers."""
    model = copy.deepcopy(_stock_model(kind))
    cfg = model.bbox_head
    cfg.update(
        type=CONFIGS[kind][1 if stock else 2],
        num_classes=C,
        embed_dims=D,
        train_cfg=model.train_cfg,
        test_cfg=model.test_cfg,
        **kwargs)
    if kind != 'detr':
        cfg.update(
            num_pred_layer=L + 1, as_two_stage=True, share_pred_layer=False)
    torch.manual_seed(0)
    return MODELS.build(cfg)


def samples(batch_gts, meta=None):
    out = []
    for gts, shape in zip(batch_gts, SHAPES):
        sample = DetDataSample(metainfo=dict(meta or {}, img_shape=shape))
        sample.gt_instances = gts
        out.append(sample)
    return out


def dn_meta(batch_gts, groups=2):
    most = max(len(gts) for gts in batch_gts)
    groups = groups if most else 1
    return dict(
        num_denoising_queries=2 * most * groups, num_denoising_groups=groups)


def loss(kind, head, batch_gts, seed=1, meta=None):
    """``head.loss`` on seeded random decoder states (forward included);
    ``meta``: metainfo of every image besides its shape."""
    g = torch.Generator().manual_seed(seed)
    bs = len(batch_gts)
    if kind == 'detr':
        out = head.loss(
            torch.randn(L, bs, Q, D, generator=g), samples(batch_gts, meta))
    else:
        extra = (dn_meta(batch_gts), ) if kind == 'dino' else ()
        total = Q + (extra[0]['num_denoising_queries'] if extra else 0)
        hidden = torch.randn(L, bs, total, D, generator=g)
        refs = [
            torch.rand(bs, total, 4, generator=g) * 0.6 + 0.2
            for _ in range(L + 1)
        ]
        enc_cls = torch.randn(bs, K, C, generator=g)
        enc_coord = torch.rand(bs, K, 4, generator=g) * 0.6 + 0.2
        out = head.loss(hidden, refs, enc_cls, enc_coord,
                        samples(batch_gts, meta), *extra)
    return {k: v.detach() for k, v in out.items()}


def batch(weights=None, reg=None):
    """Two images: both boxes, then the second box alone."""
    w = weights or [None, None]
    gts = [make_gts(BOXES, [0, 2], w[0]), make_gts(BOXES[1:], [1], w[1])]
    if reg is not None:
        for g, r in zip(gts, reg):
            g.reg_weights = torch.tensor(r)
    return gts


def is_box(key):
    return 'loss_bbox' in key or 'loss_iou' in key


# ------------------------------------------------------ stock equality
@pytest.mark.parametrize('kind', KINDS)
def test_equals_stock_head_exactly(kind):
    stock, ours = build(kind, stock=True), build(kind)
    ours.load_state_dict(stock.state_dict())
    assert ours.reads_loss_weights and not hasattr(stock, 'reads_loss_weights')
    ref = loss(kind, stock, batch())
    expected = {'loss_cls', 'd0.loss_bbox', 'd1.loss_iou'}
    expected |= {'enc_loss_cls', 'enc_loss_iou'} if kind != 'detr' else set()
    expected |= {'dn_loss_cls', 'd1.dn_loss_bbox'} if kind == 'dino' \
        else set()
    assert expected <= set(ref)
    for gts in (batch(), batch([[1.0, 1.0], [1.0]]),
                batch([[1.0, 1.0], [1.0]], reg=[[1.0, 1.0], [1.0]])):
        got = loss(kind, ours, gts)
        assert got.keys() == ref.keys()
        for key in ref:
            assert torch.equal(got[key], ref[key]), key


@pytest.mark.parametrize('kind', KINDS)
def test_empty_gts_equal_stock(kind):
    stock, ours = build(kind, stock=True), build(kind)
    empty = make_gts([], [])
    ref = loss(kind, stock, [empty])
    got = loss(kind, ours, [make_gts([], [], [])])
    assert got.keys() == ref.keys()
    for key in ref:
        assert torch.equal(got[key], ref[key]), key
        if is_box(key):
            assert ref[key] == 0


# ------------------------------------------------- one gt of weight w
@pytest.mark.parametrize('kind', KINDS)
def test_one_gt_weight_scales_its_losses(kind):
    """One gt of weight w: its matched query's (every layer), encoder
    proposal's and denoising queries' box losses are w x stock; DINO's dn
    classification too (every dn query comes from that gt)."""
    w = 0.3
    head = build(kind)
    ref = loss(kind, head, [make_gts(BOXES[:1], [1])])
    got = loss(kind, head, [make_gts(BOXES[:1], [1], [w])])
    box_keys = [k for k in ref if is_box(k)]
    assert len(box_keys) == 2 * (L + (kind != 'detr') + L * (kind == 'dino'))
    for key in ref:
        if is_box(key) or 'dn_loss_cls' in key:
            assert ref[key] > 0
            assert got[key].item() == pytest.approx(
                w * ref[key].item(), rel=1e-5), key
        else:  # matched / proposal classification: one query of many
            assert 0 < got[key] < ref[key], key
    no_reg = loss(kind, build(kind, mix_reg=False),
                  [make_gts(BOXES[:1], [1], [w])])
    no_cls = loss(kind, build(kind, mix_cls=False),
                  [make_gts(BOXES[:1], [1], [w])])
    for key in ref:
        assert torch.equal((no_cls if is_box(key) else no_reg)[key],
                           got[key]), key
        assert torch.equal((no_reg if is_box(key) else no_cls)[key],
                           ref[key]), key


@pytest.mark.parametrize('kind', KINDS)
def test_box_losses_are_per_gt_shares_in_every_layer(kind):
    """Two gts, matched to other queries in every layer: with
    ``reg_weights`` one-hot a box loss is one gt's share A_k; with loss
    weights (a, b) it is a A_0 + b A_1, normalisers unchanged."""
    head = build(kind)
    stock = loss(kind, head, batch())
    share0 = loss(kind, head, batch(reg=[[1.0, 0.0], [0.0]]))
    share1 = loss(kind, head, batch(reg=[[0.0, 1.0], [1.0]]))
    lw = [[0.2, 0.7], [0.7]]
    mixed = loss(kind, head, batch(lw))
    mixed_reg = loss(kind, head, batch(lw, reg=[[1.0, 0.0], [0.0]]))
    for key in stock:
        if not is_box(key):
            assert torch.equal(share0[key], stock[key]), key  # reg: box only
            assert torch.equal(mixed_reg[key], mixed[key]), key
            continue
        a0, a1, full = share0[key].item(), share1[key].item(), \
            stock[key].item()
        assert a0 > 0 and a1 > 0, key
        assert a0 + a1 == pytest.approx(full, rel=1e-5), key
        assert mixed[key].item() == pytest.approx(
            0.2 * a0 + 0.7 * a1, rel=1e-5), key
        assert mixed_reg[key].item() == pytest.approx(0.2 * a0, rel=1e-5), key


# ------------------------------------------- hand-derived classification
def crafted_outputs(cls_channels, seed=3):
    """L layers x 1 image x Q queries; query 0 predicts gt 0 (label 1)
    closely and confidently, so Hungarian matching picks it in every
    layer; the other queries are small boxes in the corners."""
    g = torch.Generator().manual_seed(seed)
    scores = torch.randn(L, 1, Q, cls_channels, generator=g)
    scores[:, :, 0, 1] += 6
    gt = bbox_xyxy_to_cxcywh(torch.tensor([BOXES[0]]) / 64.)
    boxes = torch.rand(L, 1, Q, 4, generator=g) * 0.1
    boxes[..., :2] += torch.tensor([0.05, 0.85])[torch.arange(Q) % 2, None]
    boxes[:, :, 0] = gt + torch.tensor([0.01, -0.02, 0.03, 0.01])
    return scores, boxes, gt


def focal_terms(scores, labels, alpha=0.25, gamma=2.0):
    """Per-query sigmoid focal loss summed over classes, written out."""
    target = F.one_hot(labels, scores.size(-1) + 1)[:, :-1].float()
    p = scores.sigmoid()
    p_t = p * target + (1 - p) * (1 - target)
    alpha_t = alpha * target + (1 - alpha) * (1 - target)
    return (-alpha_t * (1 - p_t)**gamma * p_t.log()).sum(-1)


@pytest.mark.parametrize('kind', ['detr', 'deformable'])
def test_hand_derived_matched_query_losses(kind):
    """Query 0 matched to the single gt (label 1) of weight w.

    DETR (softmax CE, class weights 1 / bg 0.1, normaliser 1 + 0.1 (Q-1)):
        loss_cls = (w ce_0 + 0.1 sum_{q>0} ce_q(bg)) / (1 + 0.1 (Q - 1))
                 = stock - (1 - w) ce_0 / (1 + 0.1 (Q - 1)).
    Deformable DETR (sigmoid focal, loss_weight 2, normaliser #pos = 1):
        loss_cls = 2 (w f_0 + sum_{q>0} f_q).
    Both: loss_bbox = 5 w |b_0 - t|_1 (normaliser #pos = 1).
    """
    w = 0.4
    head = build(kind)
    scores, boxes, gt = crafted_outputs(head.cls_out_channels)
    labels = torch.full((Q, ), C, dtype=torch.long)
    labels[0] = 1
    extra = (None, None) if kind == 'deformable' else ()
    metas = [dict(img_shape=(64, 64))]

    def run(weights):
        out = head.loss_by_feat(scores, boxes, *extra,
                                [make_gts(BOXES[:1], [1], weights)], metas)
        return {k: v.item() for k, v in out.items()}

    ref, got = run(None), run([w])
    for layer in range(L):
        prefix = '' if layer == L - 1 else f'd{layer}.'
        s = scores[layer, 0]
        if kind == 'detr':
            ce = F.cross_entropy(s, labels, reduction='none')
            avg = 1 + 0.1 * (Q - 1)
            expected = (w * ce[0] + 0.1 * ce[1:].sum()) / avg
            matched_term = ce[0] / avg
        else:
            f = focal_terms(s, labels)
            expected = 2.0 * (w * f[0] + f[1:].sum())
            matched_term = 2.0 * f[0]
        assert got[prefix + 'loss_cls'] == pytest.approx(
            expected.item(), rel=1e-5)
        assert got[prefix + 'loss_cls'] == pytest.approx(
            ref[prefix + 'loss_cls'] - (1 - w) * matched_term.item(), rel=1e-5)
        l1 = 5.0 * w * (boxes[layer, 0, 0] - gt[0]).abs().sum()
        assert got[prefix + 'loss_bbox'] == pytest.approx(l1.item(), rel=1e-5)


# ------------------------------------------------------- DINO denoising
@pytest.mark.parametrize('negatives', [True, False])
def test_dino_dn_queries_take_their_source_gt_weight(negatives):
    """Groups of 2 x 2 dn queries (most gts in an image: 2), laid out as
    [pos gt0, pos gt1, neg gt0, neg gt1]; the one-gt image's gt1 rows are
    padding (weight 1, box weight 0)."""
    head = build('dino', mix_dn_negatives=negatives)
    gts = batch([[0.25, 0.5], [0.8]])
    meta = dn_meta(gts)
    assert meta == dict(num_denoising_queries=8, num_denoising_groups=2)
    targets = head.get_dn_targets(gts, [dict(img_shape=s) for s in SHAPES],
                                  meta)
    label_w, bbox_w = targets[1], targets[3]
    neg = [0.25, 0.5] if negatives else [1.0, 1.0]
    torch.testing.assert_close(label_w[0],
                               torch.tensor([0.25, 0.5] + neg).repeat(2))
    neg = [0.8, 1.0] if negatives else [1.0, 1.0]
    torch.testing.assert_close(label_w[1],
                               torch.tensor([0.8, 1.0] + neg).repeat(2))
    torch.testing.assert_close(bbox_w[0][:, 0],
                               torch.tensor([0.25, 0.5, 0, 0]).repeat(2))
    torch.testing.assert_close(bbox_w[1][:, 0],
                               torch.tensor([0.8, 0, 0, 0.]).repeat(2))
    assert (bbox_w[0] == bbox_w[0][:, :1]).all()
    # normalisers: positives and negatives counted as in the stock head
    assert targets[4:] == (6, 6)


# ------------------------------------------------------------- exact mode
@pytest.mark.parametrize('kind', ['detr', 'deformable'])
def test_exact_mode_is_eq14(kind):
    """Hungarian matching takes every query: exact=True is lam *
    stock(y_i) + (1 - lam) * stock(y_j) in every layer and the encoder."""
    lam = 0.3
    stock, exact = build(kind, stock=True), build(kind, exact=True)
    exact.load_state_dict(stock.state_dict())
    own = loss(kind, stock, [make_gts(BOXES[:1], [0])])
    partner = loss(kind, stock, [make_gts(BOXES[1:], [2])])
    mixed = make_gts(BOXES, [0, 2], [lam, 1 - lam])
    mixed.mix_group = torch.tensor([0, 1])
    got = loss(kind, exact, [mixed], meta=dict(mix_lambda=lam))
    assert got.keys() == own.keys()
    for key in got:
        assert got[key].item() == pytest.approx(
            lam * own[key].item() + (1 - lam) * partner[key].item(),
            rel=1e-5), key
    # the weighted (one matching) loss is another one
    weighted = loss(kind, build(kind), [mixed], meta=dict(mix_lambda=lam))
    assert weighted['loss_cls'].item() != pytest.approx(got['loss_cls'].item())


def test_dino_refuses_exact():
    with pytest.raises(
            ValueError,
            match='LossMixDINOHead exact must be '
            'False, got True: .* one decoder pass per label set'):
        build('dino', exact=True)
    with pytest.raises(
            ValueError,
            match=r"LossMixDETRHead exact must be one "
            r"of False, True, 'two_pass', got 'single_pass'"):
        build('detr', exact='single_pass')
