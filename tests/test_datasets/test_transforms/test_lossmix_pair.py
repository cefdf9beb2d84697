import numpy as np
import pytest
from mmdet.structures.bbox import HorizontalBoxes
from mmdet.structures.mask import BitmapMasks, PolygonMasks

from lossmix_mm.datasets.transforms import LossMixPair
from lossmix_mm.datasets.transforms.lossmix_pair import mix_images
from lossmix_mm.structures import LossMixBoxes


def make_results(h,
                 w,
                 boxes,
                 labels,
                 value=100,
                 channels=3,
                 ignore=None,
                 box_type='hbox'):
    shape = (h, w, channels) if channels else (h, w)
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    results = dict(
        img=np.full(shape, value, dtype=np.uint8),
        img_shape=(h, w),
        gt_bboxes=HorizontalBoxes(boxes) if box_type == 'hbox' else boxes,
        gt_bboxes_labels=np.asarray(labels, dtype=np.int64))
    if ignore is not None:
        results['gt_ignore_flags'] = np.asarray(ignore, dtype=bool)
    return results


def pair(own, partner):
    own['mix_results'] = [partner]
    return own


def run(transform, results, lam):
    transform.sample_lambda = lambda: lam
    return transform.transform(results)


def boxes_of(results):
    boxes = results['gt_bboxes']
    return boxes.numpy() if isinstance(boxes, HorizontalBoxes) else boxes


def weights_of(results):
    return results['gt_bboxes'].loss_weights.numpy()


def groups_of(results):
    return results['gt_bboxes'].mix_group.numpy()


@pytest.mark.parametrize('kwargs,match', [
    (dict(alpha=0), 'alpha'),
    (dict(alpha=-1.0), 'alpha'),
    (dict(mode='mixup'), r"\('lossmix', 'union', 'noise'\)"),
    (dict(prob=-0.1), 'prob'),
    (dict(prob=1.5), 'prob'),
    (dict(noise_range=(0.3, 0.1)), 'noise_range'),
    (dict(noise_range=(0.0, 0.6)), 'noise_range'),
    (dict(noise_range=(0.1, )), 'noise_range'),
    (dict(noise_range='low'), 'noise_range'),
])
def test_bad_arguments_raise_at_build(kwargs, match):
    from mmdet.registry import TRANSFORMS
    with pytest.raises(ValueError, match=match):
        TRANSFORMS.build(dict(type='LossMixPair', **kwargs))


def test_needs_multi_image_mix_dataset():
    with pytest.raises(KeyError, match='MultiImageMixDataset'):
        LossMixPair().transform(make_results(4, 4, [[0, 0, 2, 2]], [0]))


def test_hand_derived_lossmix():
    # own 4x6 of 100, partner 2x10 of 50 -> canvas 4x10;
    # own at x offset (10-6)//2 = 2, y 0; partner at x 0, y (4-2)//2 = 1
    own = make_results(4, 6, [[1, 1, 3, 3]], [2], value=100)
    partner = make_results(2, 10, [[0, 0, 4, 2]], [1], value=50)
    out = run(LossMixPair(), pair(own, partner), lam=0.25)
    img = out['img']
    assert img.dtype == np.float32 and img.shape == (4, 10, 3)
    assert out['img_shape'] == (4, 10)
    assert img[0, 0, 0] == 0  # neither image covers it: zero padding
    assert img[1, 0, 0] == pytest.approx(0.75 * 50)  # partner only
    assert img[0, 3, 0] == pytest.approx(0.25 * 100)  # own only
    assert img[1, 3, 0] == pytest.approx(0.25 * 100 + 0.75 * 50)
    np.testing.assert_allclose(boxes_of(out), [[3, 1, 5, 3], [0, 1, 4, 3]])
    np.testing.assert_array_equal(out['gt_bboxes_labels'], [2, 1])
    np.testing.assert_allclose(weights_of(out), [0.25, 0.75])
    assert weights_of(out).dtype == np.float32
    np.testing.assert_array_equal(groups_of(out), [0, 1])
    assert groups_of(out).dtype == np.int64
    assert out['mix_lambda'] == 0.25


