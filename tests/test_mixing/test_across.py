"""mix_batch and mix_across: canvas, pixels, weights, groups and masks
against hand-derived values and LossMixPair."""
import numpy as np
import pytest
import torch
from mmdet.registry import MODELS
from mmdet.structures.bbox import HorizontalBoxes
from mmdet.structures.mask import BitmapMasks, PolygonMasks

from lossmix_mm.datasets.transforms import LossMixPair, PackLossMixInputs
from lossmix_mm.mixing.across import mix_across, mix_batch
from lossmix_test_utils import BATCH_SIZES, batch_raw, preprocess_batch


def test_matches_pair_transform_exactly():
    """Same two images, same lam: in-batch mixing == LossMixPair."""
    inputs, samples = preprocess_batch([0, 1])
    lams = torch.tensor([0.3, 0.8])
    mixed, samples = mix_batch(inputs, samples, torch.tensor([1, 0]), lams)
    for b, p in ((0, 1), (1, 0)):
        t = LossMixPair()
        t.sample_lambda = lambda: float(lams[b])
        ref = t.transform(dict(batch_raw(b), mix_results=[batch_raw(p)]))
        h, w = ref['img'].shape[:2]
        assert samples[b].img_shape == (h, w) == (4, 10)
        np.testing.assert_allclose(
            mixed[b, :, :h, :w].permute(1, 2, 0).numpy(),
            ref['img'],
            rtol=1e-6,
            atol=1e-4)
        gt = samples[b].gt_instances
        ref_gt = PackLossMixInputs()(ref)['data_samples'].gt_instances
        np.testing.assert_allclose(gt.bboxes.numpy(), ref_gt.bboxes.numpy())
        np.testing.assert_allclose(
            gt.loss_weights.numpy(), ref_gt.loss_weights.numpy(), rtol=1e-6)
        np.testing.assert_array_equal(gt.mix_group.numpy(),
                                      ref_gt.mix_group.numpy())
        np.testing.assert_array_equal(gt.labels.numpy(), ref_gt.labels.numpy())
        assert samples[b].mix_lambda == pytest.approx(float(lams[b]))


def test_hand_derived_canvas_and_metainfo():
    # 4x6 own with 6x4 partner: canvas 6x6; own at y offset 1, x 0,
    # partner at x offset 1, y 0. Batch tensor is 6x6 too.
    inputs, samples = preprocess_batch([0, 2])
    own, partner = inputs[0].clone(), inputs[1].clone()
    mixed, samples = mix_batch(inputs, samples, torch.tensor([1, 1]),
                               torch.tensor([0.25, 1.0]))
    assert samples[0].img_shape == (6, 6)
    assert samples[0].pad_shape == (6, 6)
    assert samples[0].batch_input_shape == (6, 6)
    # pixel (y=0, x=0): only... neither (own starts at y 1, partner at x 1)
    assert torch.all(mixed[0, :, 0, 0] == 0)
    # (y=0, x=2): partner only at its (0, 1)
    torch.testing.assert_close(mixed[0, :, 0, 2], 0.75 * partner[:, 0, 1])
    # (y=1, x=0): own only at its (0, 0)
    torch.testing.assert_close(mixed[0, :, 1, 0], 0.25 * own[:, 0, 0])
    # (y=2, x=3): own (1, 3) and partner (2, 2)
    torch.testing.assert_close(mixed[0, :, 2, 3],
                               0.25 * own[:, 1, 3] + 0.75 * partner[:, 2, 2])
    torch.testing.assert_close(samples[0].gt_instances.bboxes,
                               torch.tensor([[1., 2., 3., 4.]]))
    torch.testing.assert_close(samples[0].gt_instances.loss_weights,
                               torch.tensor([0.25]))
    # lam 1: untouched image, weights 1, group 0
    assert torch.equal(mixed[1], partner)
    assert samples[1].img_shape == (6, 4)
    assert samples[1].mix_lambda == 1.0
    assert len(samples[1].gt_instances) == 0
    assert samples[1].gt_instances.loss_weights.shape == (0, )


