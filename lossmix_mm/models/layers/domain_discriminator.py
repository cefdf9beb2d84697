"""Image-level domain discriminator behind a gradient-reversal layer."""
from typing import Optional

import torch.nn.functional as F
from mmdet.registry import MODELS
from mmdet.utils import OptMultiConfig
from mmengine.model import BaseModule
from torch import Tensor, nn

from .gradient_reversal import GradientReversal

SOURCE, TARGET = 0.0, 1.0


@MODELS.register_module()
class ImageDomainDiscriminator(BaseModule):
    """A small conv patch classifier telling source from target features.

    Each location of the feature map is classified (a logit per location);
    the loss is binary cross-entropy against 0 for source and 1 for target
    images, averaged over locations and images, times ``loss_weight``. The
    features pass a gradient-reversal layer first, so minimising the loss
    trains the discriminator while pushing the detector's features to be
    domain-invariant.

    Args:
        in_channels (int): channels of the discriminated feature map.
        feat_channels (int): hidden channels. Defaults to 256.
        num_convs (int): 3x3 conv + LeakyReLU blocks before the 1-channel
            classifier. Defaults to 3.
        grl_coeff (float): scale of the reversed gradient. Defaults to 1.0.
        loss_weight (float): weight of the loss. Defaults to 0.1.
        init_cfg (dict, optional): initialisation config. Defaults to
            Kaiming-normal hidden convs (LeakyReLU slope 0.2) and a
            Normal(std 0.01) classifier conv: the logits start near 0
            (BCE ~ log 2) while the hidden layers pass a signal.
    """

    def __init__(self,
                 in_channels: int,
                 feat_channels: int = 256,
                 num_convs: int = 3,
                 grl_coeff: float = 1.0,
                 loss_weight: float = 0.1,
                 init_cfg: OptMultiConfig = None) -> None:
        if init_cfg is None:
            init_cfg = [
                dict(
                    type='Kaiming',
                    layer='Conv2d',
                    a=0.2,
                    mode='fan_in',
                    nonlinearity='leaky_relu',
                    distribution='normal'),
                dict(
                    type='Normal', std=0.01, override=dict(name='classifier'))
            ]
        super().__init__(init_cfg=init_cfg)
        self.grl = GradientReversal(grl_coeff)
        layers, channels = [], in_channels
        for i in range(num_convs):
            out = feat_channels if i == 0 else max(feat_channels // 2, 1)
            layers += [
                nn.Conv2d(channels, out, 3, padding=1),
                nn.LeakyReLU(0.2, inplace=True)
            ]
            channels = out
        self.convs = nn.Sequential(*layers)
        self.classifier = nn.Conv2d(channels, 1, 3, padding=1)
        self.loss_weight = float(loss_weight)

    def forward(self, feat: Tensor) -> Tensor:
        """(N, C, H, W) features -> (N, 1, H, W) target-domain logits."""
        return self.classifier(self.convs(self.grl(feat)))

    def loss(self,
             feat: Tensor,
             domain: float,
             weight: Optional[float] = None) -> Tensor:
        """Weighted BCE of all locations against one domain label.

        Args:
            feat (Tensor): (N, C, H, W) features, all of one domain.
            domain (float): ``SOURCE`` (0.0) or ``TARGET`` (1.0).
            weight (float, optional): overrides ``loss_weight``.

        Returns:
            Tensor: scalar loss.
        """
        if domain not in (SOURCE, TARGET):
            raise ValueError(f'domain must be {SOURCE} (source) or {TARGET} '
                             f'(target), got {domain}')
        logits = self(feat)
        loss = F.binary_cross_entropy_with_logits(
            logits, logits.new_full(logits.shape, domain))
        return loss * (self.loss_weight if weight is None else weight)
