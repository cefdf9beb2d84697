import copy
import pickle

import numpy as np
import pytest
import torch
from mmdet.structures.bbox import BaseBoxes, HorizontalBoxes, get_box_type

from lossmix_mm.structures import LossMixBoxes

# three boxes with distinct fields: box k has weight W[k], group G[k] and
# regression weight R[k]
BOXES = [[0, 0, 2, 2], [1, 2, 5, 6], [4, 4, 8, 10]]
W = [0.25, 0.5, 0.75]
G = [0, 1, 1]
R = [1.0, 0.0, 0.5]


def boxes():
    return LossMixBoxes(
        np.array(BOXES, np.float32),
        loss_weights=W,
        mix_group=G,
        reg_weights=R)


def fields(b):
    return (b.loss_weights.tolist(), b.mix_group.tolist(),
            b.reg_weights.tolist())


def test_defaults_dtypes_and_registration():
    b = LossMixBoxes(np.array(BOXES, np.float32))
    assert fields(b) == ([1, 1, 1], [0, 0, 0], [1, 1, 1])
    assert b.loss_weights.dtype == b.reg_weights.dtype == torch.float32
    assert b.mix_group.dtype == torch.int64
    empty = LossMixBoxes([])
    assert empty.tensor.shape == (0, 4) and empty.loss_weights.shape == (0, )
    assert get_box_type('lossmix_hbox') == ('lossmix_hbox', LossMixBoxes)
    assert isinstance(b, HorizontalBoxes)


def test_fields_cast_and_checked():
    b = LossMixBoxes(
        BOXES,
        loss_weights=np.array([1, 2, 3]),
        mix_group=np.array([0.0, 1.0, 1.0]))
    assert b.loss_weights.dtype == torch.float32
    assert b.loss_weights.tolist() == [1, 2, 3]
    assert b.mix_group.dtype == torch.int64
    with pytest.raises(
            ValueError,
            match=r'loss_weights must have one entry '
            r'per box, shape \(3,\), got shape \(2,\)'):
        LossMixBoxes(BOXES, loss_weights=[1, 1])
    with pytest.raises(ValueError, match=r'mix_group .* got shape \(3, 1\)'):
        b.mix_group = np.zeros((3, 1))
    # a set field is a copy: the source array does not alias it
    src = np.array([0.1, 0.2, 0.3], np.float32)
    b.loss_weights = src
    src[0] = 9
    assert b.loss_weights[0].item() == np.float32(0.1)


@pytest.mark.parametrize(
    'index,kept',
    [
        (1, [1]),
        (-1, [2]),
        (slice(1, None), [1, 2]),
        (torch.tensor([True, False, True]), [0, 2]),
        (torch.tensor([2, 0]), [2, 0]),
        (np.array([False, True, True]), [1, 2]),  # FilterAnnotations, crops
        (np.array([2, 1], dtype=np.int64), [2, 1]),  # PackDetInputs' np.where
        ([0, 0], [0, 0]),
    ])
def test_indexing_keeps_fields_aligned(index, kept):
    b = boxes()[index]
    assert type(b) is LossMixBoxes
    assert b.tensor.tolist() == [BOXES[k] for k in kept]
    assert fields(b) == ([W[k] for k in kept], [G[k] for k in kept],
                         [R[k] for k in kept])


def test_cat_accepts_plain_boxes_with_default_fields():
    plain = HorizontalBoxes([[9, 9, 10, 10]])
    out = LossMixBoxes.cat([boxes()[:1], plain, boxes()[2:]])
    assert type(out) is LossMixBoxes
    assert out.tensor.tolist() == [BOXES[0], [9, 9, 10, 10], BOXES[2]]
    assert fields(out) == ([W[0], 1, W[2]], [G[0], 0, G[2]], [R[0], 1, R[2]])
    # MixUp calls cat on an instance with a tuple; Mosaic on tile 0
    out = boxes().cat((plain, boxes()), 0)
    assert fields(out)[0] == [1] + W
    # the pitfall the transforms avoid: plain boxes' cat gives plain boxes
    assert type(HorizontalBoxes.cat([plain, boxes()])) is HorizontalBoxes
    with pytest.raises(ValueError, match='non-empty'):
        LossMixBoxes.cat([])


def test_clone_to_cpu_detach_deepcopy_are_independent():
    b = boxes()
    for other in (b.clone(), b.to('cpu'), b.cpu(), b.detach(),
                  copy.deepcopy(b), pickle.loads(pickle.dumps(b))):
        assert type(other) is LossMixBoxes
        assert other.tensor.tolist() == BOXES and fields(other) == (W, G, R)
    clone, deep = b.clone(), copy.deepcopy(b)
    for other in (clone, deep):
        other.loss_weights[0] = 7.0
        other.mix_group[1] = 0
    assert fields(b) == (W, G, R)
    # to(dtype) changes the boxes' dtype only
    wide = b.to(torch.float64)
    assert wide.dtype == torch.float64
    assert wide.loss_weights.dtype == torch.float32
    assert fields(wide) == (W, G, R)


