"""Packing of LossMix samples into mmdet's data samples."""
from mmdet.datasets.transforms import PackDetInputs
from mmdet.registry import TRANSFORMS


@TRANSFORMS.register_module()
class PackLossMixInputs(PackDetInputs):
    """``PackDetInputs`` that also packs LossMix's per-instance fields.

    ``gt_loss_weights`` and ``gt_mix_group`` become
    ``gt_instances.loss_weights`` (float32) and ``gt_instances.mix_group``
    (int64), split with the boxes between ``gt_instances`` and
    ``ignored_instances`` like every other instance key; ``mix_lambda``
    (coefficient of the sample's own image) and ``mix_mode`` (``'lossmix'``,
    ``'union'`` or ``'noise'``: how the instances were weighted, read by the
    heads' exact mode) go to the metainfo. On results without these keys it
    packs exactly what ``PackDetInputs`` packs.

    Required Keys: as ``PackDetInputs``; optional ``gt_loss_weights``,
    ``gt_mix_group``, ``mix_lambda``, ``mix_mode``.

    Added Keys: ``inputs``, ``data_samples``.

    Args:
        meta_keys (Sequence[str]): metainfo keys; ``PackDetInputs``' default
            plus ``'mix_lambda'`` and ``'mix_mode'``.
    """
    mapping_table = dict(
        PackDetInputs.mapping_table,
        gt_loss_weights='loss_weights',
        gt_mix_group='mix_group')

    def __init__(self,
                 meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                            'scale_factor', 'flip', 'flip_direction',
                            'mix_lambda', 'mix_mode')) -> None:
        super().__init__(meta_keys=meta_keys)
