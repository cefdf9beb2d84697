import math

import pytest
import torch

from mmdet.registry import MODELS
from lossmix_mm.models.layers import (SOURCE, TARGET, GradientReversal,
                                      reverse_grad)


def test_reversal_negates_and_scales_the_gradient():
    x = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = reverse_grad(x, 0.5)
    assert torch.equal(y, x)  # identity forward
    (y * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    torch.testing.assert_close(x.grad, torch.tensor([-0.5, -1.0, -1.5]))
    x.grad = None
    GradientReversal(2.0)(x).sum().backward()
    torch.testing.assert_close(x.grad, torch.full((3, ), -2.0))
    with pytest.raises(ValueError, match='coeff'):
        GradientReversal(-1.0)


def build(**kwargs):
    torch.manual_seed(0)
    return MODELS.build(
        dict(type='ImageDomainDiscriminator', in_channels=4,
             feat_channels=8, **kwargs))


def test_loss_signs_and_value():
    disc = build(loss_weight=1.0)
    # zero logits everywhere: BCE = log 2 for either label
    for conv in disc.classifier:
        if isinstance(conv, torch.nn.Conv2d):
            torch.nn.init.zeros_(conv.weight)
            torch.nn.init.zeros_(conv.bias)
    feat = torch.randn(2, 4, 5, 6)
    assert disc.loss(feat, SOURCE).item() == pytest.approx(math.log(2))
    # a bias pushing logits up: "target" is cheap, "source" is costly
    disc.classifier[-1].bias.data.fill_(3.0)
    src, tgt = disc.loss(feat, SOURCE), disc.loss(feat, TARGET)
    assert src.item() == pytest.approx(math.log1p(math.exp(3.0)), rel=1e-5)
    assert tgt.item() == pytest.approx(math.log1p(math.exp(-3.0)), rel=1e-5)
    assert disc.loss(feat, TARGET, weight=0.1).item() == pytest.approx(
        0.1 * tgt.item(), rel=1e-6)
    with pytest.raises(ValueError, match='domain'):
        disc.loss(feat, 0.5)


def test_discriminator_learns_while_features_get_reversed_gradient():
    disc = build()
    assert disc.loss_weight == 0.1
    feat = torch.randn(2, 4, 5, 6, requires_grad=True)
    loss = disc.loss(feat, SOURCE)
    loss.backward()
    feat_grad = feat.grad.clone()
    # without reversal the feature gradient is the exact opposite
    feat.grad = None
    disc.grl.coeff = -1.0
    disc.loss(feat, SOURCE).backward()
    torch.testing.assert_close(feat.grad, -feat_grad)
    assert disc.classifier[0].weight.grad is not None
