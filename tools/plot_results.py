"""Figures of the quality study and of the benchmark (matplotlib, Agg).

    from plot_results import plot_quality_study, plot_benchmark
    plot_quality_study(results, 'docs/study.png', 'toy Faster R-CNN')
    plot_benchmark(rows, 'docs/benchmark.png', 'iteration time')

``results`` is the JSON that ``tools/quality_study.py`` writes
(``{'<variant>/seed<S>': {'coco/bbox_mAP': ..., ...}}``); ``rows`` are dicts
with ``variant``, ``sec_per_iter``, ``ratio`` (over no-mix) and ``goal``
(the largest ratio allowed, or None). Both functions draw on a bare
``Figure`` with the Agg canvas (no pyplot, no global backend switch, safe in
threads and on machines without a display) and return it, so that callers
and tests can read the drawn data back.
"""
import math
import os
import os.path as osp
import re
import statistics
from typing import Dict, List, Optional, Sequence, Tuple

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

# (results key, panel title); a panel is drawn when some run has its key
PANELS = (('coco/bbox_mAP', 'bbox mAP'), ('coco/bbox_mAP_50', 'bbox AP50'),
          ('coco/segm_mAP', 'segm mAP'))
# the study's variant names, in the order the docs' tables give them
VARIANT_ORDER = ('nomix', 'lossmix', 'lossmix-inbatch', 'union', 'noise')
VARIANT_LABELS = {
    'nomix': 'no-mix',
    'lossmix': 'LossMix (pair)',
    'lossmix-inbatch': 'LossMix (in-batch)',
    'union': 'Union (pair)',
    'noise': 'noise',
    'lossmix-cached': 'LossMix (pair, cached)',
    'lossmix-exact': 'LossMix exact (pair)',
}
SEED_COLORS = ('tab:blue', 'tab:orange', 'tab:green', 'tab:red', 'tab:purple',
               'tab:brown', 'tab:pink', 'tab:olive')
_KEY = re.compile(r'^(?P<variant>.+)/seed(?P<seed>\d+)$')


def parse_runs(results: dict) -> Dict[str, Dict[int, dict]]:
    """Group a study's runs by variant and seed.

    Args:
        results (dict): ``{'<variant>/seed<S>': metrics}``; other keys are
            ignored.

    Returns:
        dict: ``{variant: {seed: metrics}}``.
    """
    runs: Dict[str, Dict[int, dict]] = {}
    for key, metrics in results.items():
        match = _KEY.match(key)
        if match:
            runs.setdefault(match['variant'], {})[int(match['seed'])] = metrics
    return runs


def order_variants(variants) -> List[str]:
    """The study's variants first, in its order, then the others sorted."""
    known = [v for v in VARIANT_ORDER if v in variants]
    return known + sorted(v for v in variants if v not in VARIANT_ORDER)


def mean_std(values: Sequence[float]) -> Tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value), as the
    study's tables give them."""
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return statistics.mean(values), std


def _save(fig: Figure, out_png: Optional[str]) -> None:
    if out_png:
        out_dir = osp.dirname(osp.abspath(out_png))
        os.makedirs(out_dir, exist_ok=True)
        fig.savefig(out_png, dpi=fig.dpi)


def plot_quality_study(results: dict,
                       out_png: Optional[str],
                       title: str,
                       variants: Optional[Sequence[str]] = None,
                       seeds: Optional[Sequence[int]] = None,
                       labels: Optional[Dict[str, str]] = None) -> Figure:
    """Per-seed points and mean +- sample std of every variant.

    One panel per metric present in the runs (bbox mAP; bbox AP50 and segm
    mAP when recorded). In a panel, variant ``i`` sits at x = i; seed ``k``
    of ``n`` is a marker at x = i + (k - (n - 1) / 2) * 0.08 in the seed's
    colour (one marker-only line per seed across the variants, gid
    ``'seed<S>'``, NaN where a variant lacks that seed), the mean a black bar
    at x = i + 0.3 with a +- std error bar (gid ``'mean'``: x data = the
    variants' positions, y data = their means) and its value written beside.

    Args:
        results (dict): ``{'<variant>/seed<S>': {metric: value, ...}}``.
        out_png (str, optional): where the PNG goes (folders made); None
            draws without saving.
        title (str): the figure's title.
        variants (Sequence[str], optional): variants to draw, in this
            order; default: all in the runs, the study's order first.
        seeds (Sequence[int], optional): seeds to draw; default: all.
        labels (dict, optional): tick label of a variant; default
            ``VARIANT_LABELS``, else the variant's name.

    Returns:
        Figure: the figure (``fig.axes[j]`` is the j-th panel).
    """
    runs = parse_runs(results)
    if seeds is not None:
        runs = {
            v: {
                s: m
                for s, m in by_seed.items() if s in seeds
            }
            for v, by_seed in runs.items()
        }
    if variants is None:
        variants = order_variants(runs)
    variants = [v for v in variants if runs.get(v)]
    if not variants:
        raise ValueError('no runs to plot')
    labels = {**VARIANT_LABELS, **(labels or {})}
    all_seeds = sorted({s for v in variants for s in runs[v]})
    panels = [(key, name) for key, name in PANELS
              if any(key in runs[v][s] for v in variants for s in runs[v])]

    fig = Figure(
        figsize=(1.5 + 1.7 * len(variants), 0.4 + 3.0 * len(panels)),
        dpi=110,
        layout='constrained')
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(panels), 1, squeeze=False)[:, 0]
    for ax, (key, name) in zip(axes, panels):
        _draw_panel(ax, runs, variants, all_seeds, key, name, labels)
    fig.legend(
        *axes[0].get_legend_handles_labels(),
        loc='outside lower center',
        fontsize=8,
        ncols=len(all_seeds) + 1)
    fig.suptitle(title, fontsize=10)
    _save(fig, out_png)
    return fig