def test_union_and_noise_weights():
    own = make_results(4, 4, [[0, 0, 2, 2], [1, 1, 3, 3]], [0, 1])
    partner = make_results(4, 4, [[0, 0, 4, 4]], [2])
    out = run(LossMixPair(mode='union'), pair(own, dict(partner)), lam=0.3)
    np.testing.assert_allclose(weights_of(out), [1, 1, 1])
    np.testing.assert_array_equal(groups_of(out), [0, 0, 1])
    assert out['img'][0, 0, 0] == pytest.approx(0.3 * 100 + 0.7 * 100)

    own = make_results(4, 4, [[0, 0, 2, 2], [1, 1, 3, 3]], [0, 1])
    np.random.seed(3)
    out = LossMixPair(mode='noise').transform(pair(own, dict(partner)))
    # partner's labels dropped, own weight 1, own coefficient in [0.8, 1]
    np.testing.assert_allclose(weights_of(out), [1, 1])
    np.testing.assert_array_equal(out['gt_bboxes_labels'], [0, 1])
    np.testing.assert_array_equal(groups_of(out), [0, 0])
    assert 0.8 <= out['mix_lambda'] <= 1.0
    np.random.seed(3)
    assert out['mix_lambda'] == pytest.approx(1 - np.random.uniform(0, 0.2))


@pytest.mark.parametrize('own_n,partner_n', [(0, 0), (0, 2), (2, 0)])
def test_empty_gts(own_n, partner_n):
    own = make_results(8, 8, [[0, 0, 4, 4]] * own_n, [1] * own_n)
    partner = make_results(6, 6, [[1, 1, 2, 2]] * partner_n, [0] * partner_n)
    out = run(LossMixPair(), pair(own, partner), lam=0.6)
    assert len(out['gt_bboxes']) == own_n + partner_n
    assert out['gt_bboxes'].tensor.shape == (own_n + partner_n, 4)
    np.testing.assert_allclose(
        weights_of(out), [0.6] * own_n + [0.4] * partner_n)
    assert groups_of(out).shape == (own_n + partner_n, )


def test_grayscale_with_colour():
    own = make_results(2, 2, [[0, 0, 1, 1]], [0], value=10, channels=0)
    partner = make_results(2, 2, [[0, 0, 1, 1]], [0], value=20)
    partner['img'][..., 1] = 40
    out = run(LossMixPair(), pair(own, partner), lam=0.5)
    assert out['img'].shape == (2, 2, 3)
    np.testing.assert_allclose(out['img'][0, 0], [15, 25, 15])
    with pytest.raises(ValueError, match='channels'):
        mix_images(np.zeros((2, 2, 3)), np.zeros((2, 2, 4)), 0.5)


def test_ignore_flags_follow_boxes():
    own = make_results(
        4, 4, [[0, 0, 1, 1], [0, 0, 2, 2]], [0, 1], ignore=[False, True])
    partner = make_results(4, 4, [[0, 0, 3, 3]], [2])  # no flags: all kept
    out = run(LossMixPair(), pair(own, partner), lam=0.7)
    np.testing.assert_array_equal(out['gt_ignore_flags'], [False, True, False])
    np.testing.assert_allclose(weights_of(out), [0.7, 0.7, 0.3])
    np.testing.assert_allclose(boxes_of(out)[1], [0, 0, 2, 2])


@pytest.mark.parametrize('lam,kept_labels', [(0.0, [2]), (1.0, [0, 1])])
def test_lambda_at_the_ends_drops_invisible_image(lam, kept_labels):
    own = make_results(
        4, 4, [[0, 0, 1, 1], [0, 0, 2, 2]], [0, 1], ignore=[False, True])
    partner = make_results(4, 4, [[0, 0, 3, 3]], [2])
    for mode in ('lossmix', 'union'):
        out = run(
            LossMixPair(mode=mode), pair(dict(own), dict(partner)), lam=lam)
        np.testing.assert_array_equal(out['gt_bboxes_labels'], kept_labels)
        assert len(out['gt_bboxes']) == len(kept_labels)
        assert len(out['gt_ignore_flags']) == len(kept_labels)
        assert (weights_of(out) > 0).all()


def test_ndarray_boxes():
    own = make_results(4, 8, [[1, 1, 2, 2]], [0], box_type=None)
    partner = make_results(8, 4, [[0, 0, 1, 1]], [1], box_type=None)
    out = run(LossMixPair(), pair(own, partner), lam=0.5)
    # canvas 8x8: own at (0, 2), partner at (2, 0); arrays become boxes
    assert type(out['gt_bboxes']) is LossMixBoxes
    np.testing.assert_allclose(boxes_of(out), [[1, 3, 2, 4], [2, 0, 3, 1]])
    np.testing.assert_allclose(weights_of(out), [0.5, 0.5])


