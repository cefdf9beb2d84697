"""The training options of ``MixedDomainTeacher``: defaults and checks."""
import math
import numbers
from typing import Dict, Optional

PHASES = ('warmup', 'adapt')
DISC_INPUTS = ('weak', 'mixed')
DISC_FEATURES = ('neck', 'backbone')
SOURCE_STRONG = 'sup_strong'
TERMS = ('mss', 'nst', 'mtt', 'mst')
DEFAULT_LOSS_WEIGHTS = dict(mss=1.0, nst=1.0, mtt=1.0, mst=1.0)
DEFAULT_TRAIN_CFG = dict(
    cls_pseudo_thr=0.8,
    min_pseudo_bbox_wh=(1e-2, 1e-2),
    nst_noise_range=(0.0, 0.1),
    mst_lambda=None,
    disc_feature='neck',
    disc_level=2,
    disc_input='weak',
    pseudo_box_reg=False,
    nst_phases=('warmup', ),
    pseudo_quality_thrs=())


def check_loss_weights(weights: Optional[dict]) -> Dict[str, float]:
    """The weight of each loss term, defaults filled in.

    Args:
        weights (dict, optional): some of ``TERMS`` -> weight.

    Returns:
        dict[str, float]: every term's weight.

    Raises:
        ValueError: on an unknown term or a weight that is not a finite
            number >= 0, naming the key and the value.
    """
    unknown = set(weights or {}) - set(TERMS)
    if unknown:
        raise ValueError(f'unknown loss_weights keys {sorted(unknown)}; '
                         f'valid: {TERMS}')
    out = dict(DEFAULT_LOSS_WEIGHTS)
    for key, value in (weights or {}).items():
        if isinstance(value, bool) or not isinstance(value, numbers.Real) \
                or not math.isfinite(value) or value < 0:
            raise ValueError(f'semi_train_cfg.loss_weights.{key} must be a '
                             f'finite number >= 0, got {value!r}')
        out[key] = float(value)
    return out


def check_train_cfg(cfg: dict) -> None:
    """Check the mixing and discriminator options of ``semi_train_cfg``.

    Args:
        cfg (dict): ``semi_train_cfg`` with defaults filled in.

    Raises:
        ValueError: naming the bad option, its value and the valid ones.
    """
    low, high = cfg['nst_noise_range']
    if not 0.0 <= low <= high < 1.0:
        raise ValueError(f'nst_noise_range must satisfy 0 <= low <= high '
                         f'< 1, got {(low, high)}')
    mst_lambda = cfg['mst_lambda']
    if mst_lambda is not None and not 0.0 < mst_lambda < 1.0:
        raise ValueError(f'mst_lambda must be None (sampled) or in (0, '
                         f'1), got {mst_lambda}')
    if cfg['disc_feature'] not in DISC_FEATURES:
        raise ValueError(f'disc_feature must be one of {DISC_FEATURES}, '
                         f"got {cfg['disc_feature']!r}")
    if cfg['disc_input'] not in DISC_INPUTS:
        raise ValueError(f'disc_input must be one of {DISC_INPUTS}, got '
                         f"{cfg['disc_input']!r}")
    thrs = cfg['pseudo_quality_thrs']
    if isinstance(thrs, str) or not all(
            isinstance(t, numbers.Real) and not isinstance(t, bool)
            and 0.0 <= t <= 1.0 for t in thrs):
        raise ValueError('pseudo_quality_thrs must be a tuple of score '
                         f'thresholds in [0, 1], got {thrs!r}')
    nst_phases = cfg['nst_phases']
    if isinstance(nst_phases, str) or not set(nst_phases) <= set(PHASES):
        raise ValueError(f'nst_phases must be a tuple of phases from '
                         f'{PHASES}, got {nst_phases!r}')
