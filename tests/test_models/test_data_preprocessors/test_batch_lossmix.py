"""BatchLossMix, the batch augment of the data preprocessor: arguments,
partner orders, lambdas; the mixing itself is tested in
tests/test_mixing/test_across.py."""
import numpy as np
import pytest
import torch
from mmdet.registry import MODELS

from lossmix_mm.models.data_preprocessors import (BatchLossMix,
                                                  random_derangement)
from lossmix_test_utils import preprocess_batch


@pytest.mark.parametrize('kwargs,match', [
    (dict(alpha=0), 'alpha'), (dict(mode='cutmix'), 'lossmix'),
    (dict(prob=2), 'prob'), (dict(noise_range=(0.5, 0.1)), 'noise_range'),
    (dict(partner='next'), r"\('random', 'permutation', 'reverse', 'shift'\)")
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MODELS.build(dict(type='BatchLossMix', **kwargs))


def test_partner_orders_and_lambdas():
    assert BatchLossMix(partner='reverse').partner_indices(4).tolist() == [
        3, 2, 1, 0
    ]
    assert BatchLossMix(partner='shift').partner_indices(4).tolist() == [
        1, 2, 3, 0
    ]
    torch.manual_seed(0)
    perm = BatchLossMix(partner='permutation').partner_indices(6)
    assert sorted(perm.tolist()) == list(range(6))
    torch.manual_seed(0)
    lams = BatchLossMix(prob=0.5).sample_lambdas(4000)
    assert 0.45 < (lams < 1).float().mean() < 0.55
    torch.manual_seed(0)
    lams = BatchLossMix(mode='noise').sample_lambdas(1000)
    assert lams.min() >= 0.8 and lams.max() <= 1.0


def test_as_batch_augment_of_the_preprocessor():
    torch.manual_seed(3)
    inputs, samples = preprocess_batch(
        [0, 1, 2], batch_augments=[dict(type='BatchLossMix', partner='shift')])
    assert all(0 < s.mix_lambda < 1 for s in samples)
    assert all('loss_weights' in s.gt_instances for s in samples)
    # a batch of one is left alone
    inputs, samples = preprocess_batch(
        [1], batch_augments=[dict(type='BatchLossMix')])
    assert samples[0].mix_lambda == 1.0
    np.testing.assert_allclose(samples[0].gt_instances.loss_weights, [1, 1])


@pytest.mark.parametrize('num', [2, 3, 4, 8])
def test_random_partner_is_a_derangement(num):
    """The default pairs every image with another one: no fixed point in 500
    draws, every permutation a bijection, every other image a partner."""
    torch.manual_seed(0)
    mixer = BatchLossMix()
    seen = torch.zeros(num, num)
    for _ in range(500):
        perm = mixer.partner_indices(num)
        assert sorted(perm.tolist()) == list(range(num))
        assert not (perm == torch.arange(num)).any()
        seen[torch.arange(num), perm] += 1
    assert seen.diagonal().sum() == 0
    off = seen[~torch.eye(num, dtype=torch.bool)]
    assert (off > 0).all()  # every other image is drawn as a partner
    if num == 2:
        assert BatchLossMix().partner_indices(2).tolist() == [1, 0]
    # a batch of one has only itself
    assert random_derangement(1).tolist() == [0]


def test_plain_permutation_keeps_fixed_points():
    """partner='permutation' is torch.randperm: at batch 2 half of the
    draws are the identity (both images unmixed)."""
    torch.manual_seed(0)
    mixer = BatchLossMix(partner='permutation')
    identity = sum(
        mixer.partner_indices(2).tolist() == [0, 1] for _ in range(2000))
    assert 0.45 < identity / 2000 < 0.55


def test_every_image_mixed_by_default():
    torch.manual_seed(1)
    inputs, samples = preprocess_batch(
        [0, 1], batch_augments=[dict(type='BatchLossMix')])
    assert all(0 < s.mix_lambda < 1 for s in samples)
    assert all(s.mix_mode == 'lossmix' for s in samples)
