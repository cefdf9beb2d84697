"""tools/browse_mixed.py: grids of mixed training samples, pair transform,
in-batch mixing and region pipelines (Mosaic + MixUp, CutMix), drawn with
LossMixLocalVisualizer."""
import re

import mmcv
import numpy as np
import pytest
import torch
from mmdet.models.data_preprocessors import DetDataPreprocessor
from mmdet.structures import DetDataSample
from mmengine.config import Config

from lossmix_mm.visualization import LossMixLocalVisualizer
import browse_mixed  # tools/ is on pytest's pythonpath
from lossmix_test_utils import toy_config

OWN, PARTNER, IGNORED = (255, 160, 0), (0, 200, 255), (200, 200, 200)
PATTERN = re.compile(r'^(circle|square|triangle) ([01]\.\d\d)$')
# a region sample's label: weight, or weight and visible share, maybe no
# regression; or an ignored box with its visible share
REGION_PATTERN = re.compile(r'^(circle|square|triangle) (?:([01]\.\d\d)|'
                            r'w ([01]\.\d\d) v (0\.\d\d))( no reg)?$')
IGNORED_PATTERN = re.compile(
    r'^(circle|square|triangle) ignored( v (0\.\d\d))?$')


def _options(root, nested):
    key = 'train_dataloader.dataset.dataset.data_root' if nested else \
        'train_dataloader.dataset.data_root'
    return ['--cfg-options', f'{key}={root}/', 'train_dataloader.batch_size=2']


@pytest.fixture
def drawn(monkeypatch):
    """Texts drawn per tile: [(text, colour), ...] from each _draw_instances
    call, and the tiles' captions."""
    record = dict(tiles=[], captions=[])
    draw_texts = LossMixLocalVisualizer.draw_texts
    draw_instances = LossMixLocalVisualizer._draw_instances

    def texts(self, texts, positions, **kwargs):
        if getattr(self, '_in_instances', False):
            record['tiles'][-1].append((texts, tuple(kwargs['colors'])))
        else:
            record['captions'].append(texts)
        return draw_texts(self, texts, positions, **kwargs)

    def instances(self, *args, **kwargs):
        record['tiles'].append([])
        self._in_instances = True
        try:
            return draw_instances(self, *args, **kwargs)
        finally:
            self._in_instances = False

    monkeypatch.setattr(LossMixLocalVisualizer, 'draw_texts', texts)
    monkeypatch.setattr(LossMixLocalVisualizer, '_draw_instances', instances)
    return record


def _check_weights(record, num):
    """Own boxes (orange) at the tile's lam, partner boxes (blue) at
    1 - lam, both printed after the class name."""
    assert len(record['tiles']) == num and len(record['captions']) == num
    mixed = 0
    for texts, caption in zip(record['tiles'], record['captions']):
        lam = 1.0 if caption == 'unmixed' else float(caption.split()[1])
        assert texts
        for text, color in texts:
            match = PATTERN.match(text)
            assert match, text
            expected = lam if color == OWN else 1.0 - lam
            assert color in (OWN, PARTNER)
            assert float(match[2]) == pytest.approx(expected, abs=0.011)
        mixed += len({c for _, c in texts}) == 2
    assert mixed > 0


def test_detect_mode():
    modes = {
        v: browse_mixed.detect_mode(Config.fromfile(toy_config(v)))
        for v in ('lossmix', 'lossmix-inbatch', 'nomix')
    }
    assert modes == {
        'lossmix': 'pair',
        'lossmix-inbatch': 'inbatch',
        'nomix': 'none'
    }
    both = Config(
        dict(
            train_dataloader=dict(
                dataset=dict(pipeline=[dict(type='mmdet.LossMixPair')])),
            model=dict(
                data_preprocessor=dict(
                    batch_augments=[dict(type='BatchLossMix')]))))
    assert browse_mixed.detect_mode(both) == 'pair+inbatch'


@pytest.mark.parametrize('bgr_to_rgb', [True, False])
def test_denormalize_round_trip(bgr_to_rgb):
    rng = np.random.RandomState(0)
    bgr = rng.randint(0, 256, (3, 20, 24)).astype(np.uint8)
    pre = DetDataPreprocessor(
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=bgr_to_rgb,
        pad_size_divisor=32)
    data = pre(
        dict(inputs=[torch.from_numpy(bgr)], data_samples=[DetDataSample()]))
    assert data['inputs'].shape == (1, 3, 32, 32)
    rgb = browse_mixed.denormalize(data['inputs'], pre)
    assert rgb.shape == (1, 32, 32, 3) and rgb.dtype == np.uint8
    np.testing.assert_array_equal(rgb[0, :20, :24],
                                  bgr[::-1].transpose(1, 2, 0))
    # the padding is 0 in normalised values: the mean, which is given in
    # the preprocessor's output order (RGB with bgr_to_rgb, else BGR)
    pad = [124, 116, 104] if bgr_to_rgb else [104, 116, 124]
    np.testing.assert_array_equal(rgb[0, 25, 30], pad)


