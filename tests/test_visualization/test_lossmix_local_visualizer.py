"""LossMixLocalVisualizer: gt boxes drawn with their loss weights (and,
for region mixing, visible shares, ignored instances and boxes without
regression), and mmdet's own browse_dataset.py drawing a LossMix pair config
with it."""
import itertools
import json
import os
import os.path as osp
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmdet.registry import VISUALIZERS
from mmdet.structures import DetDataSample
from mmdet.structures.mask import BitmapMasks
from mmdet.visualization import DetLocalVisualizer
from mmengine.structures import InstanceData

from lossmix_mm.datasets.transforms.formatting import PackLossMixInputs
from lossmix_mm.structures import LossMixBoxes
from lossmix_mm.visualization.lossmix_local_visualizer import (
    LossMixLocalVisualizer, weight_label, weight_styles, with_ignored)
from lossmix_test_utils import toy_config

CLASSES = ('circle', 'square', 'triangle')
OWN, PARTNER, IGNORED = (255, 160, 0), (0, 200, 255), (200, 200, 200)
GREY = 100
H, W = 96, 128
_names = itertools.count()


def make_visualizer(cls=LossMixLocalVisualizer, **kwargs):
    """A fresh instance (mmengine keeps visualizers by name)."""
    vis = cls(name=f'test_lossmix_vis_{os.getpid()}_{next(_names)}', **kwargs)
    vis.dataset_meta = dict(classes=CLASSES)
    return vis


def make_sample(boxes, labels, weights=None, groups=None, masks=None):
    gts = InstanceData(
        bboxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
        labels=torch.tensor(labels, dtype=torch.long))
    if weights is not None:
        gts.loss_weights = torch.tensor(weights, dtype=torch.float32)
    if groups is not None:
        gts.mix_group = torch.tensor(groups, dtype=torch.long)
    if masks is not None:
        gts.masks = masks
    sample = DetDataSample()
    sample.gt_instances = gts
    return sample


def draw(vis, sample, image=None):
    image = np.full((H, W, 3), GREY, np.uint8) if image is None else image
    vis.add_datasample('img', image, sample, draw_pred=False)
    return vis.get_image()


def blend(color, weight):
    """The colour of a fully covered edge pixel on the grey image: the
    box colour at the weight's opacity over grey."""
    alpha = 0.35 + 0.65 * weight
    return alpha * np.array(color, float) + (1 - alpha) * GREY


@pytest.fixture
def spy(monkeypatch):
    """Records every draw_texts and draw_bboxes call of the visualizer."""
    calls = dict(texts=[], bboxes=[])
    draw_texts = LossMixLocalVisualizer.draw_texts
    draw_bboxes = LossMixLocalVisualizer.draw_bboxes

    def texts(self, texts, positions, **kwargs):
        calls['texts'].append((texts, kwargs.get('colors')))
        return draw_texts(self, texts, positions, **kwargs)

    def bboxes(self, bboxes, **kwargs):
        calls['bboxes'].append((np.asarray(bboxes).tolist(), kwargs))
        return draw_bboxes(self, bboxes, **kwargs)

    monkeypatch.setattr(LossMixLocalVisualizer, 'draw_texts', texts)
    monkeypatch.setattr(LossMixLocalVisualizer, 'draw_bboxes', bboxes)
    return calls


def test_registered_subclass():
    vis = VISUALIZERS.build(
        dict(type='LossMixLocalVisualizer', name=f'reg_{os.getpid()}'))
    assert type(vis) is LossMixLocalVisualizer
    assert isinstance(vis, DetLocalVisualizer)
    with pytest.raises(ValueError, match='must differ'):
        make_visualizer(own_color=OWN, partner_color=OWN)
    with pytest.raises(ValueError, match='ignored_color'):
        make_visualizer(ignored_color=PARTNER)
    with pytest.raises(ValueError, match='alpha_range'):
        make_visualizer(alpha_range=(0.2, 1.5))


def test_weight_styles_hand_values():
    widths, alphas = weight_styles(
        np.array([0.0, 0.5, 1.0, 1.5, -1.0]), (1.0, 2.5), (0.35, 1.0))
    np.testing.assert_allclose(widths, [1.0, 1.75, 2.5, 2.5, 1.0])
    np.testing.assert_allclose(alphas, [0.35, 0.675, 1.0, 1.0, 0.35])


