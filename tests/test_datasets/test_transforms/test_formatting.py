import numpy as np
import torch

from mmdet.datasets.transforms import PackDetInputs
from mmdet.structures.bbox import HorizontalBoxes
from lossmix_mm.datasets.transforms import PackLossMixInputs


def results(with_lossmix=True):
    r = dict(
        img=np.zeros((6, 8, 3), dtype=np.float32),
        img_id=1,
        img_path='a.jpg',
        ori_shape=(6, 8),
        img_shape=(6, 8),
        scale_factor=(1.0, 1.0),
        flip=False,
        flip_direction=None,
        gt_bboxes=HorizontalBoxes(
            np.array([[0, 0, 2, 2], [1, 1, 3, 3], [2, 2, 4, 4]], np.float32)),
        gt_bboxes_labels=np.array([0, 1, 2], dtype=np.int64),
        gt_ignore_flags=np.array([False, True, False]))
    if with_lossmix:
        r.update(
            gt_loss_weights=np.array([0.3, 0.3, 0.7], dtype=np.float32),
            gt_mix_group=np.array([0, 0, 1], dtype=np.int64),
            mix_lambda=0.3,
            mix_mode='union')
    return r


def test_packs_weights_groups_and_lambda():
    sample = PackLossMixInputs()(results())['data_samples']
    gt = sample.gt_instances
    assert gt.loss_weights.dtype == torch.float32
    assert gt.mix_group.dtype == torch.int64
    # the ignored (second) box goes with its weight and group
    torch.testing.assert_close(gt.loss_weights, torch.tensor([0.3, 0.7]))
    torch.testing.assert_close(gt.mix_group, torch.tensor([0, 1]))
    torch.testing.assert_close(sample.ignored_instances.loss_weights,
                               torch.tensor([0.3]))
    assert sample.metainfo['mix_lambda'] == 0.3
    assert sample.metainfo['mix_mode'] == 'union'


def test_equals_pack_det_inputs_without_lossmix_keys():
    ours = PackLossMixInputs()(results(with_lossmix=False))
    stock = PackDetInputs()(results(with_lossmix=False))
    assert torch.equal(ours['inputs'], stock['inputs'])
    a, b = ours['data_samples'], stock['data_samples']
    assert set(a.gt_instances.keys()) == set(b.gt_instances.keys())
    assert torch.equal(a.gt_instances.bboxes.tensor,
                       b.gt_instances.bboxes.tensor)
    assert torch.equal(a.gt_instances.labels, b.gt_instances.labels)
    assert a.metainfo == b.metainfo
    assert 'mix_mode' not in a.metainfo
