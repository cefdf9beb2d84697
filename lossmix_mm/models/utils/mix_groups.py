"""Split mixed ground truths by source image for the exact Eq. 14 mode."""
from typing import (Collection, List, NamedTuple, Optional, Sequence, Tuple,
                    Union)

import torch
from mmdet.models.task_modules.samplers import SamplingResult
from mmdet.utils import InstanceList
from mmengine.structures import InstanceData

from ...mixing import check_mix_mode, instance_weights
from .loss_weights import get_gt_loss_weights


class GroupPass(NamedTuple):
    """One term of Eq. 14 over a batch.

    Attributes:
        group (int): 0 for the own images' gts (y_i), 1 for the partners'
            (y_j).
        img_inds (list[int]): images of the batch with a coefficient > 0.
        gt_instances (InstanceList): their gts of this group, without
            ``loss_weights`` (``reg_weights`` are kept); each carries its
            image's coefficient as metainfo ``mix_coeff``.
        coeffs (list[float]): the coefficient of this term per image (see
            :func:`group_coefficients`).
        loss_scale (float): len(img_inds) / batch size, the factor that
            turns the pass's normaliser (its images) into the batch's.
    """
    group: int
    img_inds: List[int]
    gt_instances: InstanceList
    coeffs: List[float]
    loss_scale: float


def group_coefficients(img_meta: dict,
                       num_partner_gts: int = 0) -> Tuple[float, float]:
    """Coefficients of the own (y_i) and partner (y_j) terms of one image.

    Read from the metainfo ``mix_lambda`` (lam, coefficient of the own image
    in the pixels; 1.0 when absent: not mixed) and ``mix_mode``
    (``'lossmix'`` when absent):

    - ``'lossmix'``: (lam, 1 - lam), Eq. 14.
    - ``'union'``: (1, 1), L(y_i) + L(y_j); an image with coefficient 0 in
      the pixels has no term, so (1, 0) for lam = 1 (unmixed).
    - ``'noise'``: (1, 0), L(y_i) only.

    Args:
        img_meta (dict): metainfo of one image.
        num_partner_gts (int): how many of its gts have ``mix_group`` 1.
            Defaults to 0.

    Returns:
        tuple[float, float]: the own and partner coefficients, >= 0.

    Raises:
        ValueError: on an unknown ``mix_mode``, a ``mix_lambda`` outside
            [0, 1], or partner gts without ``mix_lambda`` (read as 1, it
            would drop them silently: the packer's ``meta_keys`` lost it).
    """
    if 'mix_lambda' not in img_meta and num_partner_gts > 0:
        raise ValueError(
            f'{num_partner_gts} gts of mix_group 1 (partner image) but no '
            'mix_lambda in the metainfo of image '
            f'{img_meta.get("img_path", img_meta.get("img_id"))!r}: pack '
            'with PackLossMixInputs and keep \'mix_lambda\' and '
            '\'mix_mode\' in its meta_keys')
    return instance_weights(
        check_mix_mode(img_meta.get('mix_mode', 'lossmix'), 'mix_mode'),
        img_meta.get('mix_lambda', 1.0))


def mix_group_passes(batch_gt_instances: InstanceList,
                     batch_img_metas: List[dict]) -> List[GroupPass]:
    """The terms of L = c_i * L(x~, y_i) + c_j * L(x~, y_j) over a batch.

    (c_i, c_j) of an image come from :func:`group_coefficients`; a gt's
    group is its ``mix_group`` (0 when absent). A pass holds the M images
    whose coefficient for it is > 0; its ``loss_scale`` = M / B scales the
    head's stock loss over them to the batch's average (exactly Eq. 14 per
    image when every image has the same normaliser in every pass; see
    docs/user_guides/mixing_modes.md).

    Args:
        batch_gt_instances (InstanceList): B sets of gts.
        batch_img_metas (list[dict]): B image metas.

    Returns:
        list[GroupPass]: the own pass (if any image has c_i > 0), then the
        partner pass (if any image has c_j > 0).
    """
    coeffs_per_img = [
        group_coefficients(meta, _checked_num_partner_gts(gt, meta))
        for gt, meta in zip(batch_gt_instances, batch_img_metas)
    ]
    passes = []
    for group in (0, 1):
        inds, gts, coeffs = [], [], []
        for i, gt in enumerate(batch_gt_instances):
            coeff = coeffs_per_img[i][group]
            if coeff <= 0:
                continue
            inds.append(i)
            coeffs.append(coeff)
            gts.append(select_group(gt, group, coeff))
        if inds:
            passes.append(
                GroupPass(group, inds, gts, coeffs,
                          len(inds) / len(batch_gt_instances)))
    return passes


