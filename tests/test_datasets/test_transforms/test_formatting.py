import numpy as np
import pytest
import torch
from mmdet.datasets.transforms import PackDetInputs
from mmdet.structures.bbox import HorizontalBoxes

from lossmix_mm.datasets.transforms import PackLossMixInputs
from lossmix_mm.structures import LossMixBoxes

BOXES = np.array([[0, 0, 2, 2], [1, 1, 3, 3], [2, 2, 4, 4]], np.float32)


def results(with_lossmix=True, reg_weights=None):
    r = dict(
        img=np.zeros((6, 8, 3), dtype=np.float32),
        img_id=1,
        img_path='a.jpg',
        ori_shape=(6, 8),
        img_shape=(6, 8),
        scale_factor=(1.0, 1.0),
        flip=False,
        flip_direction=None,
        gt_bboxes=HorizontalBoxes(BOXES),
        gt_bboxes_labels=np.array([0, 1, 2], dtype=np.int64),
        gt_ignore_flags=np.array([False, True, False]))
    if not with_lossmix:
        return r
    fields = dict(
        loss_weights=[0.25, 0.25, 0.75],
        mix_group=[0, 0, 1],
        reg_weights=reg_weights)
    r['gt_bboxes'] = LossMixBoxes(BOXES, **fields)
    r.update(mix_lambda=0.25, mix_mode='union')
    return r


def test_packs_weights_groups_and_lambda():
    sample = PackLossMixInputs()(results())['data_samples']
    gt = sample.gt_instances
    assert gt.loss_weights.dtype == torch.float32
    assert gt.mix_group.dtype == torch.int64
    # the ignored (second) box goes with its weight and group
    torch.testing.assert_close(gt.loss_weights, torch.tensor([0.25, 0.75]))
    torch.testing.assert_close(gt.mix_group, torch.tensor([0, 1]))
    torch.testing.assert_close(sample.ignored_instances.loss_weights,
                               torch.tensor([0.25]))
    assert sample.metainfo['mix_lambda'] == 0.25
    assert sample.metainfo['mix_mode'] == 'union'
    # the boxes are what stock PackDetInputs gives: plain HorizontalBoxes
    assert type(gt.bboxes) is HorizontalBoxes
    assert type(sample.ignored_instances.bboxes) is HorizontalBoxes
    np.testing.assert_array_equal(gt.bboxes.numpy(), BOXES[[0, 2]])
    assert 'reg_weights' not in gt  # all ones: absent


def test_reg_weights_packed_only_when_not_all_ones():
    packed = PackLossMixInputs()(results(reg_weights=[1.0, 0.0, 0.5]))
    sample = packed['data_samples']
    torch.testing.assert_close(sample.gt_instances.reg_weights,
                               torch.tensor([1.0, 0.5]))
    torch.testing.assert_close(sample.ignored_instances.reg_weights,
                               torch.tensor([0.0]))
    ones = PackLossMixInputs()(results(reg_weights=[1.0, 1.0, 1.0]))
    assert 'reg_weights' not in ones['data_samples'].gt_instances


def test_does_not_modify_results():
    r = results()
    boxes = r['gt_bboxes']
    PackLossMixInputs()(r)
    assert r['gt_bboxes'] is boxes and 'gt_loss_weights' not in r


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


@pytest.mark.parametrize('dtype', [np.int64, np.float64, np.float16])
@pytest.mark.parametrize('float_groups', [False, True])
def test_weights_of_any_dtype_pack_as_float32(dtype, float_groups):
    r = results()
    r['gt_bboxes'].loss_weights = np.array([1, 2, 3], dtype=dtype)
    if float_groups:
        r['gt_bboxes'].mix_group = np.array([0.0, 0.0, 1.0])
    gt = PackLossMixInputs()(r)['data_samples'].gt_instances
    assert gt.loss_weights.dtype == torch.float32
    assert gt.loss_weights.tolist() == [1.0, 3.0]
    assert gt.mix_group.dtype == torch.int64
    assert gt.mix_group.tolist() == [0, 1]