def test_no_partner_leaves_sample_alone():
    own = make_results(4, 4, [[0, 0, 1, 1]], [0])
    own['mix_results'] = []
    img = own['img']
    out = LossMixPair().transform(own)
    assert out['img'] is img and out['img'].dtype == np.uint8
    np.testing.assert_allclose(weights_of(out), [1.0])
    np.testing.assert_array_equal(groups_of(out), [0])
    assert out['mix_lambda'] == 1.0


def test_get_indexes_prob_and_seed():
    dataset = list(range(10))
    assert LossMixPair(prob=0.0).get_indexes(dataset) == []
    np.random.seed(0)
    draws = [LossMixPair(prob=0.5).get_indexes(dataset) for _ in range(400)]
    mixed = sum(bool(d) for d in draws)
    assert 170 < mixed < 230
    assert all(0 <= d[0] < 10 for d in draws if d)
    np.random.seed(0)
    again = [LossMixPair(prob=0.5).get_indexes(dataset) for _ in range(400)]
    assert draws == again


def test_lambda_distribution_follows_alpha():
    np.random.seed(0)
    t = LossMixPair(alpha=20.0)
    lams = np.array([t.sample_lambda() for _ in range(2000)])
    # Beta(20, 20): mean 0.5, std sqrt(1/(4*41)) = 0.078
    assert abs(lams.mean() - 0.5) < 0.01
    assert abs(lams.std() - (1 / (4 * 41))**0.5) < 0.01


def test_reproducible_under_seed():

    def once(seed=7):
        np.random.seed(seed)
        own = make_results(4, 6, [[1, 1, 3, 3]], [2])
        partner = make_results(2, 10, [[0, 0, 4, 2]], [1], value=50)
        return LossMixPair().transform(pair(own, partner))

    a, b = once(), once()
    assert a['mix_lambda'] == b['mix_lambda']
    np.testing.assert_array_equal(a['img'], b['img'])
    # the seed drives the draw: another seed, another lam and image
    c = once(8)
    assert c['mix_lambda'] != a['mix_lambda']
    assert not np.array_equal(c['img'], a['img'])


def test_repr():
    assert repr(LossMixPair(
        mode='union',
        alpha=0.2)) == ("LossMixPair(mode='union', alpha=0.2, prob=1.0, "
                        'noise_range=(0.0, 0.2), cache_size=0)')
    assert repr(LossMixPair(cache_size=10)).endswith(', cache_size=10)')


def test_same_view_partner_is_no_mix():
    own = make_results(4, 4, [[0, 0, 2, 2]], [1])
    own.update(img_path='a.png', flip=False, flip_direction=None)
    same = dict(
        make_results(4, 4, [[0, 0, 2, 2]], [1]),
        img_path='a.png',
        flip=False,
        flip_direction=None)
    out = run(LossMixPair(), pair(dict(own), same), lam=0.3)
    assert out['mix_lambda'] == 1.0
    np.testing.assert_allclose(weights_of(out), [1.0])
    assert out['img'].dtype == np.uint8
    # the mirrored view of the same image is another image: mixed
    flipped = dict(same, flip=True, flip_direction='horizontal')
    out = run(LossMixPair(), pair(dict(own), flipped), lam=0.3)
    assert out['mix_lambda'] == 0.3
    np.testing.assert_allclose(weights_of(out), [0.3, 0.7])


@pytest.mark.parametrize('mode', ['lossmix', 'union', 'noise'])
def test_writes_mix_mode(mode):
    own = make_results(4, 4, [[0, 0, 2, 2]], [1])
    partner = make_results(4, 4, [[1, 1, 3, 3]], [0])
    out = run(LossMixPair(mode=mode), pair(own, partner), lam=0.9)
    assert out['mix_mode'] == mode
    alone = make_results(4, 4, [[0, 0, 2, 2]], [1])
    alone['mix_results'] = []
    out = LossMixPair(mode=mode).transform(alone)
    assert (out['mix_mode'], out['mix_lambda']) == (mode, 1.0)


