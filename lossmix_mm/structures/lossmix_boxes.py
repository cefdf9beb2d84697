"""Horizontal boxes that carry LossMix's per-box fields."""
from typing import (Callable, List, Optional, Sequence, Tuple, Type, TypeVar,
                    Union)

import numpy as np
import torch
from mmdet.structures.bbox import (BaseBoxes, HorizontalBoxes, get_box_type,
                                   register_box)
from torch import Tensor

T = TypeVar('T')
DeviceType = Union[str, torch.device]

# storage name -> (columns, dtype, default): the fields live in these
# tensors of shape boxes.shape[:-1] + (columns, ), None until first needed
STORAGES = {'_weights': (3, torch.float32, 1), '_groups': (1, torch.int64, 0)}


def as_field(name: str, value, dtype: torch.dtype, shape: torch.Size,
             device: torch.device) -> Tensor:
    """``value`` as a field tensor of ``dtype`` on ``device``.

    Args:
        name (str): the field's name (for the error).
        value (Tensor | np.ndarray | Sequence): one entry per box.
        dtype (torch.dtype): the field's dtype.
        shape (torch.Size): the boxes' shape without the last dimension.
        device (torch.device): the boxes' device.

    Returns:
        Tensor: the field, of ``shape`` (may share memory with ``value``:
        the caller copies it into its storage).

    Raises:
        ValueError: a shape other than ``shape``, or an integer field given
            non-integer values.
    """
    raw = torch.as_tensor(value)
    field = raw.to(dtype=dtype, device=device)
    if raw.is_floating_point() and not dtype.is_floating_point \
            and not torch.equal(field.to(raw), raw.to(device)):
        raise ValueError(f'{name} must hold integers, got {raw.tolist()}')
    if field.shape != shape:
        raise ValueError(f'{name} must have one entry per box, shape '
                         f'{tuple(shape)}, got shape {tuple(field.shape)}')
    return field


class BoxField:
    """A per-box field of ``LossMixBoxes``: one column of one of its
    storages, read as a view (writing into it writes the boxes' field).

    Setting it copies the value (cast to the storage's dtype, on the
    boxes' device, shape checked) into a new storage, so a view read
    before keeps its values; ``None`` sets the default.

    Args:
        storage (str): ``'_weights'`` or ``'_groups'``.
        column (int): the field's column in it.
    """

    def __init__(self, storage: str, column: int) -> None:
        self.storage = storage
        self.column = column

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        return obj._storage(self.storage)[..., self.column]

    def __set__(self, obj, value) -> None:
        _, dtype, default = STORAGES[self.storage]
        field = default if value is None else as_field(
            self.name, value, dtype, obj.tensor.shape[:-1], obj.device)
        storage = obj._storage(self.storage).clone()
        storage[..., self.column] = field
        setattr(obj, self.storage, storage)


