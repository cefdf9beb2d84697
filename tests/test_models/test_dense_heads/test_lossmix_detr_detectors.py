"""LossMix DETR-family heads inside mmdet's configs and detectors."""
import copy

import pytest
import torch
from mmdet.models.dense_heads import DETRHead
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmengine.hub import get_config
from mmengine.optim import OptimWrapper

from lossmix_test_utils import make_gts

CONFIGS = dict(
    detr=('detr/detr_r50_8xb2-150e_coco.py', 'LossMixDETRHead'),
    deformable=('deformable_detr/deformable-detr_r50_16xb2-50e_coco.py',
                'LossMixDeformableDETRHead'),
    dino=('dino/dino-4scale_r50_8xb2-12e_coco.py', 'LossMixDINOHead'),
)


def stock_model_cfg(kind):
    return copy.deepcopy(get_config('mmdet::' + CONFIGS[kind][0]).model)


@pytest.mark.parametrize('kind', list(CONFIGS))
def test_stock_config_builds_with_lossmix_head(kind):
    """The R50 model of mmdet's config, only the head type swapped."""
    cfg = stock_model_cfg(kind)
    cfg.backbone.init_cfg = None
    cfg.bbox_head.type = CONFIGS[kind][1]
    loss_cls = copy.deepcopy(cfg.bbox_head.loss_cls)
    model = MODELS.build(cfg)
    head = model.bbox_head
    assert type(head).__name__ == CONFIGS[kind][1]
    assert head.reads_loss_weights and head.mix_cls and head.mix_reg
    assert cfg.bbox_head.loss_cls == loss_cls  # config left as it was
    if kind == 'detr':  # DETRHead's own bg_cls_weight handling
        assert head.bg_cls_weight == 0.1
        class_weight = head.loss_cls.class_weight
        assert class_weight.shape == (81, ) and class_weight[80] == 0.1
        assert (class_weight[:80] == 1).all()
    else:
        assert head.bg_cls_weight == 0
    if kind == 'dino':
        assert head.mix_dn_negatives


def test_detr_head_defaults_match_stock():
    """No ``loss_cls`` given: DETRHead's default (CE, bg 0.1) applies."""
    ours = MODELS.build(
        dict(type='LossMixDETRHead', num_classes=3, embed_dims=8))
    stock = DETRHead(num_classes=3, embed_dims=8)
    assert ours.bg_cls_weight == stock.bg_cls_weight == 0.1
    assert torch.equal(ours.loss_cls.class_weight, stock.loss_cls.class_weight)
    with pytest.raises(TypeError, match='class_weight to have type float'):
        MODELS.build(
            dict(
                type='LossMixDETRHead',
                num_classes=3,
                embed_dims=8,
                loss_cls=dict(type='CrossEntropyLoss', class_weight=[1.0])))


# ------------------------------------------------ tiny detectors, training
def tiny_detector(kind, head_type):
    """mmdet's Deformable DETR (made two-stage, box refine) or DINO config
    with a ResNet-18 of 8 base channels, 1 encoder and 2 decoder layers.

    The transformer keeps its 256 dims: DINO's decoder
    (``coordinate_to_encoding``) and the two-stage proposal embedding
    (``get_proposal_pos_embed``) hard-code 128 position features per
    coordinate, i.e. embed_dims 256.
    """
    cfg = stock_model_cfg(kind)
    cfg.update(num_queries=8)
    cfg.backbone.update(depth=18, base_channels=8, init_cfg=None)
    cfg.neck.in_channels = [16, 32, 64]
    cfg.encoder.num_layers = 1
    cfg.decoder.num_layers = 2
    for layer in (cfg.encoder.layer_cfg, cfg.decoder.layer_cfg):
        layer.ffn_cfg.feedforward_channels = 64
    cfg.bbox_head.update(type=head_type, num_classes=3)
    if kind == 'deformable':
        cfg.update(as_two_stage=True, with_box_refine=True)
    else:
        cfg.dn_cfg.group_cfg.num_dn_queries = 4
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    # parameters such as the level embedding are created uninitialised
    # (torch.Tensor): without init_weights they hold whatever the memory
    # held, now and then a NaN
    model.init_weights()
    return model


def batch(weights=None):
    """Two 64x48 images, two and one gt."""
    g = torch.Generator().manual_seed(0)
    weights = weights or [None, None]
    gts = [
        make_gts([[4, 4, 30, 36], [30, 10, 60, 44]], [0, 2], weights[0]),
        make_gts([[10, 8, 50, 40]], [1], weights[1])
    ]
    data_samples = []
    for gt in gts:
        sample = DetDataSample(
            metainfo=dict(
                img_shape=(48, 64),
                ori_shape=(48, 64),
                scale_factor=(1.0, 1.0)))
        sample.gt_instances = gt
        data_samples.append(sample)
    inputs = [
        torch.randint(0, 255, (3, 48, 64), generator=g, dtype=torch.uint8)
        for _ in gts
    ]
    return dict(inputs=inputs, data_samples=data_samples)


def detector_losses(model, data):
    data = model.data_preprocessor(copy.deepcopy(data), training=True)
    torch.manual_seed(1)  # DINO's denoising noise
    return model.loss(data['inputs'], data['data_samples'])


@pytest.mark.parametrize('kind,stock_type',
                         [('dino', 'DINOHead'),
                          ('deformable', 'DeformableDETRHead')])
def test_tiny_detector_loss_and_training(kind, stock_type):
    ours = tiny_detector(kind, CONFIGS[kind][1])
    stock = tiny_detector(kind, stock_type)
    ours.load_state_dict(stock.state_dict())
    # through the detector: all-ones weights = stock; weight 0.5 on every
    # gt halves every box loss (matched, encoder, denoising)
    with torch.no_grad():
        ref = detector_losses(stock, batch())
        ones = detector_losses(ours, batch([[1.0, 1.0], [1.0]]))
        half = detector_losses(ours, batch([[0.5, 0.5], [0.5]]))
    assert {'enc_loss_bbox', 'd0.loss_iou'} <= set(ref)
    assert kind != 'dino' or 'd0.dn_loss_bbox' in ref
    for key in ref:
        assert torch.equal(ones[key], ref[key]), key
        if 'loss_bbox' in key or 'loss_iou' in key:
            assert ref[key] > 0, key
            assert half[key].item() == pytest.approx(
                0.5 * ref[key].item(), rel=1e-5), key
    # two training iterations with mixed weights
    ours.train()
    optim = OptimWrapper(torch.optim.AdamW(ours.parameters(), lr=1e-3))
    before = ours.bbox_head.cls_branches[0].weight.detach().clone()
    for _ in range(2):
        log_vars = ours.train_step(batch([[0.3, 0.7], [0.6]]), optim)
        assert torch.isfinite(log_vars['loss'])
    assert not torch.equal(before, ours.bbox_head.cls_branches[0].weight)