# ------------------------------------------------------------------- masks
# Each source image is black with one bright rectangle (its only object) in
# its own colour channel; the rectangle is the box and the mask. After
# mixing, a mask must cover exactly the canvas pixels of its image's
# rectangle colour times the coefficient, and its box must be its bounding
# box.
def rect_results(h, w, rects, channel, value, mask_type):
    img = np.zeros((h, w, 3), dtype=np.uint8)
    bitmaps = np.zeros((len(rects), h, w), dtype=np.uint8)
    polygons = []
    for k, (x0, y0, x1, y1) in enumerate(rects):
        img[y0:y1, x0:x1, channel] = value
        bitmaps[k, y0:y1, x0:x1] = 1
        polygons.append(
            [np.array([x0, y0, x1, y0, x1, y1, x0, y1], dtype=np.float64)])
    results = make_results(h, w, rects, list(range(len(rects))))
    results['img'] = img
    results['gt_masks'] = (
        BitmapMasks(bitmaps, h, w) if mask_type == 'bitmap' else PolygonMasks(
            polygons, h, w))
    return results


def mask_arrays(masks):
    return masks.masks if isinstance(masks, BitmapMasks) else \
        masks.to_ndarray()


def mask_boxes(masks):
    arrays = mask_arrays(masks)
    out = []
    for m in arrays:
        ys, xs = np.nonzero(m)
        out.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
    return np.array(out, dtype=np.float32).reshape(-1, 4)


def check_masks_on_pixels(img, masks, boxes, colours):
    """Mask k covers exactly the pixels of colour k; box k bounds mask k."""
    arrays = mask_arrays(masks).astype(bool)
    assert arrays.shape == (len(colours), ) + img.shape[:2]
    for m, colour in zip(arrays, colours):
        assert m.any()
        np.testing.assert_allclose(
            img[m], np.broadcast_to(colour, img[m].shape), rtol=1e-6)
        same = np.isclose(img, colour, rtol=1e-6).all(-1)
        np.testing.assert_array_equal(m, same)
    np.testing.assert_allclose(mask_boxes(masks), boxes)


MASK_TYPES = ('bitmap', 'polygon')


def masked_pair(mask_type):
    # own 6x10 (rect x 1..4, y 1..4), partner 10x6 (rect x 3..5, y 6..9):
    # canvas 10x10, own at (x, y) (0, 2), partner at (2, 0)
    own = rect_results(6, 10, [[1, 1, 4, 4]], 0, 200, mask_type)
    partner = rect_results(10, 6, [[3, 6, 5, 9]], 2, 160, mask_type)
    return own, partner


@pytest.mark.parametrize('mask_type', MASK_TYPES)
def test_masks_follow_pixels_and_boxes(mask_type):
    own, partner = masked_pair(mask_type)
    out = run(LossMixPair(), pair(own, partner), lam=0.25)
    masks = out['gt_masks']
    assert type(masks) is (BitmapMasks
                           if mask_type == 'bitmap' else PolygonMasks)
    assert (masks.height, masks.width) == out['img'].shape[:2] == (10, 10)
    np.testing.assert_allclose(boxes_of(out), [[1, 3, 4, 6], [5, 6, 7, 9]])
    check_masks_on_pixels(out['img'], masks, boxes_of(out),
                          [[0.25 * 200, 0, 0], [0, 0, 0.75 * 160]])
    np.testing.assert_array_equal(groups_of(out), [0, 1])


def test_polygon_and_bitmap_masks_agree():
    outs = [
        run(LossMixPair(), pair(*masked_pair(t)), lam=0.6)['gt_masks']
        for t in MASK_TYPES
    ]
    np.testing.assert_array_equal(outs[0].masks, outs[1].to_ndarray())


@pytest.mark.parametrize('mask_type', MASK_TYPES)
@pytest.mark.parametrize('mode,lam,kept', [('lossmix', 0.0, [1]),
                                           ('union', 1.0, [0]),
                                           ('noise', 0.9, [0])])
def test_dropped_masks_go_with_their_boxes(mask_type, mode, lam, kept):
    own, partner = masked_pair(mask_type)
    out = run(LossMixPair(mode=mode), pair(own, partner), lam=lam)
    masks = out['gt_masks']
    assert len(masks) == len(out['gt_bboxes']) == len(kept)
    np.testing.assert_array_equal(groups_of(out), kept)
    np.testing.assert_allclose(mask_boxes(masks), boxes_of(out))
    assert (masks.height, masks.width) == (10, 10)


@pytest.mark.parametrize('mask_type', MASK_TYPES)
def test_masks_with_empty_gts_and_two_objects(mask_type):
    own = rect_results(6, 10, [], 0, 200, mask_type)
    partner = rect_results(8, 8, [[0, 0, 2, 2], [4, 5, 8, 8]], 1, 90,
                           mask_type)
    out = run(LossMixPair(), pair(own, partner), lam=0.5)
    # canvas 8x10: partner at (1, 0)
    np.testing.assert_allclose(boxes_of(out), [[1, 0, 3, 2], [5, 5, 9, 8]])
    assert len(out['gt_masks']) == 2
    np.testing.assert_allclose(mask_boxes(out['gt_masks']), boxes_of(out))


