import pytest
import torch
from mmengine.structures import InstanceData

from lossmix_mm.models.utils import (group_coefficients, mix_group_passes,
                                     select_group, sum_pass_losses)


def mixed_gts(groups, reg_weights=None):
    n = len(groups)
    gt = InstanceData(
        bboxes=torch.arange(4 * n, dtype=torch.float32).reshape(n, 4),
        labels=torch.arange(n),
        loss_weights=torch.full((n, ), 0.5),
        mix_group=torch.tensor(groups, dtype=torch.long))
    if reg_weights is not None:
        gt.reg_weights = torch.tensor(reg_weights)
    return gt


@pytest.mark.parametrize(
    'meta,coeffs',
    [
        (dict(), (1.0, 0.0)),  # not mixed
        (dict(mix_lambda=0.25), (0.25, 0.75)),  # no mode: LossMix
        (dict(mix_lambda=0.25, mix_mode='lossmix'), (0.25, 0.75)),
        (dict(mix_lambda=0.25, mix_mode='union'), (1.0, 1.0)),
        (dict(mix_lambda=1.0, mix_mode='union'), (1.0, 0.0)),
        (dict(mix_lambda=0.0, mix_mode='union'), (0.0, 1.0)),
        (dict(mix_lambda=0.85, mix_mode='noise'), (1.0, 0.0)),
        (dict(mix_lambda=1.0, mix_mode='noise'), (1.0, 0.0)),
    ])
def test_group_coefficients(meta, coeffs):
    assert group_coefficients(meta) == pytest.approx(coeffs)


@pytest.mark.parametrize('meta,match', [
    (dict(mix_lambda=0.5,
          mix_mode='mixup'), r"\('lossmix', 'union', 'noise'\), got 'mixup'"),
    (dict(mix_lambda=1.5), r'\[0, 1\], got 1.5'),
    (dict(mix_lambda=float('nan')), r'\[0, 1\], got nan'),
])
def test_group_coefficients_bad_meta(meta, match):
    with pytest.raises(ValueError, match=match):
        group_coefficients(meta)


def test_passes_cover_the_batch_with_their_share():
    """A mixed (lam 0.3) and an unmixed image: the own pass holds both
    (scale 2/2), the partner pass the mixed one only (scale 1/2)."""
    gts = [mixed_gts([0, 1, 1]), mixed_gts([0])]
    metas = [dict(mix_lambda=0.3, mix_mode='lossmix'), dict(mix_lambda=1.0)]
    own, partner = mix_group_passes(gts, metas)
    assert (own.group, own.img_inds, own.loss_scale) == (0, [0, 1], 1.0)
    assert own.coeffs == pytest.approx([0.3, 1.0])
    assert [len(g) for g in own.gt_instances] == [1, 1]
    assert (partner.group, partner.img_inds) == (1, [0])
    assert partner.loss_scale == 0.5
    assert partner.coeffs == pytest.approx([0.7])
    assert len(partner.gt_instances[0]) == 2
    assert partner.gt_instances[0].metainfo['mix_coeff'] == pytest.approx(0.7)

    union = mix_group_passes(gts, [dict(metas[0], mix_mode='union'), metas[1]])
    assert [p.coeffs for p in union] == [[1.0, 1.0], [1.0]]
    noise = mix_group_passes(gts, [dict(metas[0], mix_mode='noise'), metas[1]])
    assert len(noise) == 1 and noise[0].coeffs == [1.0, 1.0]
    assert noise[0].loss_scale == 1.0


def test_select_group_keeps_reg_weights():
    gt = mixed_gts([0, 1, 1], reg_weights=[1.0, 0.0, 0.5])
    partner = select_group(gt, 1, 0.4)
    torch.testing.assert_close(partner.reg_weights, torch.tensor([0.0, 0.5]))
    torch.testing.assert_close(partner.labels, torch.tensor([1, 2]))
    assert 'loss_weights' not in partner and 'mix_group' not in partner
    own = select_group(gt, 0, 0.6)
    torch.testing.assert_close(own.reg_weights, torch.tensor([1.0]))
    plain = InstanceData(
        bboxes=torch.zeros(2, 4), reg_weights=torch.tensor([0.0, 1.0]))
    torch.testing.assert_close(
        select_group(plain, 0, 1.0).reg_weights, torch.tensor([0.0, 1.0]))
    assert len(select_group(plain, 1, 1.0).reg_weights) == 0


def test_sum_pass_losses_scales_losses_not_metrics():
    a = dict(
        loss_cls=torch.tensor(2.0),
        loss_bbox=[torch.tensor(1.0), torch.tensor(3.0)],
        acc=torch.tensor(80.0))
    b = dict(
        loss_cls=torch.tensor(4.0),
        loss_bbox=[torch.tensor(2.0), torch.tensor(6.0)],
        acc=torch.tensor(60.0))
    total = sum_pass_losses([a, b], [1.0, 0.5])
    assert total['loss_cls'].item() == 2.0 + 0.5 * 4.0
    assert [v.item() for v in total['loss_bbox']] == [2.0, 6.0]
    assert total['acc'].item() == 70.0
    assert sum_pass_losses([a, b])['loss_cls'].item() == 6.0


@pytest.mark.parametrize('groups', [[0, 2], [-1, 1]])
def test_passes_refuse_mix_groups_other_than_0_1(groups):
    gt = mixed_gts(groups)
    with pytest.raises(
            ValueError,
            match=r"mix_group of image 'x\.png' must "
            r'be 0 \(own image\) or 1 \(partner\), got ' +
            str(groups[0] if groups[0] else groups[1])):
        mix_group_passes([gt], [dict(mix_lambda=0.5, img_path='x.png')])