def test_make_grid_layout():
    tiles = [
        np.full((10, 12, 3), 1, np.uint8),
        np.full((8, 6, 3), 2, np.uint8),
        np.full((10, 5, 3), 3, np.uint8)
    ]
    grid = browse_mixed.make_grid(tiles, ncols=2, gap=4)
    # 2 rows x 2 columns of 10 x 12 cells, 4 px gaps between and around
    assert grid.shape == (2 * 14 + 4, 2 * 16 + 4, 3)
    assert (grid[4:14, 4:16] == 1).all()
    assert (grid[5:13, 23:29] == 2).all()  # centred: (10-8)//2, (12-6)//2
    assert (grid[18:28, 7:12] == 3).all()
    assert (grid[0:4] == browse_mixed.BACKGROUND).all()
    assert (grid[18:28, 20:32] == browse_mixed.BACKGROUND).all()  # no tile
    small = browse_mixed.make_grid(tiles, tile_size=6, gap=2)
    assert small.shape == (2 * 8 + 2, 2 * 8 + 2, 3)
    # 10 x 12 scaled to 5 x 6, centred in the 6 x 6 cell at (2, 2): top
    # offset (6 - 5) // 2 = 0
    assert (small[2:7, 2:8] == 1).all() and (small[7, 2:8] == 32).all()


def test_pair_mode_grid(toy_root, tmp_path, drawn, capsys):
    out = browse_mixed.main([
        toy_config('lossmix'), '--out',
        str(tmp_path), '-n', '5', '--ncols', '3', '--tile-size', '200'
    ] + _options(toy_root, nested=True))
    assert out == str(tmp_path / 'browse_mixed_pair.png')
    assert f'5 pair samples -> {out}' in capsys.readouterr().out
    grid = mmcv.imread(out)
    assert grid.shape == (2 * 204 + 4, 3 * 204 + 4, 3)
    _check_weights(drawn, 5)


def test_inbatch_mode_grid(toy_root, tmp_path, drawn):
    out = browse_mixed.main([
        toy_config('lossmix-inbatch'), '--out',
        str(tmp_path), '-n', '4', '--tile-size', '192', '--colors', '64'
    ] + _options(toy_root, nested=False))
    assert out == str(tmp_path / 'browse_mixed_inbatch.png')
    grid = mmcv.imread(out)
    assert grid.shape == (2 * 196 + 4, 2 * 196 + 4, 3)
    assert len(np.unique(grid.reshape(-1, 3), axis=0)) <= 64
    _check_weights(drawn, 4)


def test_inbatch_tiles_are_the_mixed_tensors(toy_root):
    """Each in-batch tile is lam * own + (1 - lam) * partner, centre-aligned
    on the mean colour: the unmixed images are those of the no-mix config
    (same pipeline, same seed) and a batch of 2 swaps its images."""
    cfgs = []
    for variant in ('lossmix-inbatch', 'nomix'):
        cfg = Config.fromfile(toy_config(variant))
        cfg.merge_from_dict({
            'train_dataloader.dataset.data_root': toy_root + '/',
            'train_dataloader.batch_size': 2
        })
        cfgs.append(cfg)
    mixed, samples, meta = browse_mixed.mixed_batches(cfgs[0], 2, seed=3)
    plain, plain_samples, _ = browse_mixed.mixed_batches(cfgs[1], 2, seed=3)
    assert meta['classes'] == ('circle', 'square', 'triangle')
    mean = np.array([123.675, 116.28, 103.53])
    for b, p in ((0, 1), (1, 0)):
        lam = samples[b].metainfo['mix_lambda']
        assert 0 < lam < 1
        own, partner = plain[b].astype(float), plain[p].astype(float)
        height = max(own.shape[0], partner.shape[0])
        width = max(own.shape[1], partner.shape[1])
        expected = np.tile(mean, (height, width, 1))
        for img, coeff in ((own, lam), (partner, 1 - lam)):
            top = (height - img.shape[0]) // 2
            left = (width - img.shape[1]) // 2
            region = expected[top:top + img.shape[0], left:left + img.shape[1]]
            # 0 (the mean) outside an image: each one adds coeff * (img - mean)
            region += coeff * (img - mean)
        assert mixed[b].shape == (height, width, 3)
        assert np.abs(mixed[b] - expected).max() <= 1.0
        gts, own_gts = samples[b].gt_instances, plain_samples[b].gt_instances
        np.testing.assert_allclose(
            gts.loss_weights.numpy(),
            [lam] * len(own_gts) + [1 - lam] * (len(gts) - len(own_gts)),
            rtol=1e-6)
        assert gts.mix_group.tolist() == [0] * len(own_gts) + [1] * (
            len(gts) - len(own_gts))