def test_masks_absent_stays_absent_and_must_match():
    own, partner = masked_pair('bitmap')
    plain = make_results(4, 4, [[0, 0, 1, 1]], [0])
    out = run(
        LossMixPair(), pair(dict(plain), make_results(4, 4, [], [])), lam=0.5)
    assert 'gt_masks' not in out
    with pytest.raises(ValueError, match='gt_masks'):
        run(LossMixPair(), pair(dict(own), plain), lam=0.5)
    with pytest.raises(TypeError, match='PolygonMasks'):
        run(LossMixPair(), pair(own, masked_pair('polygon')[1]), lam=0.5)
    # no partner: masks untouched
    alone, _ = masked_pair('polygon')
    masks = alone['gt_masks']
    alone['mix_results'] = []
    assert LossMixPair().transform(alone)['gt_masks'] is masks


@pytest.mark.parametrize('mask_type', MASK_TYPES)
def test_packed_masks_split_with_ignore_flags(mask_type):
    from lossmix_mm.datasets.transforms import PackLossMixInputs
    own, partner = masked_pair(mask_type)
    own['gt_ignore_flags'] = np.array([False])
    partner['gt_ignore_flags'] = np.array([True])
    out = run(LossMixPair(), pair(own, partner), lam=0.3)
    sample = PackLossMixInputs()(out)['data_samples']
    gt, ign = sample.gt_instances, sample.ignored_instances
    assert len(gt.masks) == len(ign.masks) == 1
    np.testing.assert_allclose(mask_boxes(gt.masks), gt.bboxes.numpy())
    np.testing.assert_allclose(mask_boxes(ign.masks), ign.bboxes.numpy())
    np.testing.assert_allclose(gt.bboxes.numpy(), [[1, 3, 4, 6]])


# ------------------------------------------------------------ partner cache
# A fake dataset whose image i is 8x8 of value i + 1 with one box of label i
# at x = i % 8: the partner of a mixed sample is read off its partner box
# (mix_group 1), and the loader counts the images it loads.
class CountingLoader:

    def __init__(self):
        self.calls = 0

    def __call__(self, info):
        self.calls += 1
        i = info['img_id']
        results = make_results(
            8, 8, [[i % 8, 0, i % 8 + 1, 1]], [i], value=i % 250 + 1)
        results.update(
            img_path=info['img_path'],
            img_id=i,
            flip=False,
            flip_direction=None)
        return results


def fake_dataset(num, pipeline):
    from mmengine.dataset import BaseDataset

    class FakeImages(BaseDataset):

        def load_data_list(self):
            return [dict(img_id=i, img_path=f'{i}.png') for i in range(num)]

    return FakeImages(pipeline=pipeline, serialize_data=False)


def partner_id(out):
    """Id of the partner image of a mixed output (None: not mixed)."""
    partner = groups_of(out) == 1
    if not partner.any():
        return None
    return int(out['gt_bboxes_labels'][partner][0])


def stream_through(transform, ids):
    """Samples ``ids`` through ``transform``: (partner ids, lambdas)."""
    loader = CountingLoader()
    partners, lams = [], []
    for i in ids:
        out = transform(loader(dict(img_id=i, img_path=f'{i}.png')))
        partners.append(partner_id(out))
        lams.append(out['mix_lambda'])
    return partners, lams


@pytest.mark.parametrize('bad', [-1, 2.5, '10', True, [3]])
def test_bad_cache_size_raises_naming_it(bad):
    import re

    from mmdet.registry import TRANSFORMS
    with pytest.raises(
            ValueError,
            match=r'cache_size must be an int >= 0.*got ' +
            re.escape(repr(bad))):
        TRANSFORMS.build(dict(type='LossMixPair', cache_size=bad))


def test_cache_size_values_and_get_indexes():
    assert LossMixPair().cache_size == 0
    assert LossMixPair(cache_size=None).cache_size == 0
    size = LossMixPair(cache_size=np.int64(3)).cache_size
    assert size == 3 and type(size) is int
    # with a cache nothing is loaded, and no random number is drawn
    np.random.seed(0)
    state = np.random.get_state()
    assert LossMixPair(cache_size=3, prob=0.5).get_indexes(range(10)) == []
    after = np.random.get_state()
    np.testing.assert_array_equal(state[1], after[1])
    assert state[2] == after[2]