def test_modes_and_normalised_padding():
    mean, std = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]
    inputs, samples = preprocess_batch([0, 1], mean=mean, std=std)
    mixed, samples = mix_batch(
        inputs,
        samples,
        torch.tensor([1, 0]),
        torch.tensor([0.6, 0.9]),
        mode='union')
    np.testing.assert_allclose(samples[0].gt_instances.loss_weights, [1, 1, 1])
    # canvas (4, 10): own 4x6 at x 2 -> column 0, row 0 is outside both
    # images: 0 in normalised values = the mean pixel
    assert torch.all(mixed[0, :, 0, 0] == 0)

    inputs, samples = preprocess_batch([0, 1])
    mixed, samples = mix_batch(
        inputs,
        samples,
        torch.tensor([1, 0]),
        torch.tensor([0.85, 0.95]),
        mode='noise')
    np.testing.assert_allclose(samples[0].gt_instances.loss_weights, [1])
    np.testing.assert_array_equal(samples[0].gt_instances.mix_group, [0])
    assert len(samples[1].gt_instances) == 2


def test_existing_weights_multiply_and_ignored_follow():
    inputs, samples = preprocess_batch([0, 1])
    samples[0].gt_instances.loss_weights = torch.tensor([0.5])
    samples[1].ignored_instances.bboxes = torch.tensor([[0., 0., 1., 1.]])
    samples[1].ignored_instances.labels = torch.tensor([0])
    _, samples = mix_batch(inputs, samples, torch.tensor([1, 0]),
                           torch.tensor([0.4, 1.0]))
    np.testing.assert_allclose(
        samples[0].gt_instances.loss_weights, [0.2, 0.6, 0.6], rtol=1e-6)
    ign = samples[0].ignored_instances
    torch.testing.assert_close(ign.bboxes, torch.tensor([[0., 1., 1., 2.]]))
    np.testing.assert_allclose(ign.loss_weights, [0.6], rtol=1e-6)


def test_self_partner_is_no_mix():
    """Eq. 14 with y_i = y_j is L(y_i): a fixed point of the permutation
    leaves its image alone, at weight 1."""
    inputs, samples = preprocess_batch([0, 1])
    before = inputs.clone()
    mixed, samples = mix_batch(inputs, samples, torch.tensor([0, 0]),
                               torch.tensor([0.3, 0.6]))
    assert torch.equal(mixed[0], before[0])
    assert samples[0].mix_lambda == 1.0
    np.testing.assert_allclose(samples[0].gt_instances.loss_weights, [1.0])
    assert samples[1].mix_lambda == pytest.approx(0.6)


@pytest.mark.parametrize('lams,match', [([1.5, 0.5], r'\[0, 1\]'),
                                        ([float('nan'), 0.5], r'\[0, 1\]'),
                                        ([-0.1, 0.5], r'\[0, 1\]')])
def test_mix_batch_rejects_bad_lambdas(lams, match):
    inputs, samples = preprocess_batch([0, 1])
    with pytest.raises(ValueError, match=match):
        mix_batch(inputs, samples, torch.tensor([1, 0]), torch.tensor(lams))


def test_mix_batch_rejects_bad_mode_and_partner():
    inputs, samples = preprocess_batch([0, 1])
    with pytest.raises(ValueError, match="'cutmix'"):
        mix_batch(
            inputs,
            samples,
            torch.tensor([1, 0]),
            torch.tensor([0.5, 0.5]),
            mode='cutmix')
    with pytest.raises(ValueError, match='partner indices'):
        mix_batch(inputs, samples, torch.tensor([2, 0]),
                  torch.tensor([0.5, 0.5]))