def test_deepcopy_of_a_results_dict():
    """MultiImageMixDataset deep-copies every result."""
    results = dict(gt_bboxes=boxes(), other=[boxes()])
    out = copy.deepcopy(results)
    assert fields(out['gt_bboxes']) == (W, G, R)
    assert fields(out['other'][0]) == (W, G, R)


def test_setitem_writes_fields_too():
    b = boxes()
    b[1] = LossMixBoxes([[0, 0, 1, 1]],
                        loss_weights=[0.875],
                        mix_group=[0],
                        reg_weights=[0.375])
    assert b.tensor[1].tolist() == [0, 0, 1, 1]
    assert fields(b) == ([W[0], 0.875, W[2]], [0, 0, 1], [R[0], 0.375, R[2]])
    b[np.array([True, False, True])] = HorizontalBoxes([[1., 1., 2., 2.]] * 2)
    assert b.tensor.tolist() == [[1, 1, 2, 2], [0, 0, 1, 1], [1, 1, 2, 2]]
    assert fields(b) == ([1, 0.875, 1], [0, 0, 0], [1, 0.375, 1])


# (op, args, the boxes after it, derived by hand)
GEOMETRIC_OPS = [
    ('flip_', ((10, 10), 'horizontal'), [[8, 0, 10, 2], [5, 2, 9, 6],
                                         [2, 4, 6, 10]]),
    ('flip_', ((12, 10), 'vertical'), [[0, 10, 2, 12], [1, 6, 5, 10],
                                       [4, 2, 8, 8]]),
    ('translate_', ((2, -1), ), [[2, -1, 4, 1], [3, 1, 7, 5], [6, 3, 10, 9]]),
    ('clip_', ((5, 6), ), [[0, 0, 2, 2], [1, 2, 5, 5], [4, 4, 6, 5]]),
    ('rotate_', ((0, 0), 180), [[-2, -2, 0, 0], [-5, -6, -1, -2],
                                [-8, -10, -4, -4]]),
    ('project_', (np.array([[2, 0, 1], [0, 1, 0], [0, 0, 1]],
                           np.float32), ), [[1, 0, 5, 2], [3, 2, 11, 6],
                                            [9, 4, 17, 10]]),
    ('rescale_', ((0.5, 2), ), [[0, 0, 1, 4], [0.5, 4, 2.5, 12], [2, 8, 4,
                                                                  20]]),
    ('resize_', ((0.5, 2), ), [[0.5, -1, 1.5, 3], [2, 0, 4, 8], [5, 1, 7,
                                                                 13]]),
]


@pytest.mark.parametrize(
    'op,args,expected',
    GEOMETRIC_OPS,
    ids=[f'{o[0]}-{i}' for i, o in enumerate(GEOMETRIC_OPS)])
def test_in_place_geometric_ops_keep_fields(op, args, expected):
    b = boxes()
    assert getattr(b, op)(*args) is None
    np.testing.assert_allclose(b.tensor.numpy(), expected, atol=1e-5)
    assert fields(b) == (W, G, R)
    # the same as mmdet's HorizontalBoxes
    plain = HorizontalBoxes(np.array(BOXES, np.float32))
    getattr(plain, op)(*args)
    np.testing.assert_allclose(b.tensor.numpy(), plain.tensor.numpy())


def test_convert_to_empty_and_fake_boxes():
    b = boxes()
    assert b.convert_to('lossmix_hbox') is b
    assert b.convert_to(LossMixBoxes) is b
    plain = b.convert_to('hbox')
    assert type(plain) is HorizontalBoxes
    assert plain.tensor.tolist() == BOXES
    assert type(b.to_hbox()) is HorizontalBoxes
    # overlaps converts to 'hbox' (MinIoURandomCrop uses it)
    iou = LossMixBoxes.overlaps(b, HorizontalBoxes([[0, 0, 2, 1]]))
    np.testing.assert_allclose(iou[:, 0].numpy(), [0.5, 0, 0], atol=1e-6)
    empty = b.empty_boxes()
    assert type(empty) is LossMixBoxes and empty.loss_weights.shape == (0, )
    fake = b.fake_boxes((2, 4), fill=3)
    assert type(fake) is LossMixBoxes
    assert fake.tensor.tolist() == [[3] * 4] * 2
    assert fields(fake) == ([1, 1], [0, 0], [1, 1])