def _checked_num_partner_gts(gt_instances: InstanceData,
                             img_meta: dict) -> int:
    """How many gts have ``mix_group`` 1 (0 without the field).

    Also checks ``loss_weights`` (:func:`get_gt_loss_weights`), which the
    passes drop: a NaN weight raises here as it does outside exact mode.

    Raises:
        ValueError: on a ``mix_group`` other than 0 (own image) or 1
            (partner), naming the image and the value.
    """
    get_gt_loss_weights(gt_instances)
    if 'mix_group' not in gt_instances:
        return 0
    groups = gt_instances.mix_group
    bad = groups[(groups != 0) & (groups != 1)]
    if bad.numel():
        image = img_meta.get('img_path', img_meta.get('img_id'))
        raise ValueError(f'gt_instances.mix_group of image {image!r} must be '
                         f'0 (own image) or 1 (partner), got '
                         f'{bad[0].item()}')
    return int((groups == 1).sum())


def select_group(gt_instances: InstanceData, group: int,
                 coeff: float) -> InstanceData:
    """The gts of one source image, unweighted, tagged with ``mix_coeff``.

    Args:
        gt_instances (InstanceData): N gts, optional ``mix_group`` (N, ).
        group (int): 0 own, 1 partner.
        coeff (float): the term's coefficient for this image.

    Returns:
        InstanceData: the M <= N gts of ``group`` without ``loss_weights``
        and ``mix_group`` (every other field, ``reg_weights`` included,
        follows its boxes), metainfo ``mix_coeff=coeff``.
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


def sum_pass_losses(pass_losses: List[dict],
                    loss_scales: Optional[Sequence[float]] = None) -> dict:
    """Add up the loss dicts of the passes.

    Keys with 'loss' in their name are scaled by their pass's
    ``loss_scale`` and summed (lists element-wise, as the RPN's per-level
    losses); other values (accuracies) are averaged, unscaled.

    Args:
        pass_losses (list[dict]): one loss dict per pass, same keys.
        loss_scales (Sequence[float], optional): one factor per pass;
            None means all ones.

    Returns:
        dict: the combined losses.
    """
    if loss_scales is None:
        loss_scales = [1.0] * len(pass_losses)
    total = {}
    for key in pass_losses[0]:
        values = [losses[key] for losses in pass_losses]
        is_loss = 'loss' in key
        if is_loss:
            values = [_scaled(v, s) for v, s in zip(values, loss_scales)]
        if isinstance(values[0], (list, tuple)):
            total[key] = [sum(level) for level in zip(*values)]
        else:
            total[key] = sum(values)
        if not is_loss:
            total[key] = total[key] / len(values)
    return total


def _scaled(value, scale: float):
    """``value * scale`` for a tensor or a list of tensors; as is for 1."""
    if scale == 1.0:
        return value
    if isinstance(value, (list, tuple)):
        return [v * scale for v in value]
    return value * scale


#: the exact modes of the RPN and RoI heads (``exact=True``: the first)
EXACT_MODES = ('single_pass', 'two_pass')


def resolve_exact_mode(exact: Union[bool, str],
                       modes: Sequence[str] = EXACT_MODES,
                       owner: str = 'exact') -> Optional[str]:
    """The exact mode an ``exact`` argument selects.

    Args:
        exact (bool | str): False (not exact), True (the first of
            ``modes``) or one of ``modes``.
        modes (Sequence[str]): the modes the head implements, its default
            first. Defaults to :data:`EXACT_MODES`.
        owner (str): how the argument is named in the error message.

    Returns:
        str or None: the mode, None for False.

    Raises:
        ValueError: on any other value, naming it and the valid ones.
    """
    if isinstance(exact, bool):
        return modes[0] if exact else None
    if isinstance(exact, str) and exact in modes:
        return exact
    valid = ', '.join(['False', 'True'] + [repr(m) for m in modes])
    raise ValueError(f'{owner} must be one of {valid}, got {exact!r}')


def sampling_gt_instances(gt_instances: InstanceData,
                          groups: Collection[int]) -> InstanceData:
    """The gts one shared sample of an image is drawn against: those of the
    groups whose term has a coefficient > 0 in the image.

    Args:
        gt_instances (InstanceData): N gts, optional ``mix_group`` (N, )
            (absent: all 0).
        groups (Collection[int]): the groups with a term (0, 1 or both).

    Returns:
        InstanceData: ``gt_instances`` itself when every gt's group has a
        term, else the M < N gts that do (every field follows its boxes).
    """
    if 'mix_group' in gt_instances:
        group_of = gt_instances.mix_group
    else:
        group_of = torch.zeros(
            len(gt_instances),
            dtype=torch.long,
            device=gt_instances.bboxes.device)
    keep = torch.zeros_like(group_of, dtype=torch.bool)
    for group in groups:
        keep |= group_of == group
    if bool(keep.all()):
        return gt_instances
    return gt_instances[keep]


def relabel_sampling_result(
        assigner,
        sampling_result: SamplingResult,
        gt_instances: InstanceData,
        gt_instances_ignore: Optional[InstanceData] = None) -> SamplingResult:
    """The RoIs of a sample, assigned to another label set.

    ``assigner`` (the head's, e.g. ``MaxIoUAssigner``) assigns the S sampled
    RoIs, and only those, to ``gt_instances``: a RoI assigned to a gt is
    positive, one assigned to background negative and one the assigner
    ignores (-1) is left out of both, as the stock sampler leaves ignored
    candidates out.

    Args:
        assigner: an mmdet assigner, ``assign(pred_instances, gt_instances,
            gt_instances_ignore)`` reading ``pred_instances.priors``.
        sampling_result (SamplingResult): the shared sample of one image,
            ``priors`` (S, 4): its positives, then its negatives.
        gt_instances (InstanceData): the label set, ``bboxes`` and
            ``labels`` (N, ...).
        gt_instances_ignore (InstanceData, optional): ignored boxes.

    Returns:
        SamplingResult: ``pos_inds`` / ``neg_inds`` (ascending) index the
        S RoIs of ``sampling_result.priors``; ``pos_assigned_gt_inds``,
        ``pos_gt_bboxes``, ``pos_gt_labels`` refer to ``gt_instances``;
        ``pos_is_gt`` is whether the RoI is a gt box added as a proposal
        (of either label set).
    """
    priors = sampling_result.priors
    assign_result = assigner.assign(
        InstanceData(priors=priors), gt_instances, gt_instances_ignore)
    gt_inds = assign_result.gt_inds
    pos_inds = torch.nonzero(gt_inds > 0, as_tuple=False).view(-1)
    neg_inds = torch.nonzero(gt_inds == 0, as_tuple=False).view(-1)
    num_neg = len(sampling_result.neg_inds)
    gt_flags = torch.cat([
        sampling_result.pos_is_gt,
        sampling_result.pos_is_gt.new_zeros(num_neg)
    ])
    return SamplingResult(pos_inds, neg_inds, priors, gt_instances.bboxes,
                          assign_result, gt_flags)


def __getattr__(name: str):
    """``loss_by_terms`` moved to :mod:`.sample_weights`; still importable
    from here."""
    if name == 'loss_by_terms':
        from .sample_weights import loss_by_terms
        return loss_by_terms
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