@register_box('lossmix_hbox')
class LossMixBoxes(HorizontalBoxes):
    """``HorizontalBoxes`` whose boxes carry LossMix's per-box fields.

    The fields follow their boxes through indexing, ``cat``, ``stack``,
    ``clone``, ``to``, ``copy.deepcopy``, ``__setitem__``, reshaping and
    every in-place geometric op, so mmdet's transforms keep them aligned
    without knowing them. Registered as ``'lossmix_hbox'`` (for
    ``LoadAnnotations(box_type='lossmix_hbox')``).

    Fields, each of shape ``tensor.shape[:-1]`` (``(N, )``):

    - ``loss_weights`` (float32, default 1): the box's loss weight.
    - ``mix_group`` (int64, default 0): 0 for the own image, 1 for the
      partner (exact mode's label sets).
    - ``reg_weights`` (float32, default 1): the box's regression weight.
    - ``visible`` (float32, default 1): the fraction of the box's area, as
      annotated, still visible: every clip (``clip_``, ``clip_to_``:
      a crop, a tile border, the image border) and every occlusion
      (``occlude_``: a pasted patch) multiplies in what it leaves.

    The three float fields are the columns of one ``(..., 3)`` tensor and
    ``mix_group`` of one ``(..., 1)`` int64 tensor, each made when first
    needed (boxes with default fields carry none): a box op costs one
    tensor op per storage, as it would on more columns of ``tensor``, and a
    field read is a view of its column.

    Args:
        data (Tensor | np.ndarray | Sequence): (..., 4) boxes.
        dtype (torch.dtype, optional): dtype of the boxes.
        device (str | torch.device, optional): device of boxes and fields.
        clone (bool): whether to clone ``data``. Defaults to True.
        in_mode (str, optional): ``'xyxy'`` or ``'cxcywh'``, as
            ``HorizontalBoxes``.
        loss_weights, mix_group, reg_weights, visible (optional): the
            fields, one entry per box; None gives the defaults.
    """

    FIELDS = ('loss_weights', 'mix_group', 'reg_weights', 'visible')
    loss_weights = BoxField('_weights', 0)
    reg_weights = BoxField('_weights', 1)
    visible = BoxField('_weights', 2)
    mix_group = BoxField('_groups', 0)

    def __init__(self,
                 data: Union[Tensor, np.ndarray, Sequence],
                 dtype: Optional[torch.dtype] = None,
                 device: Optional[DeviceType] = None,
                 clone: bool = True,
                 in_mode: Optional[str] = None,
                 loss_weights=None,
                 mix_group=None,
                 reg_weights=None,
                 visible=None) -> None:
        super().__init__(
            data, dtype=dtype, device=device, clone=clone, in_mode=in_mode)
        self._weights = self._groups = None
        given = dict(
            loss_weights=loss_weights,
            mix_group=mix_group,
            reg_weights=reg_weights,
            visible=visible)
        for name, value in given.items():
            if value is not None:
                setattr(self, name, value)

    def _storage(self, key: str) -> Tensor:
        """The storage ``key`` (``STORAGES``), made with the defaults if the
        boxes carry none yet."""
        storage = getattr(self, key)
        if storage is None:
            columns, dtype, default = STORAGES[key]
            storage = self.tensor.new_full(
                self.tensor.shape[:-1] + (columns, ), default, dtype=dtype)
            setattr(self, key, storage)
        return storage

    @classmethod
    def from_boxes(cls: Type[T], boxes) -> T:
        """Boxes of this type: ``boxes`` itself if it is one already.

        Args:
            boxes (LossMixBoxes | HorizontalBoxes | Tensor | np.ndarray):
                (N, 4) boxes; plain ones get the default fields (sharing
                their tensor).

        Returns:
            LossMixBoxes: the boxes with their fields.

        Raises:
            TypeError: for another box type (not horizontal).
        """
        if isinstance(boxes, cls):
            return boxes
        if isinstance(boxes,
                      BaseBoxes) and not isinstance(boxes, HorizontalBoxes):
            raise TypeError('LossMix boxes are horizontal boxes; got '
                            f'{type(boxes).__name__}')
        if isinstance(boxes, HorizontalBoxes):
            return cls(boxes.tensor, clone=False)
        return cls(
            torch.as_tensor(np.asarray(boxes, np.float32)).reshape(-1, 4))

    def has_group(self, group: int) -> bool:
        """Whether a box is in ``mix_group`` ``group`` (boxes that never
        set ``mix_group`` are all in group 0)."""
        if self._groups is None:
            return group == 0 and self.tensor.numel() > 0
        return bool((self._groups == group).any())

    def fields(self) -> dict:
        """The per-box fields by name."""
        return {name: getattr(self, name) for name in self.FIELDS}

    def _derive(self, tensor: Tensor, op: Callable[[Tensor], Tensor]) -> 'T':
        """New boxes of ``tensor`` whose storages are ``op`` of these (each
        storage has the boxes' dims, its own last one)."""
        boxes = type(self)(tensor, clone=False)
        for key in STORAGES:
            storage = getattr(self, key)
            setattr(boxes, key, None if storage is None else op(storage))
        return boxes

    def _moved(self: T, tensor: Tensor) -> T:
        """New boxes of ``tensor`` with copies of the fields on its
        device."""
        return self._derive(tensor, lambda f: f.to(tensor.device, copy=True))

    def __getitem__(self: T, index) -> T:
        if isinstance(index, np.ndarray):
            index = torch.as_tensor(index, device=self.device)
        boxes = super().__getitem__(index)
        shape = boxes.tensor.shape[:-1]
        return self._derive(boxes.tensor,
                            lambda f: _to_leading(f[index], shape))

    def __setitem__(self, index, values) -> None:
        values = self.from_boxes(values)
        super().__setitem__(index, values)
        if isinstance(index, np.ndarray):
            index = torch.as_tensor(index, device=self.device)
        for key in STORAGES:
            if getattr(self, key) is not None or \
                    getattr(values, key) is not None:
                self._storage(key)[index] = values._storage(key).to(
                    self.device)

    def __deepcopy__(self, memo):
        other = super().__deepcopy__(memo)
        for key in STORAGES:
            storage = getattr(self, key)
            setattr(other, key, None if storage is None else storage.clone())
        return other

    def __repr__(self) -> str:
        fields = ''.join(f',\n{k}={v}' for k, v in self.fields().items())
        return f'{type(self).__name__}(\n{self.tensor}{fields})'

    @classmethod
    def cat(cls: Type[T], box_list: Sequence, dim: int = 0) -> T:
        """Concatenate boxes, plain ``HorizontalBoxes`` among them (they
        get the default fields), like ``torch.cat``."""
        return cls._joined(torch.cat, box_list, dim)

    @classmethod
    def stack(cls: Type[T], box_list: Sequence, dim: int = 0) -> T:
        """Stack boxes along a new dimension, like ``torch.stack``."""
        return cls._joined(torch.stack, box_list, dim)

    @classmethod
    def _joined(cls: Type[T], join: Callable, box_list: Sequence,
                dim: int) -> T:
        """``torch.cat`` or ``torch.stack`` of the boxes and their fields."""
        if not isinstance(box_list, Sequence) or not box_list:
            raise ValueError('box_list should be a non-empty sequence')
        boxes = [cls.from_boxes(b) for b in box_list]
        base = super().cat if join is torch.cat else super().stack
        out = base(boxes, dim=dim)
        for key in STORAGES:
            if any(getattr(b, key) is not None for b in boxes):
                setattr(out, key,
                        join([b._storage(key) for b in boxes], dim=dim))
        return out

    def convert_to(self, dst_type: Union[str, type]) -> BaseBoxes:
        """Itself for ``'lossmix_hbox'``; other types hold no fields."""
        name, _ = get_box_type(dst_type)
        if name == 'lossmix_hbox':
            return self
        return HorizontalBoxes(self.tensor).convert_to(dst_type)

    def to_hbox(self) -> HorizontalBoxes:
        """The plain ``HorizontalBoxes`` of the same tensor (no fields)."""
        return HorizontalBoxes(self.tensor, clone=False)

    # region ops: what a clip or a pasted patch leaves of each box
    def clip_(self, img_shape: Tuple[int, int]) -> None:
        """Clip to the image (in place) and keep the visible share.

        Args:
            img_shape (tuple[int, int]): (h, w) of the image.
        """
        self.clip_to_((0, 0, img_shape[1], img_shape[0]))

    def clip_to_(self, region: Union[Sequence[float], Tensor]) -> None:
        """Clip to a rectangle (in place): ``visible`` times the share of
        each box's area inside it (unchanged for a box of zero area).

        Args:
            region (Sequence[float] | Tensor): (x1, y1, x2, y2), or a
                (..., 4) tensor of one rectangle per box.
        """
        before = _areas(self.tensor)
        _clamp_(self.tensor, region)
        self._scale_visible(_share(_areas(self.tensor), before))

    def occlude_(self, region: Sequence[float]) -> None:
        """A patch pasted over ``region`` (boxes unchanged): ``visible``
        times the share of each box's area outside it.

        Args:
            region (Sequence[float]): (x1, y1, x2, y2) of the patch.
        """
        covered = self.tensor.clone()
        _clamp_(covered, region)
        areas = _areas(self.tensor)
        self._scale_visible(_share(areas - _areas(covered), areas))

    def _scale_visible(self, share: Tensor) -> None:
        """``visible`` times ``share`` (in a new storage: a view read
        before keeps its values)."""
        weights = self._storage('_weights').clone()
        weights[..., 2].mul_(share)
        self._weights = weights

    # tensor-like ops: the same op on the field storages (their own last
    # dim in place of the boxes' 4 coordinates)
    def clone(self: T) -> T:
        return self._derive(self.tensor.clone(), lambda f: f.clone())

    def to(self: T, *args, **kwargs) -> T:
        return self._moved(self.tensor.to(*args, **kwargs))

    def cpu(self: T) -> T:
        return self._moved(self.tensor.cpu())

    def cuda(self: T, *args, **kwargs) -> T:
        return self._moved(self.tensor.cuda(*args, **kwargs))

    def detach(self: T) -> T:
        return self._moved(self.tensor.detach())

    def _resized(self: T, op: str, sizes: tuple) -> T:
        """``tensor.<op>(sizes)``; each storage to the same leading sizes
        (``repeat``: repeated, ``expand``: expanded, else reshaped)."""
        sizes = _sizes(sizes)
        lead = sizes[:-1]

        def field_op(f: Tensor) -> Tensor:
            if op == 'repeat':
                return f.repeat(lead + (1, ))
            last = (f.shape[-1], )
            return f.expand(lead + last) if op == 'expand' else \
                f.reshape(lead + last)

        return self._derive(getattr(self.tensor, op)(sizes), field_op)

    def view(self: T, *shape) -> T:
        return self._resized('view', shape)

    def reshape(self: T, *shape) -> T:
        return self._resized('reshape', shape)

    def expand(self: T, *sizes) -> T:
        return self._resized('expand', sizes)

    def repeat(self: T, *sizes) -> T:
        return self._resized('repeat', sizes)

    def transpose(self: T, dim0: int, dim1: int) -> T:
        boxes = super().transpose(dim0, dim1)  # checks the dims
        return self._derive(boxes.tensor, lambda f: f.transpose(dim0, dim1))

    def permute(self: T, *dims) -> T:
        boxes = super().permute(*dims)
        return self._derive(boxes.tensor, lambda f: f.permute(*dims))

    def flatten(self: T, start_dim: int = 0, end_dim: int = -2) -> T:
        boxes = super().flatten(start_dim, end_dim)
        return self._derive(boxes.tensor,
                            lambda f: f.flatten(start_dim, end_dim))

    def squeeze(self: T, dim: Optional[int] = None) -> T:
        boxes = super().squeeze(dim)
        shape = boxes.tensor.shape[:-1]
        return self._derive(boxes.tensor, lambda f: _to_leading(f, shape))

    def unsqueeze(self: T, dim: int) -> T:
        boxes = super().unsqueeze(dim)
        shape = boxes.tensor.shape[:-1]
        return self._derive(boxes.tensor, lambda f: _to_leading(f, shape))

    def split(self: T, split_size_or_sections, dim: int = 0) -> List[T]:
        return self._pieces(super().split(split_size_or_sections, dim),
                            lambda f: f.split(split_size_or_sections, dim))

    def chunk(self: T, chunks: int, dim: int = 0) -> List[T]:
        return self._pieces(super().chunk(chunks, dim),
                            lambda f: f.chunk(chunks, dim))

    def unbind(self: T, dim: int = 0) -> List[T]:
        return self._pieces(super().unbind(dim), lambda f: f.unbind(dim))

    def _pieces(self, pieces: list, op: Callable) -> list:
        """Give each piece of the boxes its pieces of the storages."""
        for key in STORAGES:
            storage = getattr(self, key)
            parts = None if storage is None else op(storage)
            for i, piece in enumerate(pieces):
                setattr(
                    piece, key, None if parts is None else _to_leading(
                        parts[i], piece.tensor.shape[:-1]))
        return pieces


