"""Bad gts reach every LossMix dense / DETR head as one clear error."""
import copy

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.hub import get_config

from lossmix_test_utils import make_gts, rand_feats
from one_stage_head_utils import IMG_META, build_pair, gts, raw_losses
from test_lossmix_detr_heads import build as build_detr
from test_lossmix_detr_heads import loss as detr_loss

ONE_STAGE = [('retina', 'LossMixRetinaHead'), ('fcos', 'LossMixFCOSHead'),
             ('atss', 'LossMixATSSHead'), ('rtmdet', 'LossMixRTMDetSepBNHead')]
META = dict(IMG_META, img_path='bad.jpg', mix_lambda=0.4)
LABEL_ERROR = (r"gt label {} of image 'bad\.jpg' is out of range: labels "
               r'must be in \[0, 3\) for a head of num_classes=3')
GROUP_ERROR = (r"mix_group of image 'bad\.jpg' must be 0 \(own image\) or 1 "
               r'\(partner\), got 2')


def rpn_losses(gt, **kwargs):
    cfg = get_config('mmdet::_base_/models/faster-rcnn_r50_fpn.py').model
    head = copy.deepcopy(cfg.rpn_head)
    head.update(
        type='LossMixRPNHead',
        in_channels=8,
        feat_channels=8,
        num_classes=1,
        train_cfg=cfg.train_cfg.rpn,
        test_cfg=cfg.test_cfg.rpn,
        **kwargs)
    head = MODELS.build(head)
    outs = head(rand_feats(0))
    return head.loss_by_feat(*outs, [gt], [META])


def with_groups(gt, groups):
    gt.mix_group = torch.tensor(groups)
    return gt


@pytest.mark.parametrize('kind,type_', ONE_STAGE)
@pytest.mark.parametrize('bad', [3, -1])
@pytest.mark.parametrize('exact', [False, True])
def test_one_stage_bad_label(kind, type_, bad, exact):
    """Weights absent or present, exact or not: the image, the label and
    num_classes are named."""
    _, head = build_pair(kind, type_, exact=exact)
    for weights in (None, [0.4, 0.6]):
        gt = with_groups(gts(weights, labels=[0, bad]), [0, 1])
        with pytest.raises(ValueError, match=LABEL_ERROR.format(bad)):
            raw_losses(head, [gt], [META])


@pytest.mark.parametrize('kind,type_', ONE_STAGE)
def test_one_stage_exact_bad_mix_group(kind, type_):
    _, head = build_pair(kind, type_, exact=True)
    gt = with_groups(gts([0.4, 0.6]), [0, 2])
    with pytest.raises(ValueError, match=GROUP_ERROR):
        raw_losses(head, [gt], [META])


@pytest.mark.parametrize('exact', [False, 'single_pass', 'two_pass'])
def test_rpn_bad_label_and_mix_group(exact):
    """The RPN's gts are labelled 0 by the detector: a label of 1 is out of
    range for its one class."""
    boxes = [[4, 4, 30, 36], [30, 20, 60, 50]]
    with pytest.raises(
            ValueError, match=LABEL_ERROR.replace('3', '1').format(1)):
        rpn_losses(
            with_groups(make_gts(boxes, [0, 1], [0.4, 0.6]), [0, 1]),
            exact=exact)
    if exact:
        with pytest.raises(ValueError, match=GROUP_ERROR):
            rpn_losses(
                with_groups(make_gts(boxes, [0, 0], [0.4, 0.6]), [0, 2]),
                exact=exact)


@pytest.mark.parametrize('kind', ['detr', 'deformable', 'dino'])
@pytest.mark.parametrize('bad', [3, -1])
def test_detr_family_bad_label(kind, bad):
    head = build_detr(kind)
    gt = make_gts([[4, 4, 30, 36], [30, 10, 60, 44]], [0, bad])
    with pytest.raises(ValueError, match=LABEL_ERROR.format(bad)):
        detr_loss(
            kind,
            head, [gt, make_gts([[30, 10, 60, 44]], [1])],
            meta=dict(img_path='bad.jpg'))


@pytest.mark.parametrize('kind', ['detr', 'deformable'])
def test_detr_family_exact_bad_mix_group(kind):
    head = build_detr(kind, exact=True)
    gt = with_groups(
        make_gts([[4, 4, 30, 36], [30, 10, 60, 44]], [0, 1], [0.4, 0.6]),
        [0, 2])
    with pytest.raises(ValueError, match=GROUP_ERROR):
        detr_loss(
            kind,
            head, [gt, make_gts([[30, 10, 60, 44]], [1])],
            meta=dict(img_path='bad.jpg', mix_lambda=0.4))
