import pytest
import torch
import torch.nn.functional as F
from mmdet.registry import MODELS

from lossmix_mm.models.utils import (RoIWeightedLoss, roi_weighted_loss,
                                     roi_weighted_mean)

R, C, S = 5, 3, 6  # RoIs, classes, mask size


def mask_loss(loss_weight=1.0):
    """mmdet's Mask R-CNN mask loss."""
    return MODELS.build(
        dict(type='CrossEntropyLoss', use_mask=True, loss_weight=loss_weight))


def inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    pred = torch.randn(R, C, S, S, generator=g)
    target = (torch.rand(R, S, S, generator=g) > 0.5).float()
    labels = torch.randint(0, C, (R, ), generator=g)
    return pred, target, labels


def by_hand(pred, target, labels, weights):
    """1 / R * sum_r w_r * mean_p bce(r, p): the per-RoI weighted mean."""
    per_pixel = F.binary_cross_entropy_with_logits(
        pred[torch.arange(R), labels], target, reduction='none')
    return (weights * per_pixel.mean(dim=(1, 2))).sum() / R


def test_all_ones_is_the_stock_loss_exactly():
    loss = mask_loss()
    pred, target, labels = inputs()
    ref = loss(pred, target, labels)
    got = roi_weighted_mean(loss, torch.ones(R), pred, target, labels)
    assert got.shape == ref.shape == (1, )
    assert torch.equal(got, ref)
    assert torch.allclose(ref, by_hand(pred, target, labels, torch.ones(R)))


def test_single_weight_scales_the_stock_loss():
    loss = mask_loss()
    pred, target, labels = inputs()
    got = roi_weighted_mean(loss, torch.full((R, ), 0.3), pred, target, labels)
    assert torch.equal(got, loss(pred, target, labels) * 0.3)


@pytest.mark.parametrize('loss_weight', [1.0, 2.5])
def test_grouped_weights_match_the_weighted_mean(loss_weight):
    """Groups of sizes 2, 2, 1: sum_u u * n_u / R * L(G_u)."""
    pred, target, labels = inputs(1)
    weights = torch.tensor([0.3, 0.7, 0.3, 1.0, 0.7])
    got = roi_weighted_mean(
        mask_loss(loss_weight), weights, pred, target, labels)
    expected = loss_weight * by_hand(pred, target, labels, weights)
    assert got.item() == pytest.approx(expected.item(), rel=1e-6)


def test_gradient_reaches_every_roi_with_its_weight():
    pred, target, labels = inputs(2)
    weights = torch.tensor([0.2, 0.2, 0.9, 0.5, 0.9])
    ours = pred.clone().requires_grad_()
    roi_weighted_mean(mask_loss(), weights, ours, target, labels).sum() \
        .backward()
    ref = pred.clone().requires_grad_()
    by_hand(ref, target, labels, weights).backward()
    torch.testing.assert_close(ours.grad, ref.grad)


def test_empty_and_bad_shapes():
    loss = mask_loss()
    pred, target, labels = inputs()
    empty = roi_weighted_mean(lambda p, t: p.sum(), torch.zeros(0), pred[:0],
                              target[:0])
    assert empty.item() == 0
    with pytest.raises(ValueError, match=r'one weight per RoI \(5\)'):
        roi_weighted_mean(loss, torch.ones(R, 1), pred, target, labels)


def test_non_roi_arguments_pass_through():
    seen = []

    def fn(pred, target, scalar, tag):
        seen.append((pred.size(0), target.size(0), scalar, tag))
        return pred.mean()[None]

    pred = torch.arange(4.)[:, None]
    weights = torch.tensor([1.0, 2.0, 2.0, 1.0])
    got = roi_weighted_mean(fn, weights, pred, pred * 2, 7, tag='x')
    assert sorted(seen) == [(2, 2, 7, 'x'), (2, 2, 7, 'x')]
    # (0 + 3) / 2 * 1 * 2 / 4 + (1 + 2) / 2 * 2 * 2 / 4
    assert got.item() == pytest.approx(0.75 + 1.5)


def test_context_swaps_and_restores_the_module():
    head = torch.nn.Module()
    head.loss_mask = mask_loss()
    original = head.loss_mask
    with roi_weighted_loss(head, 'loss_mask', None):
        assert head.loss_mask is original
    with roi_weighted_loss(head, 'loss_mask', torch.ones(R)):
        assert isinstance(head.loss_mask, RoIWeightedLoss)
        assert head.loss_mask.loss is original
    assert head.loss_mask is original
    with pytest.raises(RuntimeError):
        with roi_weighted_loss(head, 'loss_mask', torch.ones(R)):
            raise RuntimeError
    assert head.loss_mask is original
