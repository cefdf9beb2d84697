"""In-batch LossMix: each image mixed with another image of its own batch."""
from typing import Sequence, Tuple

import torch
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from torch import Tensor, nn

from ...mixing.across import mix_batch
from ...mixing.args import check_mix_args

PARTNER_ORDERS = ('random', 'permutation', 'reverse', 'shift')


def random_derangement(num: int) -> Tensor:
    """A uniformly random permutation without fixed points.

    Rejection sampling of ``torch.randperm`` (about e draws on average).

    Args:
        num (int): batch size.

    Returns:
        Tensor: (num, ) long with ``out[b] != b`` when ``num >= 2``;
        ``[0]`` for ``num`` 1.
    """
    if num < 2:
        return torch.zeros(num, dtype=torch.long)
    arange = torch.arange(num)
    while True:
        perm = torch.randperm(num)
        if not (perm == arange).any():
            return perm


def noise_lambdas(num: int, noise_range: Sequence[float]) -> Tensor:
    """Own-image coefficients of noise mixing.

    Args:
        num (int): how many.
        noise_range (Sequence[float]): (low, high) of the partner's
            coefficient ``u ~ U(low, high)``.

    Returns:
        Tensor: (num, ) float, ``1 - u``.
    """
    low, high = noise_range
    return 1.0 - (low + (high - low) * torch.rand(num))


@MODELS.register_module()
class BatchLossMix(nn.Module):
    """LossMix inside ``DetDataPreprocessor``: mix each batch with itself.

    The paper's own implementation (supp. A): every minibatch mixed with a
    shuffled copy of itself on its device, with no extra loading::

        data_preprocessor=dict(batch_augments=[dict(type='BatchLossMix')])

    See :func:`lossmix_mm.mixing.across.mix_batch` for the alignment, the
    padding and the instance fields written.

    Args:
        mode (str): ``'lossmix'``, ``'union'`` or ``'noise'``. Defaults to
            ``'lossmix'``.
        alpha (float): lam ~ Beta(alpha, alpha). Defaults to 1.0.
        prob (float): probability of mixing each image. Defaults to 1.0.
        noise_range (Sequence[float]): range of the partner's coefficient in
            ``'noise'`` mode. Defaults to (0.0, 0.2).
        partner (str): how partners are drawn: ``'random'``, a random
            derangement (every image gets another one); ``'permutation'``,
            ``torch.randperm`` (an image drawn as its own partner stays
            unmixed); ``'reverse'``; ``'shift'`` (each image with the next
            one). Defaults to ``'random'``.
    """

    def __init__(self,
                 mode: str = 'lossmix',
                 alpha: float = 1.0,
                 prob: float = 1.0,
                 noise_range: Sequence[float] = (0.0, 0.2),
                 partner: str = 'random') -> None:
        super().__init__()
        self.noise_range = check_mix_args(mode, alpha, prob, noise_range)
        if partner not in PARTNER_ORDERS:
            raise ValueError(f'partner must be one of {PARTNER_ORDERS}, got '
                             f'{partner!r}')
        self.mode = mode
        self.alpha = float(alpha)
        self.prob = float(prob)
        self.partner = partner

    def partner_indices(self, num: int) -> Tensor:
        """(num, ) long: the partner of each image of a batch of ``num``."""
        if self.partner == 'random':
            return random_derangement(num)
        if self.partner == 'permutation':
            return torch.randperm(num)
        if self.partner == 'reverse':
            return torch.arange(num - 1, -1, -1)
        return (torch.arange(num) + 1) % num

    def sample_lambdas(self, num: int) -> Tensor:
        """(num, ) coefficients of the own images; 1 for unmixed ones."""
        if self.mode == 'noise':
            lams = noise_lambdas(num, self.noise_range)
        else:
            beta = torch.distributions.Beta(
                torch.tensor(self.alpha), torch.tensor(self.alpha))
            lams = beta.sample((num, ))
        if self.prob < 1:
            lams = torch.where(
                torch.rand(num) < self.prob, lams, torch.ones_like(lams))
        return lams

    def forward(self, inputs: Tensor,
                data_samples: SampleList) -> Tuple[Tensor, SampleList]:
        """Mix the batch.

        Args:
            inputs (Tensor): (B, C, H, W) normalised batch.
            data_samples (list[DetDataSample]): its B samples.

        Returns:
            tuple[Tensor, list[DetDataSample]]: the mixed batch and samples;
            a batch of one (or none) comes back unmixed, checked and with
            LossMix fields.
        """
        num = inputs.size(0)
        if num < 2:
            return mix_batch(inputs, data_samples, torch.arange(num),
                             torch.ones(num), self.mode)
        lams = self.sample_lambdas(num)
        return mix_batch(inputs, data_samples, self.partner_indices(num), lams,
                         self.mode)

    def extra_repr(self) -> str:
        return (f'mode={self.mode!r}, alpha={self.alpha}, prob={self.prob}, '
                f'noise_range={self.noise_range}, partner={self.partner!r}')
