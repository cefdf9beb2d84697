"""tools/plot_results.py and ``tools/quality_study.py --plot-only``: the
drawn points are the runs' values, the means and error bars the hand-computed
mean and sample standard deviation."""
import json
import math

import numpy as np
import pytest
from matplotlib.colors import to_rgba
from matplotlib.image import imread

import plot_results  # tools/ is on pytest's pythonpath
import quality_study

# hand-made study: nomix 3 seeds, lossmix seeds 0 and 1, union seed 2 only;
# listed out of the study's order, with a key that is not a run
RESULTS = {
    'union/seed2': {
        'coco/bbox_mAP': 0.20,
        'coco/bbox_mAP_50': 0.40
    },
    'nomix/seed1': {
        'coco/bbox_mAP': 0.40,
        'coco/bbox_mAP_50': 0.60
    },
    'lossmix/seed0': {
        'coco/bbox_mAP': 0.50,
        'coco/bbox_mAP_50': 0.70
    },
    'nomix/seed0': {
        'coco/bbox_mAP': 0.30,
        'coco/bbox_mAP_50': 0.50
    },
    'lossmix/seed1': {
        'coco/bbox_mAP': 0.60,
        'coco/bbox_mAP_50': 0.90
    },
    'nomix/seed2': {
        'coco/bbox_mAP': 0.35,
        'coco/bbox_mAP_50': 0.55
    },
    'notes': 'not a run',
}
# by hand: nomix mAP (0.30 + 0.40 + 0.35) / 3 = 0.35, sample std
# sqrt((0.05^2 + 0.05^2 + 0) / 2) = 0.05; lossmix (0.5 + 0.6) / 2 = 0.55, std
# sqrt(2 * 0.05^2 / 1) = 0.0707107; union 0.2, std 0 (one seed)
MAP_MEANS, MAP_STDS = [0.35, 0.55, 0.20], [0.05, 0.0707107, 0.0]
AP50_MEANS, AP50_STDS = [0.55, 0.80, 0.40], [0.05, 0.1414214, 0.0]
NAN = math.nan


def _line(ax, gid):
    found = [line for line in ax.get_lines() if line.get_gid() == gid]
    assert len(found) == 1, gid
    return found[0]


def _ys(ax, gid):
    """y data of the line ``gid`` as floats (errorbar keeps objects)."""
    return np.asarray(_line(ax, gid).get_ydata(), dtype=float)


def _xs(ax, gid):
    return np.asarray(_line(ax, gid).get_xdata(), dtype=float)


def _error_bar_lengths(ax):
    """Vertical extent of each mean's error bar (= 2 std)."""
    segments = ax.containers[0].lines[2][0].get_segments()
    return [seg[1][1] - seg[0][1] for seg in segments]


def test_quality_study_points_and_means(tmp_path):
    out = tmp_path / 'sub' / 'study.png'
    fig = plot_results.plot_quality_study(RESULTS, str(out), 'hand-made')

    # 2 panels (no segm runs), variants in the study's order
    assert [ax.get_ylabel() for ax in fig.axes] == ['bbox mAP', 'bbox AP50']
    ax_map, ax_ap50 = fig.axes
    assert [t.get_text() for t in ax_map.get_xticklabels()
            ] == ['no-mix', 'LossMix (pair)', 'Union (pair)']
    # per-seed points: one marker line per seed, NaN where a variant lacks it
    np.testing.assert_allclose(_ys(ax_map, 'seed0'), [0.30, 0.50, NAN])
    np.testing.assert_allclose(_ys(ax_map, 'seed1'), [0.40, 0.60, NAN])
    np.testing.assert_allclose(_ys(ax_map, 'seed2'), [0.35, NAN, 0.20])
    np.testing.assert_allclose(_ys(ax_ap50, 'seed1'), [0.60, 0.90, NAN])
    # seeds dodged by 0.08 around each variant's position
    np.testing.assert_allclose(_xs(ax_map, 'seed0'), [-0.08, 0.92, 1.92])
    np.testing.assert_allclose(_xs(ax_map, 'seed2'), [0.08, 1.08, 2.08])
    # means (at x = i + 0.3) and +- sample std bars
    np.testing.assert_allclose(_ys(ax_map, 'mean'), MAP_MEANS)
    np.testing.assert_allclose(_xs(ax_map, 'mean'), [0.3, 1.3, 2.3])
    np.testing.assert_allclose(
        _error_bar_lengths(ax_map), [2 * s for s in MAP_STDS], atol=1e-6)
    np.testing.assert_allclose(_ys(ax_ap50, 'mean'), AP50_MEANS)
    np.testing.assert_allclose(
        _error_bar_lengths(ax_ap50), [2 * s for s in AP50_STDS], atol=1e-6)
    # the mean is written beside its bar
    assert '0.350' in [t.get_text() for t in ax_map.texts]

    # the PNG: (1.5 + 1.7 * 3) x (0.4 + 3.0 * 2) inches at 110 dpi
    image = imread(out)
    assert image.shape == (704, 726, 4)
    assert image[..., :3].std() > 0.05  # not blank