def test_drawn_exactly_at_the_box():
    x1, y1, x2, y2 = 20, 24, 100, 80
    blank = np.full((H, W, 3), GREY, np.uint8)
    out = draw(make_visualizer(),
               make_sample([[x1, y1, x2, y2]], [0], [0.73], [0]))
    changed = np.abs(out.astype(int) - blank).sum(-1) > 0
    # every edge is drawn (at its middle)
    for y, x in ((y1, 60), (y2 - 1, 60), (52, x1), (52, x2 - 1)):
        assert changed[y, x], (y, x)
    # nothing more than 3 px outside the box (line 2.1 pt = 2.9 px wide)
    outside = np.ones((H, W), bool)
    outside[y1 - 3:y2 + 3, x1 - 3:x2 + 3] = False
    assert not changed[outside].any()
    # inside, only the label (top-left corner) changes: the lower right of
    # the interior, 3 px away from the edges, is untouched
    assert not changed[44:y2 - 3, 60:x2 - 3].any()
    assert changed[y1 + 3:y1 + 15, x1 + 3:x1 + 40].any()  # the label
    # an edge pixel is the own colour at opacity 0.35 + 0.65 * 0.73 over grey
    np.testing.assert_allclose(out[y1, 60], blend(OWN, 0.73), atol=1.5)


def test_weight_texts_colours_and_widths(spy):
    sample = make_sample([[10, 10, 70, 60], [50, 30, 120, 90]], [0, 1],
                         [0.73, 0.27], [0, 1])
    out = draw(make_visualizer(), sample)
    # lightest first, each in its group's colour
    assert spy['texts'] == [('square 0.27', PARTNER), ('circle 0.73', OWN)]
    (box_a, kw_a), (box_b, kw_b) = spy['bboxes']
    assert box_a == [[50, 30, 120, 90]] and box_b == [[10, 10, 70, 60]]
    assert kw_a['edge_colors'] == [PARTNER] and kw_b['edge_colors'] == [OWN]
    # width 1 + 1.5 w, opacity 0.35 + 0.65 w
    assert kw_a['line_widths'][0] == pytest.approx(1.405)
    assert kw_b['line_widths'][0] == pytest.approx(2.095)
    assert kw_a['alpha'] == pytest.approx(0.5255)
    assert kw_b['alpha'] == pytest.approx(0.8245)
    # the two groups in two colours on the image too
    np.testing.assert_allclose(out[10, 40], blend(OWN, 0.73), atol=1.5)
    # (the thin partner line, 1.95 px, covers ~97 % of the pixel: 3 levels)
    np.testing.assert_allclose(out[89, 85], blend(PARTNER, 0.27), atol=3)


def test_heavier_box_has_thicker_line():
    thickness = []
    for weight in (0.1, 1.0):
        out = draw(make_visualizer(),
                   make_sample([[20, 40, 100, 80]], [2], [weight]))
        column = np.abs(out[30:50, 60].astype(int) - GREY).sum(-1) > 0
        thickness.append(int(column.sum()))
    assert thickness[0] < thickness[1]


def test_without_mix_group_all_own_colour(spy):
    draw(make_visualizer(),
         make_sample([[5, 5, 40, 40], [60, 20, 90, 70]], [1, 2], [0.4, 0.6]))
    assert spy['texts'] == [('square 0.40', OWN), ('triangle 0.60', OWN)]


@pytest.mark.parametrize('with_pred', [False, True])
def test_without_weights_as_stock(spy, with_pred):
    rng = np.random.RandomState(0)
    image = rng.randint(0, 255, (H, W, 3)).astype(np.uint8)
    sample = make_sample([[10, 10, 70, 60], [50, 30, 120, 90]], [0, 1])
    if with_pred:
        sample.pred_instances = InstanceData(
            bboxes=torch.tensor([[12., 14., 66., 58.]]),
            labels=torch.tensor([2]),
            scores=torch.tensor([0.9]))
    ours, stock = make_visualizer(), make_visualizer(DetLocalVisualizer)
    for vis in (ours, stock):
        vis.add_datasample('img', image, sample, draw_pred=with_pred)
    np.testing.assert_array_equal(ours.get_image(), stock.get_image())
    texts = [t for t, _ in spy['texts']]
    assert texts == ['circle', 'square'
                     ] + (['triangle: 90.0'] if with_pred else [])


def test_numpy_fields_as_browse_dataset_passes_them(spy):
    # browse_dataset.py draws data_sample.numpy() with tensor boxes
    sample = make_sample([[10, 10, 70, 60], [50, 30, 120, 90]], [2, 0],
                         [0.5, 0.5], [0, 1]).numpy()
    sample.gt_instances.bboxes = torch.from_numpy(sample.gt_instances.bboxes)
    draw(make_visualizer(), sample)
    assert spy['texts'] == [('triangle 0.50', OWN), ('circle 0.50', PARTNER)]


def test_no_boxes_leaves_the_image():
    blank = np.full((H, W, 3), GREY, np.uint8)
    out = draw(make_visualizer(), make_sample([], [], [], []))
    np.testing.assert_array_equal(out, blank)


