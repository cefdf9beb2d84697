"""Record the assignments a stock head makes, without copying its code.

A head's ``_get_targets_single`` calls ``self.assigner.assign(...)`` and
keeps the :class:`~mmdet.models.task_modules.AssignResult` to itself: the
returned targets say which samples are positive, not which gt each one was
assigned to. :func:`recorded_assignments` lets a LossMix subclass call the
stock method unchanged and read the assignment afterwards.
"""
from contextlib import contextmanager
from typing import Iterator, List

from mmdet.models.task_modules.assigners import AssignResult


@contextmanager
def recorded_assignments(owner: object,
                         name: str = 'assigner') -> Iterator[List]:
    """Within the block, every ``owner.<name>.assign(...)`` result is kept.

    The assigner's ``assign`` is shadowed by an instance attribute for the
    duration of the block and restored afterwards (also on error, also when
    blocks nest); its results are returned unchanged.

    Args:
        owner (object): the head holding the assigner.
        name (str): the assigner's attribute. Defaults to ``'assigner'``.

    Yields:
        list[AssignResult]: the results of the calls made in the block, in
        call order (filled as the block runs).
    """
    assigner = getattr(owner, name)
    shadowed = vars(assigner).get('assign')  # a recorder outside this one
    original = assigner.assign
    records: List[AssignResult] = []

    def assign(*args, **kwargs) -> AssignResult:
        result = original(*args, **kwargs)
        records.append(result)
        return result

    assigner.assign = assign
    try:
        yield records
    finally:
        if shadowed is None:
            del assigner.assign
        else:
            assigner.assign = shadowed