def test_quality_study_segm_panel_and_selection():
    results = {
        k: dict(v, **{'coco/segm_mAP': v['coco/bbox_mAP'] / 2})
        for k, v in RESULTS.items() if k != 'notes'
    }
    fig = plot_results.plot_quality_study(
        results,
        None,
        'selection',
        variants=['union', 'nomix'],
        seeds=[0, 2],
        labels={'union': 'U'})
    assert [ax.get_ylabel()
            for ax in fig.axes] == ['bbox mAP', 'bbox AP50', 'segm mAP']
    ax_map, _, ax_segm = fig.axes
    assert [t.get_text() for t in ax_map.get_xticklabels()] == ['U', 'no-mix']
    assert not [
        line for line in ax_map.get_lines() if line.get_gid() == 'seed1'
    ]
    np.testing.assert_allclose(_ys(ax_map, 'seed0'), [NAN, 0.30])
    np.testing.assert_allclose(_ys(ax_map, 'seed2'), [0.20, 0.35])
    # nomix over seeds 0 and 2 only: (0.30 + 0.35) / 2 = 0.325
    np.testing.assert_allclose(_ys(ax_map, 'mean'), [0.20, 0.325])
    np.testing.assert_allclose(_ys(ax_segm, 'mean'), [0.10, 0.1625])
    # sample std of (0.15, 0.175) = 0.025 / sqrt(2)
    np.testing.assert_allclose(
        _error_bar_lengths(ax_segm), [0.0, 2 * 0.025 / math.sqrt(2)],
        atol=1e-7)
    with pytest.raises(ValueError, match='no runs'):
        plot_results.plot_quality_study(results, None, 'x', variants=['noise'])


def test_quality_study_plot_only(tmp_path, capsys):
    path = tmp_path / 'study.json'
    results = {
        k:
        dict(v, config='configs/toy/retinanet_r18_fpn_1xb4-800it_'
             'toy.py')
        for k, v in RESULTS.items() if k != 'notes'
    }
    path.write_text(json.dumps(results))
    # default: the json's name with .png, title from the runs' detector
    out = quality_study.main(['--plot-only', str(path)])
    assert out == str(tmp_path / 'study.png')
    assert imread(out).shape == (704, 726, 4)
    assert f'figure: {out}' in capsys.readouterr().out
    # --plot, --variants and --seeds select
    other = tmp_path / 'other.png'
    quality_study.main([
        '--plot-only',
        str(path), '--plot',
        str(other), '--variants', 'lossmix', '--seeds', '1', '--title',
        'one run'
    ])
    # one variant: (1.5 + 1.7) x 6.4 inches at 110 dpi
    assert imread(str(other)).shape == (704, 352, 4)
    assert quality_study.detector_of(results) == 'retinanet'
    # training mode keeps its defaults
    args = quality_study.parse_args([])
    assert args.variants == quality_study.DEFAULT_VARIANTS
    assert args.seeds == [0, 1, 2] and args.plot_only is None