def test_masks_in_group_colour():
    mask = np.zeros((2, H, W), np.uint8)
    mask[0, 20:60, 20:60] = 1
    mask[1, 30:80, 70:120] = 1
    sample = make_sample([[20, 20, 60, 60], [70, 30, 120, 80]], [0, 1],
                         [1.0, 1.0], [0, 1],
                         masks=BitmapMasks(mask, H, W))
    out = draw(make_visualizer(), sample).astype(int)
    # mask filled at half the box opacity (1.0): 0.5 colour + 0.5 grey
    np.testing.assert_allclose(out[50, 50], 0.5 * np.array(OWN) + 50, atol=1.5)
    np.testing.assert_allclose(
        out[70, 110], 0.5 * np.array(PARTNER) + 50, atol=1.5)
    np.testing.assert_array_equal(out[88, 10], [GREY] * 3)


def test_weight_label_hand_strings():
    assert weight_label('circle', 0.73) == 'circle 0.73'
    # w = c * v = 0.5 * 0.62, v printed where it is below 1.00
    assert weight_label('circle', 0.31, 0.62) == 'circle w 0.31 v 0.62'
    assert weight_label('circle', 0.497, 0.994) == 'circle w 0.50 v 0.99'
    assert weight_label('circle', 0.498, 0.996) == 'circle 0.50'
    assert weight_label('square', 0.2, 0.4, 0.0) == \
        'square w 0.20 v 0.40 no reg'
    assert weight_label('square', 1.0, 1.0, 0.0) == 'square 1.00 no reg'
    assert weight_label('triangle', 0.5, 0.2, 0.0, True) == \
        'triangle ignored v 0.20'
    assert weight_label('triangle', 1.0, ignored=True) == 'triangle ignored'


def packed_region_sample():
    """A sample packed by PackLossMixInputs(min_visible=0.3,
    reg_min_visible=0.5) from four boxes (c, v): A (0.5, 0.62) own,
    B (1, 1) own, C (0.5, 0.2) partner -> ignored, D (0.5, 0.4) partner ->
    no regression."""
    boxes = [[10, 10, 50, 50], [60, 10, 100, 50], [10, 60, 40, 90],
             [60, 60, 120, 90]]
    results = dict(
        img=np.full((H, W, 3), GREY, np.uint8),
        img_id=0,
        img_path='a.png',
        ori_shape=(H, W),
        img_shape=(H, W),
        scale_factor=(1.0, 1.0),
        flip=False,
        flip_direction=None,
        mix_lambda=0.5,
        gt_bboxes=LossMixBoxes(
            np.array(boxes, np.float32),
            loss_weights=[0.5, 1.0, 0.5, 0.5],
            mix_group=[0, 0, 1, 1],
            visible=[0.62, 1.0, 0.2, 0.4]),
        gt_bboxes_labels=np.array([0, 1, 2, 0]),
        gt_ignore_flags=np.zeros(4, bool))
    pack = PackLossMixInputs(min_visible=0.3, reg_min_visible=0.5)
    return pack(results)['data_samples']


def test_region_sample_labels_styles_and_ignored(spy):
    out = draw(make_visualizer(), packed_region_sample()).astype(int)
    # the ignored box first, then lightest first: D 0.5 * 0.4, A 0.5 * 0.62
    assert spy['texts'] == [('triangle ignored v 0.20', IGNORED),
                            ('circle w 0.20 v 0.40 no reg', PARTNER),
                            ('circle w 0.31 v 0.62', OWN),
                            ('square 1.00', OWN)]
    styles = [(box, kw['line_styles']) for box, kw in spy['bboxes']]
    assert styles == [([[10, 60, 40, 90]], '--'), ([[60, 60, 120, 90]], ':'),
                      ([[10, 10, 50, 50]], '-'), ([[60, 10, 100, 50]], '-')]
    # the ignored box: thinnest line, opaque
    kw_ignored = spy['bboxes'][0][1]
    assert kw_ignored['line_widths'] == [1.0] and kw_ignored['alpha'] == 1.0
    # on the image: the ignored bottom edge (row 90) in dashes of the
    # opaque grey with gaps, the dotted one (row 89) with gaps, the solid
    # one (A's bottom, row 49) without
    dashed = out[90, 12:39]
    assert (dashed == IGNORED).all(-1).sum() >= 10
    assert (dashed == GREY).all(-1).sum() >= 4
    dotted = out[89, 62:118]
    assert (dotted == GREY).all(-1).sum() >= 10
    solid = out[49, 12:48]
    assert not (solid == GREY).all(-1).any()


