"""The globals mmengine's own checkpoints hold, allowed only while loading.

torch >= 2.6 loads with ``weights_only=True``: only tensors, containers and
an allowlist of globals may be unpickled. An mmengine checkpoint holds a few
more (the message hub's history buffers and numpy values); they are listed
here, each with the reason it is there, and allowed only inside
:func:`mmengine_checkpoint_globals`. A checkpoint that needs any other
global is refused with torch's ``Unsupported global`` message.
"""
import contextlib
import pickle
from typing import Any, Iterator

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

try:
    from numpy._core import multiarray
except ImportError:  # numpy < 2
    from numpy.core import multiarray

HISTORY_STATISTICS = ('min', 'max', 'current', 'mean')


def history_buffer_statistic(obj: Any, name: str) -> Any:
    """``getattr`` as mmengine's checkpoints call it, and only so.

    ``HistoryBuffer.__getstate__`` pickles its statistics methods by
    reference, which pickle writes as ``getattr(HistoryBuffer, name)``.

    Args:
        obj: must be ``HistoryBuffer``.
        name (str): one of :data:`HISTORY_STATISTICS`.

    Returns:
        the unbound method ``HistoryBuffer.<name>``.
    """
    if obj is not HistoryBuffer or name not in HISTORY_STATISTICS:
        raise pickle.UnpicklingError(
            f'getattr({obj!r}, {name!r}) is not allowed in an mmengine '
            f'checkpoint: only HistoryBuffer.{HISTORY_STATISTICS}')
    return getattr(HistoryBuffer, name)


# (object, the name the pickle gives it, why an mmengine checkpoint holds it)
MMENGINE_CHECKPOINT_GLOBALS = (
    (HistoryBuffer, 'mmengine.logging.history_buffer.HistoryBuffer',
     'the message hub keeps every logged scalar in one'),
    (history_buffer_statistic, 'builtins.getattr',
     "HistoryBuffer's min/max/current/mean, pickled by reference"),
    (multiarray._reconstruct, 'numpy._core.multiarray._reconstruct',
     "rebuilds HistoryBuffer's numpy arrays (numpy >= 2 name)"),
    (multiarray._reconstruct, 'numpy.core.multiarray._reconstruct',
     'the same, in a checkpoint written with numpy < 2'),
    (np.ndarray, 'numpy.ndarray', "the class of HistoryBuffer's arrays"),
    (multiarray.scalar, 'numpy._core.multiarray.scalar',
     "numpy scalars: the message hub's 'eta' (numpy >= 2 name)"),
    (multiarray.scalar, 'numpy.core.multiarray.scalar',
     'the same, in a checkpoint written with numpy < 2'),
    (np.dtype, 'numpy.dtype', 'the dtype of every numpy array and scalar'),
    (type(np.dtype(np.float64)), 'numpy.dtypes.Float64DType',
     "float64 dtype state: logged values, 'eta'"),
    (type(np.dtype(np.int64)), 'numpy.dtypes.Int64DType',
     "int64 dtype state: HistoryBuffer's counts"),
)


def allowed_globals() -> list:
    """The ``(object, name)`` pairs of :data:`MMENGINE_CHECKPOINT_GLOBALS`,
    as ``torch.serialization.safe_globals`` takes them."""
    return [(obj, name) for obj, name, _ in MMENGINE_CHECKPOINT_GLOBALS]


@contextlib.contextmanager
def mmengine_checkpoint_globals() -> Iterator[None]:
    """Allow the globals of mmengine's checkpoints while the block runs.

    Wrap any loading of an mmengine checkpoint (``load_checkpoint``,
    ``torch.load``); nothing stays allowed afterwards. Nested blocks and
    globals the caller already allowed are left as they were. Before torch
    2.5 (no allowlist), the block runs unchanged.

    Example::

        with mmengine_checkpoint_globals():
            load_checkpoint(model, 'work_dirs/run/iter_800.pth')
    """
    serialization = torch.serialization
    if not hasattr(serialization, 'safe_globals'):
        yield
        return
    present = set(serialization.get_safe_globals())
    missing = [pair for pair in allowed_globals() if pair not in present]
    with serialization.safe_globals(missing):
        yield