BENCH_ROWS = [
    dict(variant='no-mix', sec_per_iter=0.400, ratio=1.0, goal=None),
    dict(variant='lossmix (pair)', sec_per_iter=0.432, ratio=1.08, goal=1.03),
    dict(
        variant='lossmix (in-batch)',
        sec_per_iter=0.408,
        ratio=1.02,
        goal=1.03),
]


def test_benchmark_bars_and_goals(tmp_path):
    out = tmp_path / 'bench.png'
    fig = plot_results.plot_benchmark(BENCH_ROWS, str(out), 'benchmark')
    ax = fig.axes[0]
    bars = ax.patches
    assert [b.get_width() for b in bars] == [1.0, 1.08, 1.02]
    # top to bottom in the rows' order
    assert [t.get_text() for t in ax.get_yticklabels()
            ] == ['no-mix', 'lossmix (pair)', 'lossmix (in-batch)']
    assert ax.yaxis_inverted()
    # no goal: grey; 1.08 > 1.03: missed, red; 1.02 <= 1.03: met, green
    assert [b.get_facecolor() for b in bars] == [
        to_rgba('tab:gray', 0.8),
        to_rgba('tab:red', 0.8),
        to_rgba('tab:green', 0.8)
    ]
    np.testing.assert_allclose(_xs(ax, 'goal'), [NAN, 1.03, 1.03])
    np.testing.assert_allclose(_ys(ax, 'goal'), [0, 1, 2])
    assert [t.get_text() for t in ax.texts] == [
        '1.000  (0.400 s/it)', '1.080  (0.432 s/it)', '1.020  (0.408 s/it)'
    ]
    # 7.5 x (1.2 + 0.45 * 3) inches at 110 dpi
    assert imread(out).shape == (324, 825, 4
                                 )  # 7.5 x (1.6 + 0.45 * 3) in at 110 dpi
    with pytest.raises(ValueError, match='no rows'):
        plot_results.plot_benchmark([], None, 'empty')


def test_quality_study_writes_figure_beside_table(tmp_path, monkeypatch):
    """The study's own path (training replaced by canned runs): the figure
    lands beside --out and holds the runs' values."""
    canned = {k: v for k, v in RESULTS.items() if k.startswith('nomix')}

    def fake_run(args, data_root, variant, seed, results):
        results[f'{variant}/seed{seed}'] = dict(
            canned[f'{variant}/seed{seed}'],
            train_s=1.0,
            **{'coco/bbox_mAP_75': 0.1})

    monkeypatch.setattr(quality_study, 'prepare', lambda *a, **k: None)
    monkeypatch.setattr(quality_study.generate_toy_data, 'generate',
                        lambda *a, **k: None)
    monkeypatch.setattr(quality_study, 'run_one', fake_run)
    drawn = []
    plot = plot_results.plot_quality_study
    monkeypatch.setattr(
        quality_study.plot_results, 'plot_quality_study',
        lambda *a, **k: drawn.append(plot(*a, **k)) or drawn[-1])
    table = tmp_path / 'table.md'
    quality_study.main([
        '--variants', 'nomix', '--seeds', '0', '1', '--work-root',
        str(tmp_path / 'work'), '--out',
        str(table)
    ])
    assert (tmp_path / 'work' / 'results.json').is_file()
    assert imread(str(tmp_path / 'table.png')).shape == (704, 352, 4)
    # once after each run, once at the end; the last over seeds 0 and 1
    assert len(drawn) == 3
    ax = drawn[-1].axes[0]
    assert '| nomix | 0.350 +- 0.071 |' in table.read_text()
    assert drawn[-1].get_suptitle() == (
        'Faster R-CNN toy study, 64 training images, 1200 iterations')
    np.testing.assert_allclose(_ys(ax, 'mean'), [0.35])
    np.testing.assert_allclose(_ys(ax, 'seed1'), [0.40])
