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
        dict(
            type='ImageDomainDiscriminator',
            in_channels=4,
            feat_channels=8,
            **kwargs))


def test_loss_signs_and_value():
    disc = build(loss_weight=1.0)
    # zero logits everywhere: BCE = log 2 for either label
    for conv in list(disc.convs) + [disc.classifier]:
        if isinstance(conv, torch.nn.Conv2d):
            torch.nn.init.zeros_(conv.weight)
            torch.nn.init.zeros_(conv.bias)
    feat = torch.randn(2, 4, 5, 6)
    assert disc.loss(feat, SOURCE).item() == pytest.approx(math.log(2))
    # a bias pushing logits up: "target" is cheap, "source" is costly
    disc.classifier.bias.data.fill_(3.0)
    src, tgt = disc.loss(feat, SOURCE), disc.loss(feat, TARGET)
    assert src.item() == pytest.approx(math.log1p(math.exp(3.0)), rel=1e-5)
    assert tgt.item() == pytest.approx(math.log1p(math.exp(-3.0)), rel=1e-5)
    assert disc.loss(
        feat, TARGET, weight=0.1).item() == pytest.approx(
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
    assert disc.convs[0].weight.grad is not None


def test_default_init_lets_the_discriminator_learn():
    disc = MODELS.build(
        dict(
            type='ImageDomainDiscriminator',
            in_channels=16,
            feat_channels=32,
            loss_weight=1.0))
    torch.manual_seed(0)
    disc.init_weights()
    hidden = disc.convs[0].weight
    fan_in = 16 * 9
    # Kaiming normal for LeakyReLU(0.2): std = sqrt(2 / (1 + 0.2^2) / fan_in)
    assert hidden.std().item() == pytest.approx(
        math.sqrt(2 / 1.04 / fan_in), rel=0.1)
    assert disc.classifier.weight.std().item() == pytest.approx(0.01, rel=0.2)
    g = torch.Generator().manual_seed(1)
    src = torch.randn(4, 16, 6, 6, generator=g) + 0.5
    tgt = torch.randn(4, 16, 6, 6, generator=g) - 0.5
    start = (disc.loss(src, SOURCE) + disc.loss(tgt, TARGET)).item()
    assert start == pytest.approx(2 * math.log(2), abs=0.05)
    opt = torch.optim.SGD(disc.parameters(), lr=0.05, momentum=0.9)
    for _ in range(30):
        opt.zero_grad()
        loss = disc.loss(src, SOURCE) + disc.loss(tgt, TARGET)
        loss.backward()
        opt.step()
    # the domains are separable: 30 steps take the loss well below 2 log 2
    assert loss.item() < 0.5 * start