def _draw_panel(ax, runs: dict, variants: Sequence[str], seeds: List[int],
                key: str, name: str, labels: Dict[str, str]) -> None:
    """One metric's panel of :func:`plot_quality_study`: seeds, means."""
    xs = list(range(len(variants)))
    n = len(seeds)
    for k, seed in enumerate(seeds):
        offset = (k - (n - 1) / 2) * 0.08
        ys = [
            runs[v][seed].get(key, math.nan) if seed in runs[v] else math.nan
            for v in variants
        ]
        ax.plot([x + offset for x in xs],
                ys,
                linestyle='none',
                marker='o',
                markersize=6,
                alpha=0.85,
                color=SEED_COLORS[k % len(SEED_COLORS)],
                label=f'seed {seed}',
                gid=f'seed{seed}')
    stats = []
    for v in variants:
        values = [m[key] for m in runs[v].values() if key in m]
        stats.append(mean_std(values) if values else (math.nan, 0.0))
    means = [m for m, _ in stats]
    stds = [s for _, s in stats]
    bars = ax.errorbar([x + 0.3 for x in xs],
                       means,
                       yerr=stds,
                       fmt='_',
                       markersize=16,
                       markeredgewidth=2,
                       color='black',
                       ecolor='black',
                       elinewidth=1.2,
                       capsize=4,
                       label='mean +- std')
    bars.lines[0].set_gid('mean')
    for x, m, s in zip(xs, means, stds):
        if not math.isnan(m):
            ax.annotate(
                f'{m:.3f}', (x + 0.3, m),
                xytext=(8, -3),
                textcoords='offset points',
                fontsize=8)
    ax.set_xticks(xs, [labels.get(v, v) for v in variants])
    ax.set_xlim(-0.5, len(variants) - 0.3)
    ax.set_ylabel(name)
    ax.grid(axis='y', alpha=0.3)


def plot_benchmark(rows: Sequence[dict], out_png: Optional[str],
                   title: str) -> Figure:
    """Horizontal bars of the iteration-time ratio over no-mix, goals marked.

    Bar ``i`` (top to bottom in the order of ``rows``) has width ``ratio``
    and is green where the goal is met (ratio <= goal), red where it is
    missed, grey without a goal; the goal is a black ``|`` marker at x =
    goal on the bar (one marker-only line, gid ``'goal'``, NaN for rows
    without one), the no-mix level a dotted line at x = 1.

    Args:
        rows (Sequence[dict]): ``variant`` (str), ``sec_per_iter`` (float),
            ``ratio`` (float, over no-mix), ``goal`` (float or None).
        out_png (str, optional): where the PNG goes; None draws only.
        title (str): the figure's title.

    Returns:
        Figure: the figure; ``fig.axes[0].patches`` are the bars.
    """
    if not rows:
        raise ValueError('no rows to plot')
    fig = Figure(
        figsize=(7.5, 1.6 + 0.45 * len(rows)), dpi=110, layout='constrained')
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ys = list(range(len(rows)))
    ratios = [float(r['ratio']) for r in rows]
    goals = [
        math.nan if r.get('goal') is None else float(r['goal']) for r in rows
    ]
    colors = [
        'tab:gray'
        if math.isnan(g) else 'tab:green' if ratio <= g else 'tab:red'
        for ratio, g in zip(ratios, goals)
    ]
    ax.barh(ys, ratios, height=0.6, color=colors, alpha=0.8)
    ax.plot(
        goals,
        ys,
        linestyle='none',
        marker='|',
        markersize=18,
        markeredgewidth=2.5,
        color='black',
        label='goal (<=)',
        gid='goal')
    ax.axvline(1.0, color='black', linestyle=':', linewidth=1)
    right = max(ratios + [g for g in goals if not math.isnan(g)])
    for y, r, ratio, g in zip(ys, rows, ratios, goals):
        # right of the bar and of its goal marker
        ax.annotate(
            f'{ratio:.3f}  ({r["sec_per_iter"]:.3f} s/it)',
            (ratio if math.isnan(g) else max(ratio, g), y),
            xytext=(7, 0),
            textcoords='offset points',
            va='center',
            fontsize=8)
    ax.set_yticks(ys, [r['variant'] for r in rows])
    ax.invert_yaxis()
    ax.set_xlim(0, right * 1.35)
    ax.set_xlabel('iteration time / no-mix iteration time')
    if not all(math.isnan(g) for g in goals):
        handles = ax.get_legend_handles_labels()[0] + [
            Patch(color='tab:green', alpha=0.8, label='goal met'),
            Patch(color='tab:red', alpha=0.8, label='goal missed')
        ]
        # below the axes: inside them it can cover a bar's label
        ax.legend(
            handles=handles,
            loc='upper center',
            fontsize=8,
            ncol=3,
            bbox_to_anchor=(0.5, -0.18))
    ax.set_title(title, fontsize=10)
    _save(fig, out_png)
    return fig
