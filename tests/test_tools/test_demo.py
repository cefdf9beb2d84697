"""tools/demo.py: the two-row table with the difference and the study
beside it (hand-made numbers and the committed study), its arguments, and
a 2-iteration end-to-end run that writes the table and the figure."""
import glob
import json
import os.path as osp
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tools'))
import demo  # noqa: E402


def run(map_, ap50=0.5, train_s=10.0):
    return {
        'coco/bbox_mAP': map_,
        'coco/bbox_mAP_50': ap50,
        'train_s': train_s
    }


def test_table_by_hand():
    results = {
        'nomix/seed3': run(0.2, 0.4, 100.4),
        'lossmix/seed3': run(0.35, 0.6, 110.6)
    }
    reference = {
        'nomix/seed0': run(0.1),
        'lossmix/seed0': run(0.2),
        'nomix/seed1': run(0.3),
        'lossmix/seed1': run(0.6),
        'union/seed1': run(0.9),
        'nomix/seed2': run(0.3)
    }
    lines = demo.table(results, 3, reference)
    assert lines[2:5] == [
        '| no mixing | 0.200 | 0.400 | 100 |',
        '| LossMix (pair) | 0.350 | 0.600 | 111 |',
        'LossMix - no mixing: +0.150 bbox mAP (seed 3)'
    ]
    # seeds 0 and 1 have both variants: differences 0.1 and 0.3, mean
    # 0.2, sample std sqrt(0.02) = 0.141
    assert lines[5] == (
        'the study (seeds 0, 1, docs/quality_study_retinanet_n64_it1200.json'
        '): LossMix - no mixing +0.100 / +0.300, mean +0.200 +- 0.141')
    assert len(demo.table(results, 3, {})) == 5  # no study line


def test_study_reference_is_the_committed_study():
    args = demo.parse_args([])
    # the study's runs: one OMP thread each (two of them at once)
    assert (args.seed, args.iters, args.num_train, args.jobs,
            args.threads) == (0, 1200, 64, 2, 1)
    reference = demo.study_reference(args)
    assert sorted(reference) == [
        f'{v}/seed{s}' for v in ('lossmix', 'nomix') for s in (0, 1, 2)
    ]
    diffs = [
        reference[f'lossmix/seed{s}']['coco/bbox_mAP'] -
        reference[f'nomix/seed{s}']['coco/bbox_mAP'] for s in (0, 1, 2)
    ]
    assert [round(d, 3) for d in diffs] == [0.126, 0.079, 0.039]
    # other settings: not the study's regime, no reference
    assert demo.study_reference(demo.parse_args(['--iters', '800'])) == {}


@pytest.mark.parametrize('argv', [['--iters', '0'], ['--jobs', '0'],
                                  ['--num-train', '0'], ['--threads', '0']])
def test_bad_arguments(argv, capsys):
    with pytest.raises(SystemExit):
        demo.parse_args(argv)
    assert 'must be >= 1' in capsys.readouterr().err


@pytest.mark.slow
def test_demo_end_to_end(tmp_path, capsys):
    work = str(tmp_path / 'demo')
    argv = [
        '--iters',
        '2',
        '--num-train',
        '4',
        '--work-root',
        work,
        '--data-root',
        str(tmp_path / 'toy'),
        '--cfg-options',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'val_dataloader.num_workers=0',
        'val_dataloader.persistent_workers=False',
        # untrained: keep every detection so that the metric scores some
        'model.test_cfg.score_thr=0.0'
    ]
    lines = demo.main(argv)
    out = capsys.readouterr().out
    assert '=== LossMix demo' in out and '\n'.join(lines) in out
    assert lines[2].startswith('| no mixing | ')
    assert lines[3].startswith('| LossMix (pair) | ')
    assert lines[4].startswith('LossMix - no mixing: ')
    assert len(lines) == 5  # 2 iterations: not the study's regime
    assert osp.isfile(osp.join(work, 'demo.png'))
    assert f'figure: {osp.join(work, "demo.png")}' in out
    # a second demo finds both runs finished: it only prints them again
    stamp = {
        p: osp.getmtime(p)
        for p in glob.glob(osp.join(work, '*', 'seed0', '*.pth'))
    }
    assert len(stamp) == 2
    # both runs at once, one OMP thread each, as the study's runs
    with open(osp.join(work, 'results.json')) as f:
        runs = json.load(f)
    assert sorted(runs) == ['lossmix/seed0', 'nomix/seed0']
    assert {(r['jobs'], r['threads']) for r in runs.values()} == {(2, 1)}
    assert demo.main(argv) == lines
    assert {p: osp.getmtime(p) for p in stamp} == stamp
