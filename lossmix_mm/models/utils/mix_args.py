"""The mixing arguments shared by pair mixing, batch mixing and the
schedule hook: their valid values and their checks."""
import numbers
from typing import Sequence, Tuple

MIX_MODES = ('lossmix', 'union', 'noise')


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
        ValueError: naming the bad value and the valid ones.
    """
    if mode not in MIX_MODES:
        raise ValueError(f'mode must be one of {MIX_MODES}, got {mode!r}')
    if not isinstance(alpha, numbers.Real) or not alpha > 0:
        raise ValueError(f'alpha must be a number > 0, got {alpha!r}')
    if not isinstance(prob, numbers.Real) or not 0 <= prob <= 1:
        raise ValueError(f'prob must be a number in [0, 1], got {prob!r}')
    if (not isinstance(noise_range, (tuple, list)) or len(noise_range) != 2
            or not all(isinstance(v, numbers.Real) for v in noise_range)
            or not 0 <= noise_range[0] <= noise_range[1] <= 0.5):
        raise ValueError('noise_range must be (low, high) with '
                         f'0 <= low <= high <= 0.5, got {noise_range!r}')
    return float(noise_range[0]), float(noise_range[1])


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
