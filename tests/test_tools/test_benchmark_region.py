"""tools/benchmark_region.py: options, the synthetic inputs, the
interleaving (same random state, alternating order) and a tiny run that
writes the tables and the figure."""
import benchmark_region  # tools/ is on pytest's pythonpath
import numpy as np
import pytest
from mmdet.structures.bbox import HorizontalBoxes

from lossmix_mm.structures import LossMixBoxes

PNG_MAGIC = b'\x89PNG\r\n\x1a\n'
LABELS = [
    'LossMixMosaic / Mosaic', 'LossMixCachedMosaic / CachedMosaic',
    'LossMixMixUp / MixUp', 'LossMixCachedMixUp / CachedMixUp',
    'LossMixCutMix lossmix / its union mode',
    'PackLossMixInputs / PackDetInputs'
]


def test_parse_args_defaults():
    args = benchmark_region.parse_args([])
    assert (args.scales, args.calls, args.warmup, args.samples, args.iters,
            args.iter_warmup) == ([192, 640], 300, 30, 200, 20, 5)
    assert benchmark_region.command_line(args) == (
        'python tools/benchmark_region.py --scales 192 640 --calls 300 '
        '--warmup 30 --samples 200 --iters 20 --iter-warmup 5')
    # the iterations' thread count, when given, is part of the command
    threads = benchmark_region.parse_args(['--threads', '2'])
    assert benchmark_region.command_line(threads).endswith(
        '--iter-warmup 5 --threads 2')


@pytest.mark.parametrize('argv', [['--calls', '0'], ['--warmup', '-1'],
                                  ['--iters', '-1'], ['--scales', '8']])
def test_parse_args_rejects(argv):
    with pytest.raises(SystemExit):
        benchmark_region.parse_args(argv)


@pytest.mark.parametrize('scale, sides', [(192, (192, 256)),
                                          (640, (480, 640))])
def test_synthetic_sample(scale, sides):
    rng = np.random.default_rng(0)
    for index in range(20):
        sample = benchmark_region.synthetic_sample(rng, scale, index)
        h, w = sample['img'].shape[:2]
        assert sample['img'].dtype == np.uint8 and sample['img'].shape[2] == 3
        assert sides[0] <= h <= sides[1] and sides[0] <= w <= sides[1]
        assert sample['img_shape'] == sample['ori_shape'] == (h, w)
        boxes = sample['gt_bboxes']
        assert type(boxes) is HorizontalBoxes
        assert 10 <= len(boxes) <= 30
        assert len(sample['gt_bboxes_labels']) == len(boxes)
        assert not sample['gt_ignore_flags'].any()
        assert bool(boxes.is_inside((h, w)).all())
        t = boxes.tensor
        assert (t[:, 0] >= 0).all() and (t[:, 2] <= w).all()
        assert (t[:, 1] >= 0).all() and (t[:, 3] <= h).all()
        assert (t[:, 2:] > t[:, :2]).all()
        ours = benchmark_region.as_lossmix(sample)
        assert type(ours['gt_bboxes']) is LossMixBoxes
        assert ours['gt_bboxes'].tensor.equal(boxes.tensor)
        assert sample['gt_bboxes'] is boxes  # the stock sample unchanged


def test_run_pairs_same_random_state_alternating_order():
    calls = []

    def make(name):

        def fn(arg):
            calls.append((name, arg, np.random.randint(1 << 30)))

        return fn

    med = benchmark_region.run_pairs(3, 1, lambda i, name: i * 10, {
        'a': make('a'),
        'b': make('b')
    })
    assert set(med) == {'a', 'b'}
    assert all(len(v) == 2 and v[0] >= 0 and v[1] >= 0 for v in med.values())
    # round i: both see input 10 i and the draw of seed i; order a b, b a,
    # a b, b a (the warm-up round included)
    assert [(n, a) for n, a, _ in calls] == [('a', 0), ('b', 0), ('b', 10),
                                             ('a', 10), ('a', 20), ('b', 20),
                                             ('b', 30), ('a', 30)]
    for i in range(4):
        assert calls[2 * i][2] == calls[2 * i + 1][2]
        assert calls[2 * i][2] == np.random.RandomState(i).randint(1 << 30)


def test_transform_pairs_take_the_same_arguments():
    for ours, stock, _ in benchmark_region.transform_pairs(64).values():
        ours, stock = dict(ours), dict(stock)
        if ours.pop('type') == 'LossMixCutMix':
            assert stock == dict(type='LossMixCutMix', mode='union')
            continue
        stock.pop('type')
        assert ours == stock


def _rows(text):
    return {
        (cells[0], cells[1]): cells
        for cells in (line.strip('| ').split(' | ')
                      for line in text.splitlines() if line.startswith('| '))
    }


def test_tiny_run_writes_tables_and_png(toy_root, tmp_path):
    """Tiny sizes, few calls: the table's structure, not the timings."""
    out = tmp_path / 'region.md'
    text = benchmark_region.main([
        '--scales', '32', '--calls', '2', '--warmup', '1', '--samples', '1',
        '--iters', '0', '--threads', '1', '--data-root', toy_root, '--out',
        str(out)
    ])
    assert out.read_text() == text + '\n'
    assert '`python tools/benchmark_region.py --scales 32 --calls 2 ' \
        '--warmup 1 --samples 1 --iters 0 --iter-warmup 5 --threads 1`' in text
    rows = _rows(text)
    for label in LABELS:
        cells = rows[(label, '32')]
        assert len(cells) == 8
        ours, stock, ratio, _, cpu, _ = cells[2:]
        ours, stock = float(ours), float(stock)  # ms, rounded to 0.01
        assert (ours - 0.005) / (stock + 0.005) <= float(ratio) <= \
            (ours + 0.005) / (stock - 0.005) + 0.001
        assert float(cpu) > 0
        assert cells[5] in ('<= 1.05 (met)', '<= 1.05 (MISSED)')
        assert cells[7] in ('<= 1.05 (met)', '<= 1.05 (MISSED)')
    pipe = [k for k in rows if k[0].startswith('toy RTMDet pipeline')]
    assert len(pipe) == 1 and len(rows[pipe[0]]) == 7
    assert not any(k[0].startswith('toy RTMDet training') for k in rows)
    with open(tmp_path / 'region.png', 'rb') as f:
        assert f.read(8) == PNG_MAGIC


@pytest.mark.slow
def test_one_rtmdet_iteration_row(toy_root):
    text = benchmark_region.main([
        '--scales', '32', '--calls', '1', '--warmup', '0', '--samples', '0',
        '--iters', '1', '--iter-warmup', '0', '--threads', '1', '--data-root',
        toy_root
    ])
    rows = _rows(text)
    key = [k for k in rows if k[0].startswith('toy RTMDet training')]
    assert len(key) == 1
    assert rows[key[0]][4] in ('<= 1.03 (met)', '<= 1.03 (MISSED)')
    assert rows[key[0]][6] in ('<= 1.03 (met)', '<= 1.03 (MISSED)')