def test_cached_partner_is_recent_never_itself_never_loaded():
    from mmdet.datasets import MultiImageMixDataset
    k = 3
    loader = CountingLoader()
    dataset = MultiImageMixDataset(
        fake_dataset(10, [loader]),
        pipeline=[dict(type='LossMixPair', cache_size=k)])
    transform = dataset.pipeline[0]
    transform.sample_lambda = lambda: 0.25
    np.random.seed(0)
    # repeats: image 0 at t=3 (0 cached), image 4 twice in a row
    stream = [0, 1, 2, 0, 3, 4, 4, 5, 6, 7, 8, 9, 1, 2, 2]
    partners = []
    for t, idx in enumerate(stream):
        out = dataset[idx]
        assert loader.calls == t + 1  # one load per sample, no second one
        cached = [c['img_id'] for c in transform.results_cache]
        assert cached == stream[max(0, t + 1 - k):t + 1]  # FIFO, K at most
        candidates = [j for j in stream[max(0, t - k):t] if j != idx]
        partners.append(partner_id(out))
        if t == 0:  # empty cache: not mixed
            assert partners[0] is None and out['mix_lambda'] == 1.0
            np.testing.assert_array_equal(weights_of(out), [1.0])
            assert out['img'].dtype == np.uint8
            continue
        assert partners[-1] in candidates and partners[-1] != idx
        # own box weighs lam, the partner's 1 - lam; pixels blended
        np.testing.assert_allclose(weights_of(out), [0.25, 0.75])
        np.testing.assert_allclose(
            boxes_of(out), [[idx % 8, 0, idx % 8 + 1, 1],
                            [partners[-1] % 8, 0, partners[-1] % 8 + 1, 1]])
        assert out['img'][0, 0, 0] == pytest.approx(0.25 * (idx + 1) + 0.75 *
                                                    (partners[-1] + 1))
    # seeded regression of the draws (numpy's global generator, seed 0)
    assert partners == [None, 0, 0, 2, 2, 2, 3, 4, 4, 6, 5, 8, 7, 8, 9]


def test_cached_partner_skips_the_same_view():
    t = LossMixPair(cache_size=1)
    # 1 is cached when 1 comes again: no other candidate, not mixed
    partners, lams = stream_through(t, [0, 1, 1, 2])
    assert partners == [None, 0, None, 1]
    assert lams[2] == 1.0
    # the same image flipped is another view: mixed
    flipped = make_results(8, 8, [[2, 0, 3, 1]], [2], value=3)
    flipped.update(
        img_path='2.png', img_id=2, flip=True, flip_direction='horizontal')
    out = t(flipped)
    assert partner_id(out) == 2 and out['mix_lambda'] < 1.0


def test_cached_partner_uniform_over_last_k():
    np.random.seed(0)
    k, n = 4, 2000
    partners, _ = stream_through(LossMixPair(cache_size=k), range(n))
    lags = np.array([t - p for t, p in enumerate(partners) if t > 0])
    assert partners[0] is None and set(lags.tolist()) == {1, 2, 3, 4}
    # a draw of the stream before the cache fills (t < k) has fewer lags;
    # then each lag has probability 1/4 (sd of a share: 0.0097)
    shares = np.bincount(lags[k:], minlength=k + 1)[1:] / len(lags[k:])
    np.testing.assert_allclose(shares, 0.25, atol=0.03)


def test_cache_prob_and_seed():
    np.random.seed(0)
    never = LossMixPair(cache_size=5, prob=0.0)
    partners, lams = stream_through(never, range(20))
    assert partners == [None] * 20 and set(lams) == {1.0}
    assert len(never.results_cache) == 5  # cached all the same
    assert [c['img_id'] for c in never.results_cache] == [15, 16, 17, 18, 19]

    def once():
        np.random.seed(3)
        return stream_through(LossMixPair(cache_size=5, prob=0.5), range(400))

    partners, lams = once()
    mixed = sum(p is not None for p in partners)
    assert 170 < mixed < 230
    assert all(lam == 1.0 for p, lam in zip(partners, lams) if p is None)
    assert (partners, lams) == once()


