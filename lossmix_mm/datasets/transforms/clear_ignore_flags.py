"""Train on the boxes a dataset marks as ignored (VOC "difficult" ones)."""
import numpy as np
from mmcv.transforms import BaseTransform
from mmdet.registry import TRANSFORMS


@TRANSFORMS.register_module()
class ClearIgnoreFlags(BaseTransform):
    """Set every ``gt_ignore_flags`` entry to False, so that the packer puts
    all boxes in ``gt_instances`` and training uses them.

    mmdet's ``VOCDataset`` gives the boxes marked ``difficult`` (and those
    under ``bbox_min_size``) ``ignore_flag=1``; ``PackDetInputs`` then moves
    them to ``ignored_instances``, which Faster R-CNN's assigners do not
    train on. Detectron2's VOC loader, which the LossMix paper follows,
    trains on difficult boxes; its evaluator, like mmdet's ``VOCMetric``,
    ignores them. Put this transform in the *training* pipeline only, after
    ``LoadAnnotations``; evaluation keeps reading the dataset's flags.

    Required Keys: ``gt_ignore_flags`` (optional: without it, nothing
    changes).

    Modified Keys: ``gt_ignore_flags`` (bool array [N], all False).
    """

    def transform(self, results: dict) -> dict:
        flags = results.get('gt_ignore_flags')
        if flags is not None:
            results['gt_ignore_flags'] = np.zeros_like(
                np.asarray(flags), dtype=bool)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}()'
