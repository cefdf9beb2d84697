import pytest
import torch
from mmengine.structures import InstanceData

from mmdet.models.task_modules.assigners import HungarianAssigner
from lossmix_mm.models.utils import recorded_assignments


class Head:

    def __init__(self):
        self.assigner = HungarianAssigner(
            match_costs=[dict(type='BBoxL1Cost', weight=1.0)])


def assign(head, gt_boxes):
    preds = InstanceData(bboxes=torch.tensor([[0., 0, 10,
                                               10], [20, 20, 40, 40],
                                              [5, 5, 15, 15]]),
                         scores=torch.zeros(3, 2))
    gts = InstanceData(bboxes=torch.tensor(gt_boxes),
                       labels=torch.zeros(len(gt_boxes), dtype=torch.long))
    return head.assigner.assign(preds, gts, img_meta=dict(img_shape=(64, 64)))


def test_records_each_assignment_and_restores():
    head = Head()
    with recorded_assignments(head) as outer:
        first = assign(head, [[20., 20, 40, 40]])
        with recorded_assignments(head) as inner:
            second = assign(head, [[5., 5, 15, 15], [0., 0, 10, 10]])
        third = assign(head, [[0., 0, 10, 10]])
    assert outer == [first, second, third] and inner == [second]
    assert first.gt_inds.tolist() == [0, 1, 0]  # query 1 -> gt 0 (1-based)
    assert second.gt_inds.tolist() == [2, 0, 1]
    assert 'assign' not in vars(head.assigner)
    assign(head, [[0., 0, 10, 10]])  # the class method again
    assert len(outer) == 3


def test_restored_on_error():
    head = Head()
    with pytest.raises(RuntimeError, match='boom'):
        with recorded_assignments(head):
            raise RuntimeError('boom')
    assert 'assign' not in vars(head.assigner)