def test_reshaping_ops_carry_fields():
    b = boxes()
    assert fields(b.view(-1, 4)) == (W, G, R)
    assert fields(b.reshape((3, 4))) == (W, G, R)
    pieces = b.split([1, 2])
    assert [fields(p)[0] for p in pieces] == [W[:1], W[1:]]
    assert [fields(p)[1] for p in b.chunk(3)] == [[0], [1], [1]]
    stacked = LossMixBoxes.stack([b, b])
    assert stacked.tensor.shape == (2, 3, 4)
    assert stacked.loss_weights.tolist() == [W, W]
    assert stacked.transpose(0, 1).mix_group.tolist() == [[0, 0], [1, 1],
                                                          [1, 1]]
    assert stacked.permute(1, 0, 2).loss_weights.shape == (3, 2)
    assert stacked.flatten().loss_weights.tolist() == W + W
    assert b.unsqueeze(0).loss_weights.tolist() == [W]
    assert b.unsqueeze(-2).loss_weights.tolist() == [[w] for w in W]
    assert b.unsqueeze(-2).tensor.shape == (3, 1, 4)
    assert b.unsqueeze(0).squeeze(0).loss_weights.tolist() == W
    assert b.repeat(2, 1).mix_group.tolist() == G + G
    assert b[:1].expand(2, 4).loss_weights.tolist() == [W[0]] * 2


def test_from_boxes():
    b = boxes()
    assert LossMixBoxes.from_boxes(b) is b
    plain = HorizontalBoxes(BOXES)
    converted = LossMixBoxes.from_boxes(plain)
    assert converted.tensor is plain.tensor  # no copy: the caller clones
    assert fields(converted) == ([1] * 3, [0] * 3, [1] * 3)
    arr = LossMixBoxes.from_boxes(np.array(BOXES, np.float64))
    assert arr.dtype == torch.float32 and arr.tensor.tolist() == BOXES
    assert LossMixBoxes.from_boxes(np.zeros((0, 4))).tensor.shape == (0, 4)


def test_from_boxes_refuses_other_box_types():

    class FiveBoxes(BaseBoxes):
        box_dim = 5

    FiveBoxes.__abstractmethods__ = frozenset()
    with pytest.raises(TypeError, match='horizontal boxes; got FiveBoxes'):
        LossMixBoxes.from_boxes(FiveBoxes(torch.zeros(1, 5)))


def test_repr_names_fields():
    text = repr(boxes())
    assert text.startswith('LossMixBoxes(') and 'loss_weights=' in text
    assert 'mix_group=tensor([0, 1, 1])' in text


def test_non_integer_mix_group_refused():
    """A group of 0.5 is neither image: refused, not truncated to 0."""
    with pytest.raises(ValueError, match=r'mix_group must hold integers'):
        LossMixBoxes(torch.zeros(3, 4), mix_group=[0, 0.5, 1])
    boxes = LossMixBoxes(torch.zeros(2, 4), mix_group=np.array([0., 1.]))
    assert boxes.mix_group.tolist() == [0, 1]


def test_stack_along_a_negative_dim_and_mixed_storages():
    b = boxes()
    plain = LossMixBoxes(np.array(BOXES, np.float32))  # no storages yet
    stacked = LossMixBoxes.stack([b, plain], dim=-2)
    assert stacked.tensor.shape == (3, 2, 4)
    assert stacked.loss_weights.tolist() == [[w, 1.0] for w in W]
    assert stacked.mix_group.tolist() == [[g, 0] for g in G]


def test_default_boxes_carry_no_storage_until_a_field_is_used():
    b = LossMixBoxes(np.array(BOXES, np.float32))
    assert b._weights is None and b._groups is None
    out = LossMixBoxes.cat([b[:1], b[1:].clone()])
    assert out._weights is None and out._groups is None
    assert not b.has_group(1) and b.has_group(0)
    assert b._groups is None  # has_group did not make it
    assert not LossMixBoxes([]).has_group(0)
    assert b.mix_group.tolist() == [0, 0, 0] and b._groups is not None
    assert boxes().has_group(1) and not boxes()[:1].has_group(1)


def test_a_field_read_is_a_view_and_a_set_a_new_storage():
    b = boxes()
    weights = b.loss_weights
    weights[0] = 9.0  # writing into the read field writes the boxes'
    assert b.loss_weights[0].item() == 9.0
    b.loss_weights = [1, 2, 3]  # a view read before keeps its values
    assert weights.tolist() == [9.0] + W[1:]
    visible = b.visible
    b.clip_((4, 4))  # so does a clip's new visible share
    assert visible.tolist() == [1, 1, 1]
    assert b.visible.tolist() == [1.0, 0.375, 0.0]
    groups = b.mix_group
    groups[0] = 1
    assert b.mix_group.tolist() == [1, 1, 1]
    # an indexed copy of the boxes does not share their fields
    kept = b[torch.tensor([True, False, True])]
    kept.reg_weights[0] = 5.0
    assert b.reg_weights[0].item() == R[0]


def test_clip_of_integer_boxes_keeps_their_dtype():
    b = LossMixBoxes(torch.tensor([[-2, 0, 2, 4]]), clone=False)
    b.clip_to_((0.0, 0.0, 1.5, 8.0))
    assert b.tensor.dtype == torch.int64 and b.tensor.tolist() == [[
        0, 0, 1, 4
    ]]
    assert b.visible.tolist() == [0.25]  # 1 x 4 of 4 x 4: the stored box