def test_reg_weights_follow_their_boxes():
    """Per-box regression weights (0 for pseudo-boxes) are carried with the
    boxes, ones where a sample had none."""
    inputs, samples = preprocess_batch([0, 1])
    num0 = len(samples[0].gt_instances)
    samples[0].gt_instances.reg_weights = torch.zeros(num0)
    mixed, samples = mix_batch(inputs, samples, torch.tensor([1, 0]),
                               torch.tensor([0.7, 0.4]), 'lossmix')
    for b, own_reg in ((0, 0.0), (1, 1.0)):
        gts = samples[b].gt_instances
        groups = gts.mix_group.tolist()
        for g, w in zip(groups, gts.reg_weights.tolist()):
            expect = own_reg if g == 0 else 1.0 - own_reg
            assert w == expect
        assert samples[b].mix_mode == 'lossmix'


# ------------------------------------------------------------------- masks
# Source images are black with one or two bright rectangles (the objects,
# boxes and masks) in the image's own colour channel. After mixing, mask k
# covers exactly the batch pixels of its colour times its coefficient and
# box k is its bounding box.
MASK_IMAGES = [  # (h, w), rectangles, channel, value
    ((6, 10), [[1, 1, 4, 4]], 0, 200),
    ((10, 6), [[3, 6, 5, 9], [0, 0, 2, 2]], 2, 160),
    ((8, 8), [], 1, 90),
]


def masked_raw(i, mask_type):
    (h, w), rects, channel, value = MASK_IMAGES[i]
    img = np.zeros((h, w, 3), dtype=np.uint8)
    bitmaps = np.zeros((len(rects), h, w), dtype=np.uint8)
    polygons = []
    for k, (x0, y0, x1, y1) in enumerate(rects):
        img[y0:y1, x0:x1, channel] = value
        bitmaps[k, y0:y1, x0:x1] = 1
        polygons.append([np.array([x0, y0, x1, y0, x1, y1, x0, y1], float)])
    boxes = np.array(rects, np.float32).reshape(-1, 4)
    return dict(
        img=img,
        img_id=i,
        img_path=f'm{i}.png',
        ori_shape=(h, w),
        img_shape=(h, w),
        scale_factor=(1.0, 1.0),
        flip=False,
        flip_direction=None,
        gt_bboxes=HorizontalBoxes(boxes),
        gt_bboxes_labels=np.arange(len(boxes), dtype=np.int64),
        gt_ignore_flags=np.zeros(len(boxes), dtype=bool),
        gt_masks=(BitmapMasks(bitmaps, h, w)
                  if mask_type == 'bitmap' else PolygonMasks(polygons, h, w)))


def masked_batch(indices, mask_type, **kwargs):
    pre = MODELS.build(dict(type='DetDataPreprocessor', **kwargs))
    packed = [PackLossMixInputs()(masked_raw(i, mask_type)) for i in indices]
    data = pre(
        dict(
            inputs=[p['inputs'] for p in packed],
            data_samples=[p['data_samples'] for p in packed]), True)
    return data['inputs'], data['data_samples']


def mask_arrays(masks):
    return masks.masks if isinstance(masks, BitmapMasks) else \
        masks.to_ndarray()


def mask_boxes(masks):
    out = []
    for m in mask_arrays(masks):
        ys, xs = np.nonzero(m)
        out.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
    return np.array(out, dtype=np.float32).reshape(-1, 4)


def check_masks_on_pixels(img, gts, colours):
    """img (C, H, W); mask k is of colour k; the masks of one colour cover
    exactly the pixels of that colour; box k bounds mask k."""
    img = img.permute(1, 2, 0).numpy()
    arrays = mask_arrays(gts.masks).astype(bool)
    assert arrays.shape == (len(colours), ) + img.shape[:2]
    for m, colour in zip(arrays, colours):
        assert m.any()
        same = np.isclose(img, colour, rtol=1e-5).all(-1)
        assert same[m].all()
        union = np.any(
            [a for a, c in zip(arrays, colours) if np.array_equal(c, colour)],
            axis=0)
        np.testing.assert_array_equal(union, same)
    np.testing.assert_allclose(mask_boxes(gts.masks), gts.bboxes.numpy())