def test_cache_holds_unmixed_copies():
    t = LossMixPair(cache_size=2)
    t.sample_lambda = lambda: 0.5
    a = make_results(4, 4, [[0, 0, 2, 2]], [0], value=10)
    a.update(img_path='a.png', flip=False, flip_direction=None, extra='x')
    b = make_results(4, 4, [[1, 1, 3, 3]], [1], value=30)
    b.update(img_path='b.png', flip=False, flip_direction=None)
    out_a = t(a)  # first: not mixed, returned as it came
    assert out_a['mix_lambda'] == 1.0
    # a later transform writing into the sample in place
    out_a['img'][:] = 0
    out_a['gt_bboxes'].tensor[:] = -1
    out_a['gt_bboxes_labels'][:] = 7
    out_b = t(b)
    assert out_b['img'][0, 0, 0] == pytest.approx(0.5 * 30 + 0.5 * 10)
    np.testing.assert_allclose(boxes_of(out_b), [[1, 1, 3, 3], [0, 0, 2, 2]])
    np.testing.assert_array_equal(out_b['gt_bboxes_labels'], [1, 0])
    # b is cached as it came in (uint8, its own boxes), not mixed, and the
    # mixed output shares nothing with the cache
    cached_a, cached_b = t.results_cache
    assert set(cached_b) == {
        'img', 'img_path', 'flip', 'flip_direction', 'gt_bboxes',
        'gt_bboxes_labels'
    }
    assert cached_b['img'].dtype == np.uint8 and (cached_b['img'] == 30).all()
    np.testing.assert_allclose(cached_b['gt_bboxes'].numpy(), [[1, 1, 3, 3]])
    out_b['img'][:] = 0
    out_b['gt_bboxes'].tensor[:] = -1
    assert (cached_a['img'] == 10).all() and (cached_b['img'] == 30).all()
    np.testing.assert_allclose(cached_a['gt_bboxes'].numpy(), [[0, 0, 2, 2]])
    np.testing.assert_array_equal(cached_a['gt_bboxes_labels'], [0])


@pytest.mark.parametrize('mask_type', MASK_TYPES)
@pytest.mark.parametrize('mode', ['lossmix', 'union', 'noise'])
def test_cached_mix_equals_loaded_mix(mode, mask_type):
    """Same (own, partner, lam): the cached and the loading transform give
    the same pixels, boxes, labels, ignore flags, masks and weights."""
    import copy
    own, partner = masked_pair(mask_type)
    own.update(img_path='own.png', gt_ignore_flags=np.array([True]))
    partner.update(img_path='partner.png', gt_ignore_flags=np.array([False]))
    lam = 0.85 if mode == 'noise' else 0.4
    cached = LossMixPair(mode=mode, cache_size=4)
    cached.sample_lambda = lambda: lam
    first = cached(copy.deepcopy(partner))
    assert first['mix_lambda'] == 1.0 and len(first['gt_masks']) == 1
    out = cached(copy.deepcopy(own))
    ref = run(
        LossMixPair(mode=mode),
        pair(copy.deepcopy(own), copy.deepcopy(partner)),
        lam=lam)
    assert out['mix_lambda'] == ref['mix_lambda'] == lam
    np.testing.assert_array_equal(out['img'], ref['img'])
    assert out['img_shape'] == ref['img_shape'] == (10, 10)
    np.testing.assert_array_equal(boxes_of(out), boxes_of(ref))
    for key in ('gt_bboxes_labels', 'gt_ignore_flags'):
        np.testing.assert_array_equal(out[key], ref[key])
    np.testing.assert_array_equal(weights_of(out), weights_of(ref))
    np.testing.assert_array_equal(groups_of(out), groups_of(ref))
    assert type(out['gt_masks']) is type(ref['gt_masks'])
    np.testing.assert_array_equal(
        mask_arrays(out['gt_masks']), mask_arrays(ref['gt_masks']))
    expected_weights = dict(lossmix=[0.4, 0.6], union=[1, 1], noise=[1])
    np.testing.assert_allclose(weights_of(out), expected_weights[mode])
    expected_flags = [True] if mode == 'noise' else [True, False]
    np.testing.assert_array_equal(out['gt_ignore_flags'], expected_flags)


def test_cache_in_a_plain_pipeline():
    """No MultiImageMixDataset: the cached transform at the end of a
    dataset's own pipeline, one load per sample."""
    loader = CountingLoader()
    transform = LossMixPair(cache_size=2)
    transform.sample_lambda = lambda: 0.5
    dataset = fake_dataset(6, [loader, transform])
    np.random.seed(0)
    outs = [dataset[i] for i in (4, 2, 5)]
    assert loader.calls == 3
    assert 'mix_results' not in outs[1]
    assert [partner_id(o) for o in outs] == [None, 4, 4]
    assert outs[2]['img'][0, 0, 0] == pytest.approx(0.5 * 6 + 0.5 * 5)


