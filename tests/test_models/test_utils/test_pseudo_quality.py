"""Pseudo-label quality: greedy matching and precision / recall per score
threshold, hand-derived."""
import pytest
import torch

from lossmix_mm.models.utils.pseudo_quality import (match_pseudo_boxes,
                                                    pseudo_quality)
from lossmix_test_utils import make_gts


def instances(boxes, labels, scores=None):
    out = make_gts(boxes, labels)
    if scores is not None:
        out.scores = torch.tensor(scores, dtype=torch.float32)
    return out


# two objects: A [0, 0, 10, 10] class 0, B [20, 20, 30, 30] class 1
TRUTH = instances([[0, 0, 10, 10], [20, 20, 30, 30]], [0, 1])
PSEUDO = instances(
    [
        [0, 0, 10, 10],  # 0.6: A exactly, but after box 2 in score order
        [20, 20, 30, 30],  # 0.95: B with the wrong class
        [0, 0, 10, 8],  # 0.9: A at IoU 0.8, the first to claim A
        [20, 20, 30, 26],  # 0.4: B, class 1, IoU 0.6
        [50, 50, 60, 60],  # 0.85: nothing there
    ],
    [0, 0, 0, 1, 1],
    [0.6, 0.95, 0.9, 0.4, 0.85])


def test_greedy_matching_by_score_label_and_iou():
    hits = match_pseudo_boxes(PSEUDO, TRUTH)
    # box 2 (0.9) takes A before box 0 (0.6), a duplicate; box 1 has the
    # wrong class; box 3 finds B at IoU 0.6; box 4 finds nothing
    assert hits.tolist() == [False, False, True, True, False]
    # at IoU 0.7 box 3 (0.6) misses B
    assert match_pseudo_boxes(
        PSEUDO, TRUTH, 0.7).tolist() == [False] * 2 + [True, False, False]
    assert match_pseudo_boxes(PSEUDO[:0], TRUTH).tolist() == []
    assert match_pseudo_boxes(PSEUDO, TRUTH[:0]).tolist() == [False] * 5


def test_precision_recall_and_boxes_per_image_per_threshold():
    empty_image = (instances([], [], []), instances([], []))
    stats = pseudo_quality([PSEUDO, empty_image[0]], [TRUTH, empty_image[1]],
                           (0.3, 0.5, 0.8, 0.95))
    # above 0.3: all 5 boxes, hits 2 of 2 objects
    assert stats['pseudo_per_img@0.3'] == 2.5
    assert stats['pseudo_precision@0.3'] == pytest.approx(2 / 5)
    assert stats['pseudo_recall@0.3'] == 1.0
    # above 0.5: boxes 0, 1, 2, 4: box 2 hits A, box 0 is its duplicate
    assert stats['pseudo_per_img@0.5'] == 2.0
    assert stats['pseudo_precision@0.5'] == pytest.approx(1 / 4)
    assert stats['pseudo_recall@0.5'] == 0.5
    # above 0.8: boxes 1, 2, 4
    assert stats['pseudo_precision@0.8'] == pytest.approx(1 / 3)
    # above 0.95 (strictly): nothing kept, precision undefined: not given
    assert stats['pseudo_per_img@0.95'] == 0.0
    assert stats['pseudo_recall@0.95'] == 0.0
    assert 'pseudo_precision@0.95' not in stats
    # no object in the batch: recall undefined, not given
    no_truth = pseudo_quality([PSEUDO], [TRUTH[:0]], (0.5, ))
    assert no_truth == {'pseudo_per_img@0.5': 4.0, 'pseudo_precision@0.5': 0.0}
