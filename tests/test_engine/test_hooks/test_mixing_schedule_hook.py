import pytest
from mmdet.registry import HOOKS
from mmengine.hooks import Hook

from lossmix_mm.engine.hooks import MixingScheduleHook
from lossmix_mm.engine.launch import build_runner, load_cfg
from lossmix_test_utils import toy_config, toy_options

LAMBDAS = []


@HOOKS.register_module(force=True)
class RecordLambdaHook(Hook):
    """Test hook: mix_lambda of every sample the model trained on."""
    priority = 'LOWEST'

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None):
        LAMBDAS.append([s.mix_lambda for s in data_batch['data_samples']])


def run(toy_root, work_dir, max_iters, schedule, resume=None, workers=2):
    cfg = load_cfg(toy_config('lossmix'), None, str(work_dir))
    opts = {}
    for opt in toy_options(toy_root, max_iters, workers=workers):
        key, value = opt.split('=', 1)
        opts[key] = {
            'True': True,
            'False': False,
            'None': None
        }.get(value,
              int(value) if value.lstrip('-').isdigit() else value)
    cfg.merge_from_dict(opts)
    cfg.custom_hooks = [
        dict(type='MixingScheduleHook', schedule=schedule),
        dict(type='RecordLambdaHook')
    ]
    if resume:
        cfg.resume, cfg.load_from = True, resume
    LAMBDAS.clear()
    build_runner(cfg).train()
    return [list(lams) for lams in LAMBDAS]


@pytest.mark.slow
def test_partial_mixing_reaches_persistent_workers_and_resume(
        toy_root, tmp_path):
    # iterations 0-2 mixed, 3-5 not; two persistent loader workers
    lams = run(toy_root, tmp_path / 'a', 6, [dict(iter=3, prob=0.0)])
    assert len(lams) == 6
    # mixed: every sample but one whose partner happens to be its own view
    # (left unmixed, lam 1) has lam < 1
    mixed = [lam for it in lams[:3] for lam in it]
    assert sum(lam < 1 for lam in mixed) >= len(mixed) - 1
    assert all(lam == 1.0 for it in lams[3:] for lam in it)

    # resume at iteration 4 (past the switch): mixing stays off
    lams = run(
        toy_root,
        tmp_path / 'b',
        6, [dict(iter=3, prob=0.0)],
        resume=str(tmp_path / 'a' / 'iter_4.pth'))
    assert len(lams) == 2
    assert all(lam == 1.0 for it in lams for lam in it)


@pytest.mark.slow
def test_switch_back_on_and_change_mode(toy_root, tmp_path):
    # off from the start, noise mixing from iteration 2 (main process
    # loading: no workers)
    lams = run(
        toy_root,
        tmp_path / 'c',
        4, [dict(iter=0, prob=0.0),
            dict(iter=2, prob=1.0, mode='noise')],
        workers=0)
    assert all(lam == 1.0 for it in lams[:2] for lam in it)
    noisy = [lam for it in lams[2:] for lam in it]
    assert all(0.8 <= lam <= 1.0 for lam in noisy)
    assert sum(lam < 1 for lam in noisy) >= len(noisy) - 1


def test_bad_schedules():
    with pytest.raises(ValueError, match='iter >= 0'):
        MixingScheduleHook([dict(prob=0.0)])
    with pytest.raises(ValueError, match="'beta'"):
        MixingScheduleHook([dict(iter=3, beta=2)])