def colours_of(i, coeff):
    (_, rects, channel, value) = MASK_IMAGES[i]
    colour = np.zeros(3)
    colour[channel] = coeff * value
    return [colour] * len(rects)


MASK_TYPES = ('bitmap', 'polygon')


@pytest.mark.parametrize('mask_type', MASK_TYPES)
@pytest.mark.parametrize('pad_mask', [False, True])
def test_masks_follow_pixels_and_boxes(mask_type, pad_mask):
    # 6x10 and 10x6 images, batch tensor 16x16 (pad_size_divisor 8): canvas
    # 10x10 at its top-left, image 0 at (x, y) (0, 2), image 1 at (2, 0)
    inputs, samples = masked_batch([0, 1],
                                   mask_type,
                                   pad_size_divisor=8,
                                   pad_mask=pad_mask)
    assert inputs.shape[2:] == (16, 16)
    lams = [0.25, 0.6]
    mixed, samples = mix_batch(inputs, samples, torch.tensor([1, 0]),
                               torch.tensor(lams))
    for b, p in ((0, 1), (1, 0)):
        gts = samples[b].gt_instances
        assert (gts.masks.height, gts.masks.width) == (16, 16)
        assert len(gts.masks) == len(gts.bboxes)
        check_masks_on_pixels(
            mixed[b], gts,
            colours_of(b, lams[b]) + colours_of(p, 1 - lams[b]))
    np.testing.assert_allclose(samples[0].gt_instances.bboxes.numpy(),
                               [[1, 3, 4, 6], [5, 6, 7, 9], [2, 0, 4, 2]])
    np.testing.assert_array_equal(samples[0].gt_instances.mix_group, [0, 1, 1])


def test_polygon_and_bitmap_masks_agree():
    outs = []
    for mask_type in MASK_TYPES:
        inputs, samples = masked_batch([1, 0, 2],
                                       mask_type,
                                       pad_size_divisor=4)
        _, samples = mix_batch(inputs, samples, torch.tensor([1, 2, 0]),
                               torch.tensor([0.3, 0.5, 0.7]))
        outs.append([mask_arrays(s.gt_instances.masks) for s in samples])
    for bitmap, polygon in zip(*outs):
        np.testing.assert_array_equal(bitmap, polygon)


@pytest.mark.parametrize('mask_type', MASK_TYPES)
def test_dropped_masks_go_with_their_boxes(mask_type):
    # noise mode drops the partner's; lam 1 leaves a sample unmixed (its
    # masks brought to the batch size); an empty image mixes in nothing
    inputs, samples = masked_batch([0, 1, 2], mask_type)
    mixed, samples = mix_batch(
        inputs,
        samples,
        torch.tensor([1, 0, 1]),
        torch.tensor([0.9, 1.0, 0.85]),
        mode='noise')
    expected_groups = ([0], [0, 0], [])
    for b, groups in enumerate(expected_groups):
        gts = samples[b].gt_instances
        assert len(gts.masks) == len(gts.bboxes) == len(groups)
        assert (gts.masks.height, gts.masks.width) == (10, 10)
        np.testing.assert_array_equal(gts.mix_group, groups)
    check_masks_on_pixels(mixed[0], samples[0].gt_instances,
                          colours_of(0, 0.9))
    check_masks_on_pixels(mixed[1], samples[1].gt_instances,
                          colours_of(1, 1.0))


def test_ignored_masks_follow_and_presence_must_match():
    inputs, samples = masked_batch([0, 1], 'bitmap')
    ign = samples[1].gt_instances[1:]  # (0, 0, 2, 2) of image 1 ignored
    samples[1].gt_instances = samples[1].gt_instances[:1]
    samples[1].ignored_instances = ign
    mixed, samples = mix_batch(inputs, samples, torch.tensor([1, 0]),
                               torch.tensor([0.4, 1.0]))
    ign = samples[0].ignored_instances
    assert len(ign.masks) == 1
    torch.testing.assert_close(ign.bboxes, torch.tensor([[2., 0., 4., 2.]]))
    np.testing.assert_allclose(mask_boxes(ign.masks), ign.bboxes.numpy())
    assert (ign.masks.height, ign.masks.width) == (10, 10)

    inputs, samples = masked_batch([0, 1], 'bitmap')
    del samples[1].gt_instances.masks
    with pytest.raises(ValueError, match='masks'):
        mix_batch(inputs, samples, torch.tensor([1, 0]),
                  torch.tensor([0.4, 0.5]))