def test_with_ignored_merges_only_weighted_gts():
    sample = packed_region_sample()
    merged = with_ignored(sample).gt_instances
    assert merged.ignored.tolist() == [False, False, False, True]
    assert merged.labels.tolist() == [0, 1, 0, 2]
    np.testing.assert_allclose(merged.visible, [0.62, 1.0, 0.4, 0.2])
    np.testing.assert_allclose(merged.reg_weights, [1, 1, 0, 0])
    np.testing.assert_array_equal(merged.bboxes[3], [10, 60, 40, 90])
    assert len(sample.gt_instances) == 3  # the sample itself unchanged
    # unweighted gts keep mmdet's drawing: the ignored ones are not drawn
    del sample.gt_instances.loss_weights
    assert with_ignored(sample) is sample


def test_ignored_not_drawn_without_weights():
    sample = make_sample([[10, 10, 70, 60]], [0])
    sample.ignored_instances = InstanceData(
        bboxes=torch.tensor([[50., 30., 120., 90.]]), labels=torch.tensor([1]))
    ours, stock = make_visualizer(), make_visualizer(DetLocalVisualizer)
    image = np.full((H, W, 3), GREY, np.uint8)
    for vis in (ours, stock):
        vis.add_datasample('img', image, sample, draw_pred=False)
    np.testing.assert_array_equal(ours.get_image(), stock.get_image())


SPY_MODULE = '''
import json
import os

from lossmix_mm.visualization import LossMixLocalVisualizer

_draw_texts = LossMixLocalVisualizer.draw_texts
_draw_instances = LossMixLocalVisualizer._draw_instances


def draw_texts(self, texts, positions, **kwargs):
    self._spy_texts.append([texts, list(kwargs.get('colors'))])
    return _draw_texts(self, texts, positions, **kwargs)


def draw_instances(self, *args, **kwargs):
    self._spy_texts = []
    out = _draw_instances(self, *args, **kwargs)
    with open(os.environ['VIS_SPY_LOG'], 'a') as f:
        f.write(json.dumps(self._spy_texts) + '\\n')
    return out


LossMixLocalVisualizer.draw_texts = draw_texts
LossMixLocalVisualizer._draw_instances = draw_instances
'''


def _browse_dataset_script():
    import mmdet
    return osp.join(
        osp.dirname(mmdet.__file__), '.mim', 'tools', 'analysis_tools',
        'browse_dataset.py')


@pytest.mark.slow
def test_mmdet_browse_dataset_draws_the_weights(toy_root, tmp_path):
    script = _browse_dataset_script()
    if not osp.isfile(script):
        pytest.skip('mmdet installed without its .mim tools')
    (tmp_path / 'vis_spy.py').write_text(SPY_MODULE)
    config = tmp_path / 'pair_with_weights.py'
    config.write_text(
        f'_base_ = {toy_config("lossmix")!r}\n'
        "custom_imports = dict(imports=['lossmix_mm', 'vis_spy'], "
        'allow_failed_imports=False)\n'
        "visualizer = dict(type='LossMixLocalVisualizer', "
        "name='browse_dataset_test')\n")
    out_dir, log = tmp_path / 'out', tmp_path / 'texts.jsonl'
    env = dict(
        os.environ,
        OMP_NUM_THREADS='1',
        VIS_SPY_LOG=str(log),
        PYTHONPATH=os.pathsep.join(
            [str(tmp_path), os.environ.get('PYTHONPATH', '')]))
    subprocess.run([
        sys.executable, script,
        str(config), '--not-show', '--output-dir',
        str(out_dir), '--cfg-options',
        f'train_dataloader.dataset.dataset.data_root={toy_root}/'
    ],
                   check=True,
                   env=env,
                   cwd=str(tmp_path),
                   capture_output=True)

    written = sorted(os.listdir(out_dir))
    assert written == sorted(os.listdir(osp.join(toy_root, 'train')))
    drawn = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(drawn) == len(written)
    pattern = re.compile(r'^(circle|square|triangle) ([01]\.\d\d)$')
    for texts in drawn:
        assert texts, 'a mixed sample without boxes'
        weights = {}
        for text, color in texts:
            match = pattern.match(text)
            assert match, text
            weights.setdefault(tuple(color), set()).add(float(match[2]))
        # own boxes all at lam, partner boxes all at 1 - lam
        assert set(weights) <= {OWN, PARTNER}
        assert all(len(ws) == 1 for ws in weights.values())
        if len(weights) == 2:
            total = weights[OWN].pop() + weights[PARTNER].pop()
            assert total == pytest.approx(1.0, abs=0.011)
    assert any(len({tuple(c) for _, c in texts}) == 2 for texts in drawn)