def _sizes(args: tuple) -> tuple:
    """Sizes given as ``f(2, 4)`` or ``f((2, 4))``, as a tuple."""
    if len(args) == 1 and isinstance(args[0], (tuple, list, torch.Size)):
        return tuple(args[0])
    return tuple(args)


def _to_leading(storage: Tensor, shape: torch.Size) -> Tensor:
    """``storage`` reshaped to the boxes' leading ``shape`` (its own last
    dim kept)."""
    return storage.reshape(tuple(shape) + (storage.shape[-1], ))


def _clamp_(boxes: Tensor, region: Union[Sequence[float], Tensor]) -> None:
    """Clamp (..., 4) xyxy ``boxes`` in place to ``region``: (x1, y1, x2,
    y2) or a (..., 4) tensor of one rectangle per box."""
    if isinstance(region, Tensor):
        region = region.to(boxes.device)
        inside = torch.maximum(boxes, region[..., [0, 1, 0, 1]])
        boxes.copy_(torch.minimum(inside, region[..., [2, 3, 2, 3]]))
        return
    x1, y1, x2, y2 = (float(v) for v in region)
    boxes[..., 0::2] = boxes[..., 0::2].clamp(x1, x2)
    boxes[..., 1::2] = boxes[..., 1::2].clamp(y1, y2)


def _areas(boxes: Tensor) -> Tensor:
    """Areas of (..., 4) xyxy ``boxes`` (negative for an inverted one)."""
    return (boxes[..., 2:] - boxes[..., :2]).prod(-1)


def _share(part: Tensor, whole: Tensor) -> Tensor:
    """``part / whole`` in [0, 1]; 1 where ``whole`` is not positive (a
    box of zero area keeps its visible share)."""
    share = (part / whole).clamp_(0, 1)
    return share.masked_fill_(whole <= 0, 1.0)
