"""The mixing arguments shared by pair mixing, batch mixing and the
schedule hook: their valid values and their checks."""
import math
import numbers
from typing import Iterable, List, Sequence, Tuple

import numpy as np

MIX_MODES = ('lossmix', 'union', 'noise')


def check_mix_mode(mode: str, name: str = 'mode') -> str:
    """Check a mixing mode.

    Args:
        mode (str): one of ``MIX_MODES``.
        name (str): what to call it in the error. Defaults to ``'mode'``.

    Returns:
        str: ``mode``.

    Raises:
        ValueError: naming the bad value and the valid ones.
    """
    if not isinstance(mode, str) or mode not in MIX_MODES:
        raise ValueError(f'{name} must be one of {MIX_MODES}, got {mode!r}')
    return mode


REGION_MODES = ('lossmix', 'union')


def check_region_mode(mode: str) -> str:
    """Check the mode of a region transform (Mosaic, MixUp, CutMix).

    Args:
        mode (str): ``'lossmix'`` (w = c * v) or ``'union'`` (every box 1).

    Returns:
        str: ``mode``.

    Raises:
        ValueError: naming the bad value and the valid ones.
    """
    if not isinstance(mode, str) or mode not in REGION_MODES:
        raise ValueError(f'mode must be one of {REGION_MODES}, got {mode!r}')
    return mode


def check_mix_lambda(lam: float, name: str = 'mix_lambda') -> float:
    """Check one mixing coefficient: a finite number in [0, 1].

    Args:
        lam (float): the coefficient of an own image (a Python, numpy or
            one-element tensor number).
        name (str): what to call it in the error. Defaults to
            ``'mix_lambda'``.

    Returns:
        float: ``lam`` as a float.

    Raises:
        ValueError: for a value outside [0, 1], NaN or not a number (a
            string or a bool included).
    """
    try:
        if isinstance(lam, (str, bytes, bool, np.bool_)):
            raise TypeError  # float('0.5') and float(True) would pass
        value = float(lam)
    except (TypeError, ValueError):
        raise ValueError(f'{name} must be a number in [0, 1], got '
                         f'{lam!r}') from None
    if not 0.0 <= value <= 1.0:  # also catches NaN
        raise ValueError(f'{name} must be in [0, 1], got {value}')
    return value


def check_mix_lambdas(lams: Iterable[float],
                      name: str = 'mixing coefficients') -> List[float]:
    """:func:`check_mix_lambda` for several coefficients at once.

    Args:
        lams (Iterable[float]): the coefficients (a list or a 1-D tensor's
            ``tolist()``).
        name (str): what to call them in the error.

    Returns:
        list[float]: the coefficients as floats.

    Raises:
        ValueError: naming all of them when one is outside [0, 1] or NaN.
    """
    values = [float(v) for v in lams]
    if not all(0.0 <= v <= 1.0 for v in values):  # also catches NaN
        bad = [v for v in values if not 0.0 <= v <= 1.0]
        raise ValueError(f'{name} must be in [0, 1], got {bad} among '
                         f'{values}')
    return values


def check_mix_args(mode: str, alpha: float, prob: float,
                   noise_range: Sequence[float]) -> Tuple[float, float]:
    """Validate the mixing arguments shared by pair and batch mixing.

    Args:
        mode (str): one of ``MIX_MODES``.
        alpha (float): Beta(alpha, alpha) parameter, > 0.
        prob (float): probability of mixing a sample, in [0, 1].
        noise_range (Sequence[float]): (low, high) range of the partner's
            coefficient in ``'noise'`` mode, 0 <= low <= high <= 0.5.

    Returns:
        tuple[float, float]: ``noise_range`` as floats.

    Raises:
        ValueError: naming the bad value and the valid ones (bools are not
            numbers here).
    """
    check_mix_mode(mode)
    if not _is_number(alpha) or not math.isfinite(alpha) or not alpha > 0:
        raise ValueError(f'alpha must be a number > 0, got {alpha!r}')
    if not _is_number(prob) or not 0 <= prob <= 1:
        raise ValueError(f'prob must be a number in [0, 1], got {prob!r}')
    if (not isinstance(noise_range, (tuple, list)) or len(noise_range) != 2
            or not all(_is_number(v) for v in noise_range)
            or not 0 <= noise_range[0] <= noise_range[1] <= 0.5):
        raise ValueError('noise_range must be (low, high) with '
                         f'0 <= low <= high <= 0.5, got {noise_range!r}')
    return float(noise_range[0]), float(noise_range[1])


def check_fraction(value: float, name: str) -> float:
    """Check a threshold on a share of a box (``min_visible``, ...).

    Args:
        value (float): a number in [0, 1].
        name (str): the argument's name, for the error.

    Returns:
        float: ``value`` as a float.

    Raises:
        ValueError: naming the bad value (NaN, a bool or a string included).
    """
    if not _is_number(value) or not 0 <= value <= 1:
        raise ValueError(f'{name} must be a number in [0, 1], got {value!r}')
    return float(value)


def check_alpha(alpha, name: str = 'alpha', allow_none: bool = False):
    """Check a Beta(alpha, alpha) parameter: a finite number > 0.

    Args:
        alpha (float | None): the parameter.
        name (str): the argument's name, for the error.
        allow_none (bool): whether None (a fixed coefficient) is valid.

    Returns:
        float | None: ``alpha`` as a float, or None.

    Raises:
        ValueError: naming the bad value.
    """
    if alpha is None and allow_none:
        return None
    if not _is_number(alpha) or not math.isfinite(alpha) or not alpha > 0:
        valid = 'None or ' if allow_none else ''
        raise ValueError(f'{name} must be {valid}a finite number > 0, got '
                         f'{alpha!r}')
    return float(alpha)


def _is_number(value) -> bool:
    """A real number that is not a bool (``True`` is not an alpha)."""
    return isinstance(value,
                      numbers.Real) and not isinstance(value, (bool, np.bool_))


MIX_ARGS = ('mode', 'alpha', 'prob', 'noise_range')


def update_mix_args(mixer, **changes) -> None:
    """Change the mixing arguments of a pair transform or batch augment.

    Used by ``MixingScheduleHook``; the new combination is checked like the
    constructor's arguments.

    Args:
        mixer: an object with ``mode``, ``alpha``, ``prob`` and
            ``noise_range`` attributes (``LossMixPair``, ``BatchLossMix``).
        **changes: new values of some of ``MIX_ARGS``.

    Raises:
        ValueError: for an unknown argument or a bad value.
    """
    unknown = set(changes) - set(MIX_ARGS)
    if unknown:
        raise ValueError(f'unknown mixing arguments {sorted(unknown)}; valid '
                         f'ones: {MIX_ARGS}')
    args = {name: changes.get(name, getattr(mixer, name)) for name in MIX_ARGS}
    args['noise_range'] = check_mix_args(**args)
    args['alpha'] = float(args['alpha'])
    args['prob'] = float(args['prob'])
    for name, value in args.items():
        setattr(mixer, name, value)