# ------------------------------------------------------------ box fields
def test_boxes_carry_weights_and_partner_is_only_read():
    own = make_results(4, 6, [[1, 1, 3, 3]], [2])
    partner = make_results(2, 10, [[0, 0, 4, 2]], [1])
    partner_boxes = partner['gt_bboxes']
    out = run(LossMixPair(), pair(own, partner), lam=0.25)
    assert type(out['gt_bboxes']) is LossMixBoxes
    np.testing.assert_array_equal(out['gt_bboxes'].reg_weights.numpy(), [1, 1])
    assert 'gt_loss_weights' not in out and 'gt_mix_group' not in out
    assert partner['gt_bboxes'] is partner_boxes
    assert type(partner_boxes) is HorizontalBoxes
    np.testing.assert_array_equal(partner_boxes.numpy(), [[0, 0, 4, 2]])


def test_weights_on_loaded_boxes_compose_with_lam():
    """Boxes loaded as LossMixBoxes with weights keep them, times their
    image's weight; the regression weights come along."""
    own = make_results(4, 4, [[0, 0, 2, 2], [1, 1, 3, 3]], [0, 1])
    own['gt_bboxes'] = LossMixBoxes(
        own['gt_bboxes'].tensor,
        loss_weights=[0.5, 1.0],
        reg_weights=[0.0, 1.0])
    partner = make_results(4, 4, [[0, 0, 4, 4]], [2])
    out = run(LossMixPair(), pair(own, partner), lam=0.75)
    np.testing.assert_allclose(weights_of(out), [0.375, 0.75, 0.25])
    np.testing.assert_array_equal(groups_of(out), [0, 0, 1])
    np.testing.assert_array_equal(out['gt_bboxes'].reg_weights.numpy(),
                                  [0, 1, 1])


def test_unmixed_boxes_are_converted_with_default_fields():
    own = make_results(4, 4, [[0, 0, 2, 2]], [0], box_type=None)
    own['mix_results'] = []
    out = LossMixPair().transform(own)
    assert type(out['gt_bboxes']) is LossMixBoxes
    np.testing.assert_allclose(boxes_of(out), [[0, 0, 2, 2]])


def test_boxes_outside_their_image_are_clipped_before_mixing():
    """[-6, -6, -1, -1] in a 16x16 partner would land at [2, 2, 7, 7] on a
    32x32 canvas, over the own image's pixels: it has no area inside its
    image and is dropped with its label, ignore flag and mask; a box partly
    outside is clipped to its image, then moved."""
    own = make_results(
        32,
        32, [[4, 4, 20, 20], [30, 30, 40, 40], [33, 0, 40, 8]], [0, 1, 2],
        ignore=[False, True, True])
    partner = make_results(
        16,
        16, [[-6, -6, -1, -1], [-4, 2, 6, 8], [1, 1, 5, 5]], [3, 4, 5],
        ignore=[True, False, False])
    masks = np.zeros((3, 16, 16), np.uint8)
    masks[1, 2:8, 0:6] = 1
    masks[2, 1:5, 1:5] = 1
    own['gt_masks'] = BitmapMasks(np.ones((3, 32, 32), np.uint8), 32, 32)
    partner['gt_masks'] = BitmapMasks(masks, 16, 16)
    out = run(LossMixPair(), pair(own, partner), lam=0.5)
    # partner at (8, 8) on the canvas; own box 2 lies right of the image
    np.testing.assert_allclose(
        boxes_of(out),
        [[4, 4, 20, 20], [30, 30, 32, 32], [8, 10, 14, 16], [9, 9, 13, 13]])
    np.testing.assert_array_equal(out['gt_bboxes_labels'], [0, 1, 4, 5])
    np.testing.assert_array_equal(out['gt_ignore_flags'],
                                  [False, True, False, False])
    np.testing.assert_allclose(weights_of(out), [0.5] * 4)
    np.testing.assert_array_equal(groups_of(out), [0, 0, 1, 1])
    assert len(out['gt_masks']) == 4
    np.testing.assert_allclose(
        mask_boxes(out['gt_masks'])[2:], [[8, 10, 14, 16], [9, 9, 13, 13]])