@pytest.mark.parametrize('bad', ['0.5', b'0.5', True, None, [0.5]])
def test_mix_lambda_must_be_a_number(bad):
    r = results()
    r['mix_lambda'] = bad
    with pytest.raises(
            ValueError,
            match=r'mix_lambda must be a number in '
            r'\[0, 1\], got ' +
            repr(bad).replace('[', r'\[').replace(']', r'\]')):
        PackLossMixInputs()(r)


def test_numpy_mix_lambda_packs_as_float():
    r = results()
    r['mix_lambda'] = np.float64(0.25)
    sample = PackLossMixInputs()(r)['data_samples']
    assert type(sample.mix_lambda) is float and sample.mix_lambda == 0.25


@pytest.mark.parametrize('plain', [
    HorizontalBoxes(BOXES), BOXES,
    HorizontalBoxes(np.zeros((0, 4), np.float32))
])
def test_mixed_sample_with_plain_boxes_raises(plain):
    """The fields were lost (e.g. MixUp's partner loaded as plain boxes):
    one clear error, never weights of 1 by default."""
    r = results()
    r['gt_bboxes'] = plain
    with pytest.raises(
            ValueError,
            match=r"mixed sample 'a\.jpg' \(mix_lambda "
            r"0\.25\) reached PackLossMixInputs with plain "
            r"gt_bboxes .*box_type='lossmix_hbox'"):
        PackLossMixInputs()(r)


@pytest.mark.parametrize('key',
                         ['gt_loss_weights', 'gt_mix_group', 'gt_reg_weights'])
@pytest.mark.parametrize('boxes', [LossMixBoxes, HorizontalBoxes])
def test_fields_given_as_keys_raise(key, boxes):
    """The boxes are the only way in: an old pipeline's keys fail loudly,
    on plain boxes and beside the fields on LossMixBoxes alike."""
    r = results()
    r['gt_bboxes'] = boxes(BOXES)
    r[key] = np.ones(3, np.float32)
    with pytest.raises(
            ValueError,
            match=rf"\['{key}'\] given as results "
            r"keys of 'a\.jpg'.*only on the boxes, "
            r'gt_bboxes=LossMixBoxes\(boxes, loss_weights=\.\.\., '
            r'mix_group=\.\.\.'):
        PackLossMixInputs()(r)


@pytest.mark.parametrize('field,value,match', [
    ('loss_weights', [0.5, 0.0, 1.0], r'LossMixBoxes loss_weights must be '
     r'finite and > 0 .*\[0\.5, 0\.0, 1\.0\]'),
    ('loss_weights', [0.5, np.nan, 1.0
                      ], 'LossMixBoxes loss_weights must be finite'),
    ('reg_weights', [0.5, -1.0, 1.0], r'LossMixBoxes reg_weights must be '
     r'finite and >= 0, got \[0\.5, -1\.0, 1\.0\]'),
    ('mix_group', [0, 2, 1
                   ], r'LossMixBoxes mix_group must be 0 .* got \[0, 2, 1\]'),
])
def test_bad_field_values_raise(field, value, match):
    r = results()
    setattr(r['gt_bboxes'], field, value)
    with pytest.raises(ValueError, match=match):
        PackLossMixInputs()(r)


def test_partner_group_without_mix_lambda_raises():
    r = results()
    del r['mix_lambda']
    with pytest.raises(
            ValueError,
            match=r"1 gts of mix_group 1 \(partner "
            r"image\) but no mix_lambda in the results of "
            r"'a\.jpg'"):
        PackLossMixInputs()(r)


def test_boxes_whose_tensor_was_replaced_raise():
    """A field that no longer has one entry per box is refused, never
    packed against the wrong boxes."""
    r = results()
    r['gt_bboxes'].tensor = r['gt_bboxes'].tensor[:2]
    with pytest.raises(
            ValueError, match='loss_weights has 3 entries for 2 '
            'boxes'):
        PackLossMixInputs()(r)
