"""How good a teacher's pseudo-boxes are, measured against ground truth the
student never trains on (a diagnostic of domain-adaptation runs)."""
from typing import Dict, List, Sequence

import torch
from mmdet.structures.bbox import bbox_overlaps, get_box_tensor
from mmengine.structures import InstanceData
from torch import Tensor


def match_pseudo_boxes(pseudo: InstanceData,
                       truth: InstanceData,
                       iou_thr: float = 0.5) -> Tensor:
    """Which pseudo-boxes find a ground-truth box, greedily by score.

    A pseudo-box, taken in decreasing score, is a hit when a ground-truth
    box of its label not matched yet overlaps it by IoU >= ``iou_thr``
    (the one it overlaps most), as VOC's and COCO's evaluations match.

    Args:
        pseudo (InstanceData): ``bboxes`` (P, 4), ``labels`` and
            ``scores`` (P, ).
        truth (InstanceData): ``bboxes`` (G, 4) and ``labels`` (G, ), in
            the same frame as ``pseudo``.
        iou_thr (float): the IoU a hit needs. Defaults to 0.5.

    Returns:
        Tensor: (P, ) bool, in the order of ``pseudo``.
    """
    hits = torch.zeros(len(pseudo), dtype=torch.bool)
    if len(pseudo) == 0 or len(truth) == 0:
        return hits
    ious = bbox_overlaps(
        get_box_tensor(pseudo.bboxes).float().cpu(),
        get_box_tensor(truth.bboxes).float().cpu())
    same = pseudo.labels.cpu()[:, None] == truth.labels.cpu()[None, :]
    ious = torch.where(same, ious, torch.full_like(ious, -1.0))
    taken = torch.zeros(len(truth), dtype=torch.bool)
    for k in torch.argsort(pseudo.scores.cpu(), descending=True).tolist():
        free = ious[k].masked_fill(taken, -1.0)
        best = int(free.argmax())
        if free[best] >= iou_thr:
            hits[k] = taken[best] = True
    return hits


def pseudo_quality(pseudo: List[InstanceData],
                   truth: List[InstanceData],
                   score_thrs: Sequence[float],
                   iou_thr: float = 0.5) -> Dict[str, float]:
    """Precision, recall and number per image of the pseudo-boxes kept at
    each score threshold (scores above it, as mmdet's
    ``filter_gt_instances``), over a batch.

    Args:
        pseudo (list[InstanceData]): the teacher's detections of each image
            (``bboxes``, ``labels``, ``scores``), before any threshold.
        truth (list[InstanceData]): each image's ground truth (``bboxes``,
            ``labels``) in the same frame.
        score_thrs (Sequence[float]): the thresholds to measure.
        iou_thr (float): the IoU a hit needs. Defaults to 0.5.

    Returns:
        dict[str, float]: for each threshold ``t``: ``pseudo_per_img@t``,
        ``pseudo_recall@t`` (hits / ground-truth boxes, when the batch has
        any) and ``pseudo_precision@t`` (hits / pseudo-boxes kept, when any
        is kept).
    """
    stats = dict()
    num_truth = sum(len(t) for t in truth)
    for thr in score_thrs:
        hits = kept = 0
        for preds, gts in zip(pseudo, truth):
            preds = preds[preds.scores > thr]  # as filter_gt_instances
            hits += int(match_pseudo_boxes(preds, gts, iou_thr).sum())
            kept += len(preds)
        stats[f'pseudo_per_img@{thr}'] = kept / max(len(pseudo), 1)
        if num_truth:
            stats[f'pseudo_recall@{thr}'] = hits / num_truth
        if kept:
            stats[f'pseudo_precision@{thr}'] = hits / kept
    return stats
