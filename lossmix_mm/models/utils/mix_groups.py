"""Split mixed ground truths by source image for the exact Eq. 14 mode."""
from typing import List, NamedTuple

from mmengine.structures import InstanceData

from mmdet.utils import InstanceList


class GroupPass(NamedTuple):
    """One term of Eq. 14 over a batch.

    Attributes:
        group (int): 0 for the own images' gts (y_i), 1 for the partners'
            (y_j).
        img_inds (list[int]): images of the batch with a coefficient > 0.
        gt_instances (InstanceList): their gts of this group, without
            ``loss_weights``; each carries its image's coefficient as
            metainfo ``mix_coeff``.
        coeffs (list[float]): lam (group 0) or 1 - lam (group 1) per image.
    """
    group: int
    img_inds: List[int]
    gt_instances: InstanceList
    coeffs: List[float]


def mix_group_passes(batch_gt_instances: InstanceList,
                     batch_img_metas: List[dict]) -> List[GroupPass]:
    """The terms of L = lam * L(x~, y_i) + (1 - lam) * L(x~, y_j).

    lam of an image is its metainfo ``mix_lambda`` (1.0 when absent: an
    unmixed image has only the own term); the group of a gt is its
    ``mix_group`` (0 when absent). A pass holds the images whose coefficient
    for it is > 0.

    Args:
        batch_gt_instances (InstanceList): B sets of gts.
        batch_img_metas (list[dict]): B image metas.

    Returns:
        list[GroupPass]: the own pass (if any image has lam > 0), then the
        partner pass (if any image has lam < 1).
    """
    passes = []
    for group in (0, 1):
        inds, gts, coeffs = [], [], []
        for i, (gt, meta) in enumerate(zip(batch_gt_instances,
                                           batch_img_metas)):
            lam = float(meta.get('mix_lambda', 1.0))
            coeff = lam if group == 0 else 1.0 - lam
            if coeff <= 0:
                continue
            inds.append(i)
            coeffs.append(coeff)
            gts.append(select_group(gt, group, coeff))
        if inds:
            passes.append(GroupPass(group, inds, gts, coeffs))
    return passes


def select_group(gt_instances: InstanceData, group: int,
                 coeff: float) -> InstanceData:
    """The gts of one source image, unweighted, tagged with ``mix_coeff``.

    Args:
        gt_instances (InstanceData): N gts, optional ``mix_group`` (N, ).
        group (int): 0 own, 1 partner.
        coeff (float): the term's coefficient for this image.

    Returns:
        InstanceData: the M <= N gts of ``group`` without ``loss_weights``
        and ``mix_group``, metainfo ``mix_coeff=coeff``.
    """
    if 'mix_group' in gt_instances:
        selected = gt_instances[gt_instances.mix_group == group]
    elif group == 0:
        selected = gt_instances.clone()
    else:
        selected = gt_instances[0:0]
    for key in ('loss_weights', 'mix_group'):
        if key in selected:
            selected.pop(key)
    selected.set_metainfo(dict(mix_coeff=float(coeff)))
    return selected


def sum_pass_losses(pass_losses: List[dict]) -> dict:
    """Add up the loss dicts of the passes.

    Keys with 'loss' in their name are summed (lists element-wise, as the
    RPN's per-level losses); other values (accuracies) are averaged.

    Args:
        pass_losses (list[dict]): one loss dict per pass, same keys.

    Returns:
        dict: the combined losses.
    """
    total = {}
    for key in pass_losses[0]:
        values = [losses[key] for losses in pass_losses]
        if isinstance(values[0], (list, tuple)):
            total[key] = [sum(level) for level in zip(*values)]
        else:
            total[key] = sum(values)
        if 'loss' not in key:
            total[key] = total[key] / len(values)
    return total
