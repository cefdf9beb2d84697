"""Every box at one constant loss weight: the loss-scale control."""
from mmcv.transforms import BaseTransform
from mmdet.registry import TRANSFORMS

from ...mixing.args import check_alpha
from ...structures import LossMixBoxes


@TRANSFORMS.register_module()
class ScaleLossWeights(BaseTransform):
    """Multiply every box's loss weight by a constant ``scale``.

    A control for studies, not a mixing rule: a Union pipeline followed by
    ``ScaleLossWeights(scale=s)`` trains every positive at weight ``s``, the
    same total positive weight as a LossMix pipeline whose mean box weight
    is ``s``, but with no box weighted by what it keeps
    (docs/region_mixing_toy.md). Put it just before ``PackLossMixInputs``.
    Plain boxes become :class:`LossMixBoxes` with the default fields, so
    their packed weight is ``scale``.

    Required Keys: ``gt_bboxes`` (optional: without it, nothing changes).

    Modified Keys: ``gt_bboxes`` (``LossMixBoxes``, ``loss_weights``
    multiplied by ``scale``).

    Args:
        scale (float): a finite number > 0.
    """

    def __init__(self, scale: float) -> None:
        self.scale = check_alpha(scale, 'scale')

    def transform(self, results: dict) -> dict:
        boxes = results.get('gt_bboxes')
        if boxes is None:
            return results
        boxes = LossMixBoxes.from_boxes(boxes).clone()
        boxes.loss_weights = boxes.loss_weights * self.scale
        results['gt_bboxes'] = boxes
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(scale={self.scale})'