def test_detect_region_modes():
    # (the union siblings use the same transforms, mode='union')
    modes = {
        v: browse_mixed.detect_mode(Config.fromfile(toy_config(v)))
        for v in ('lossmix-mosaic', 'union-cutmix')
    }
    assert modes == {'lossmix-mosaic': 'mosaic', 'union-cutmix': 'cutmix'}

    def mode(pipeline, augments=()):
        return browse_mixed.detect_mode(
            Config(
                dict(
                    train_dataloader=dict(dataset=dict(pipeline=pipeline)),
                    model=dict(
                        data_preprocessor=dict(
                            batch_augments=list(augments))))))

    assert mode([dict(type='LossMixCachedMixUp')]) == 'mixup'
    assert mode([dict(type='mmdet.CachedMosaic'),
                 dict(type='MixUp')]) == 'mosaic'
    assert mode([dict(type='LossMixCutMix')],
                [dict(type='BatchLossMix')]) == 'cutmix+inbatch'


def _region_labels(texts):
    """(colour, w, v, no_reg) of a tile's weighted boxes and (v, ) of its
    ignored ones, from the drawn labels."""
    boxes, ignored = [], []
    for text, color in texts:
        match = REGION_PATTERN.match(text)
        if match is None:
            match = IGNORED_PATTERN.match(text)
            assert match and color == IGNORED, (text, color)
            ignored.append(float(match[3] or 1.0))
            continue
        weight = float(match[2] or match[3])
        visible = float(match[4] or 1.0)
        boxes.append((color, weight, visible, bool(match[5])))
    return boxes, ignored


def test_lossmix_mosaic_grid(toy_root, tmp_path, drawn, capsys):
    """Mosaic + RandomAffine + MixUp: each box weighs c * v (c = lam own,
    1 - lam partner), v printed where below 1; boxes under min_visible 0.5
    drawn as ignored, under reg_min_visible 0.8 without regression."""
    pack = 'train_dataloader.dataset.pipeline.5'
    out = browse_mixed.main(
        [
            toy_config('lossmix-mosaic'), '--out',
            str(tmp_path), '-n', '4', '--colors', '64'
        ] + _options(toy_root, nested=True) +
        [f'{pack}.min_visible=0.5', f'{pack}.reg_min_visible=0.8'])
    assert out == str(tmp_path / 'browse_mixed_mosaic.png')
    assert f'4 mosaic samples -> {out}' in capsys.readouterr().out
    assert mmcv.imread(out).shape[2] == 3
    assert len(drawn['tiles']) == 4 and len(drawn['captions']) == 4
    counts = dict(visible=0, ignored=0, no_reg=0)
    for texts, caption in zip(drawn['tiles'], drawn['captions']):
        boxes, ignored = _region_labels(texts)
        assert all(v < 0.5 for v in ignored)
        lam = 1.0 if caption == 'no blend' else float(caption.split()[1])
        for color, weight, visible, no_reg in boxes:
            coeff = lam if color == OWN else 1.0 - lam
            # w and v both printed to 2 decimals
            assert weight == pytest.approx(coeff * visible, abs=0.0101)
            assert visible >= 0.5 and no_reg == (visible < 0.8)
        counts['visible'] += sum(v < 1 for _, _, v, _ in boxes)
        counts['no_reg'] += sum(n for *_, n in boxes)
        counts['ignored'] += len(ignored)
    assert min(counts.values()) > 0, counts


def test_cutmix_grid_without_mix_lambda(toy_root, tmp_path, drawn):
    """CutMix writes no mix_lambda: the tiles say 'no blend', every box is
    of group 0 (c = 1) and weighs its visible share."""
    out = browse_mixed.main(
        [toy_config('lossmix-cutmix'), '--out',
         str(tmp_path), '-n', '2'] + _options(toy_root, nested=True))
    assert out == str(tmp_path / 'browse_mixed_cutmix.png')
    assert drawn['captions'] == ['no blend', 'no blend']
    cut = 0
    for texts in drawn['tiles']:
        boxes, ignored = _region_labels(texts)
        assert boxes and not ignored
        for color, weight, visible, no_reg in boxes:
            assert color == OWN and not no_reg
            assert weight == pytest.approx(visible, abs=0.0101)
            cut += visible < 1
    assert cut > 0
