"""Random Gaussian blur of the image (a strong photometric augmentation)."""
from typing import Sequence

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmdet.registry import TRANSFORMS


@TRANSFORMS.register_module()
class RandomGaussianBlur(BaseTransform):
    """Blur ``img`` with a Gaussian of random sigma, with probability
    ``prob`` (the strong view of the domain-adaptation teacher: sigma
    0.1-2, p 0.5). mmdet and mmcv have no Gaussian blur that does not
    need albumentations.

    Required Keys: ``img``. Modified Keys: ``img``.

    Args:
        sigma_range (Sequence[float]): sigma ~ U(low, high), in pixels.
            Defaults to (0.1, 2.0).
        prob (float): probability of blurring. Defaults to 0.5.
    """

    def __init__(self,
                 sigma_range: Sequence[float] = (0.1, 2.0),
                 prob: float = 0.5) -> None:
        if len(sigma_range) != 2 or not 0 < sigma_range[0] <= \
                sigma_range[1]:
            raise ValueError(f'sigma_range must be (low, high) with 0 < low '
                             f'<= high, got {sigma_range}')
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        self.sigma_range = (float(sigma_range[0]), float(sigma_range[1]))
        self.prob = float(prob)

    def transform(self, results: dict) -> dict:
        if np.random.rand() >= self.prob:
            return results
        sigma = np.random.uniform(*self.sigma_range)
        # kernel covering +-3 sigma, odd
        ksize = 2 * int(np.ceil(3 * sigma)) + 1
        results['img'] = cv2.GaussianBlur(
            results['img'], (ksize, ksize), sigmaX=sigma, sigmaY=sigma)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(sigma_range={self.sigma_range}, '
                f'prob={self.prob})')