@pytest.mark.parametrize('mask_type', MASK_TYPES)
def test_mix_across_carries_masks(mask_type):
    src_x, src_s = masked_batch([0], mask_type)  # 6x10
    tgt_x, tgt_s = masked_batch([1], mask_type)  # 10x6
    mixed, samples = mix_across(src_x, src_s, tgt_x, tgt_s,
                                torch.tensor([0.3]), 'lossmix',
                                torch.tensor([0]))
    gts = samples[0].gt_instances
    assert mixed.shape[2:] == (10, 10)
    assert (gts.masks.height, gts.masks.width) == (10, 10)
    check_masks_on_pixels(mixed[0], gts,
                          colours_of(0, 0.3) + colours_of(1, 0.7))


def test_blend_bit_equal_to_zero_canvas_sum():
    """The in-place blend gives, bit for bit, a zero canvas + lam * own +
    (1 - lam) * partner (each centred on max H x max W); an unmixed image
    (its own partner) is copied unchanged."""
    inputs, samples = preprocess_batch([0, 1, 2])
    inputs = inputs.float() / 7.0  # values whose products round
    lams = torch.tensor([0.3, 0.55, 0.8])
    partners = [1, 2, 2]  # image 2 is its own partner
    mixed, _ = mix_batch(inputs, samples, torch.tensor(partners), lams)
    for b, p in enumerate(partners[:2]):
        (hb, wb), (hp, wp) = BATCH_SIZES[b], BATCH_SIZES[p]
        height, width = max(hb, hp), max(wb, wp)
        canvas = torch.zeros(inputs.shape[1:])
        ob = ((height - hb) // 2, (width - wb) // 2)
        op = ((height - hp) // 2, (width - wp) // 2)
        canvas[:, ob[0]:ob[0] + hb, ob[1]:ob[1] + wb] += \
            lams[b].item() * inputs[b, :, :hb, :wb]
        canvas[:, op[0]:op[0] + hp, op[1]:op[1] + wp] += \
            (1 - lams[b].item()) * inputs[p, :, :hp, :wp]
        assert torch.equal(mixed[b], canvas)
    assert torch.equal(mixed[2], inputs[2])
    assert mixed.data_ptr() != inputs.data_ptr()


@pytest.mark.parametrize('field,value,match', [
    ('weight', float('inf'), r'gt_instances.loss_weights\[0\] of image 0 '
     r"\('0.png'\) must be finite and >= 0, got inf"),
    ('ignored', float('nan'), r"ignored_instances box 0 \[0.0, 0.0, nan, "
     r"1.0\] of image 1 \('1.png'\) is not finite"),
])
def test_bad_values_anywhere_in_the_batch_raise(field, value, match):
    """The checks read every image, the unmixed ones and the ignored
    instances included."""
    inputs, samples = preprocess_batch([0, 1])
    if field == 'weight':
        samples[0].gt_instances.loss_weights = torch.tensor([value])
    else:
        samples[1].ignored_instances.bboxes = torch.tensor(
            [[0., 0., value, 1.]])
        samples[1].ignored_instances.labels = torch.tensor([0])
    with pytest.raises(ValueError, match=match):
        mix_batch(inputs, samples, torch.tensor([0, 1]),
                  torch.tensor([1.0, 1.0]))


def test_empty_batch():
    mixed, samples = mix_batch(
        torch.zeros(0, 3, 4, 4), [], torch.zeros(0, dtype=torch.long),
        torch.zeros(0))
    assert mixed.shape == (0, 3, 4, 4) and samples == []
