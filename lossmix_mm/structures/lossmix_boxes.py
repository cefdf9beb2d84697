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


class BoxField:
    """A per-box tensor of ``LossMixBoxes``: one entry per box.

    Setting it casts the value to the field's dtype and the boxes' device
    and checks its shape (the boxes' shape without the last dimension);
    ``None`` gives the default value for every box.

    Args:
        dtype (torch.dtype): the field's dtype.
        default (float): the value of a box built without the field.
    """

    def __init__(self, dtype: torch.dtype, default: float) -> None:
        self.dtype = dtype
        self.default = default

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        return obj.__dict__[self.name]

    def __set__(self, obj, value) -> None:
        shape = obj.tensor.shape[:-1]
        if value is None:
            field = torch.full(
                shape, self.default, dtype=self.dtype, device=obj.device)
        elif isinstance(value, Tensor) and value.dtype == self.dtype and \
                value.shape == shape and value.device == obj.device:
            field = value.clone()
        else:
            raw = torch.as_tensor(value)
            field = raw.to(dtype=self.dtype, device=obj.device).clone()
            if raw.is_floating_point() and not self.dtype.is_floating_point \
                    and not torch.equal(field.to(raw), raw.to(obj.device)):
                raise ValueError(f'{self.name} must hold integers, got '
                                 f'{raw.tolist()}')
            if field.shape != shape:
                raise ValueError(
                    f'{self.name} must have one entry per box, shape '
                    f'{tuple(shape)}, got shape {tuple(field.shape)}')
        obj.__dict__[self.name] = field


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
    loss_weights = BoxField(torch.float32, 1.0)
    mix_group = BoxField(torch.int64, 0)
    reg_weights = BoxField(torch.float32, 1.0)
    visible = BoxField(torch.float32, 1.0)

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
        self.loss_weights = loss_weights
        self.mix_group = mix_group
        self.reg_weights = reg_weights
        self.visible = visible

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

    def fields(self) -> dict:
        """The per-box fields by name."""
        return {name: getattr(self, name) for name in self.FIELDS}

    def _derive(self,
                tensor: Tensor,
                op: Callable[[Tensor], Tensor] = lambda f: f) -> 'T':
        """New boxes of ``tensor`` with ``op`` applied to each field."""
        return type(self)(
            tensor,
            clone=False,
            **{
                k: op(v)
                for k, v in self.fields().items()
            })

    def __getitem__(self: T, index) -> T:
        if isinstance(index, np.ndarray):
            index = torch.as_tensor(index, device=self.device)
        boxes = super().__getitem__(index)
        shape = boxes.tensor.shape[:-1]
        for name, field in self.fields().items():
            setattr(boxes, name, field[index].reshape(shape))
        return boxes

    def __setitem__(self, index, values) -> None:
        values = self.from_boxes(values)
        super().__setitem__(index, values)
        if isinstance(index, np.ndarray):
            index = torch.as_tensor(index, device=self.device)
        for name, field in self.fields().items():
            field[index] = getattr(values, name).to(field.device)

    def __deepcopy__(self, memo):
        other = super().__deepcopy__(memo)
        for name, field in self.fields().items():
            other.__dict__[name] = field.clone()
        return other

    def __repr__(self) -> str:
        fields = ''.join(f',\n{k}={v}' for k, v in self.fields().items())
        return f'{type(self).__name__}(\n{self.tensor}{fields})'

    @classmethod
    def cat(cls: Type[T], box_list: Sequence, dim: int = 0) -> T:
        """Concatenate boxes, plain ``HorizontalBoxes`` among them (they
        get the default fields), like ``torch.cat``."""
        if not isinstance(box_list, Sequence) or not box_list:
            raise ValueError('box_list should be a non-empty sequence')
        boxes = [cls.from_boxes(b) for b in box_list]
        out = super().cat(boxes, dim=dim)
        for name in cls.FIELDS:
            setattr(out, name,
                    torch.cat([getattr(b, name) for b in boxes], dim=dim))
        return out

    @classmethod
    def stack(cls: Type[T], box_list: Sequence, dim: int = 0) -> T:
        """Stack boxes along a new dimension, like ``torch.stack``."""
        if not isinstance(box_list, Sequence) or not box_list:
            raise ValueError('box_list should be a non-empty sequence')
        boxes = [cls.from_boxes(b) for b in box_list]
        out = super().stack(boxes, dim=dim)
        for name in cls.FIELDS:
            setattr(out, name,
                    torch.stack([getattr(b, name) for b in boxes], dim=dim))
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

    def clip_to_(self, region: Sequence[float]) -> None:
        """Clip to a rectangle (in place): ``visible`` times the share of
        each box's area inside it (unchanged for a box of zero area).

        Args:
            region (Sequence[float]): (x1, y1, x2, y2).
        """
        before = self.areas
        x1, y1, x2, y2 = (float(v) for v in region)
        boxes = self.tensor
        boxes[..., 0::2] = boxes[..., 0::2].clamp(x1, x2)
        boxes[..., 1::2] = boxes[..., 1::2].clamp(y1, y2)
        self.visible = self.visible * _share(self.areas, before)

    def occlude_(self, region: Sequence[float]) -> None:
        """A patch pasted over ``region`` (boxes unchanged): ``visible``
        times the share of each box's area outside it.

        Args:
            region (Sequence[float]): (x1, y1, x2, y2) of the patch.
        """
        covered = self.clone()
        covered.clip_to_(region)
        areas = self.areas
        self.visible = self.visible * _share(areas - covered.areas, areas)

    # tensor-like ops: the same op on the fields (which lack the last dim)
    def clone(self: T) -> T:
        return self._derive(self.tensor.clone())

    def to(self: T, *args, **kwargs) -> T:
        return self._derive(self.tensor.to(*args, **kwargs))

    def cpu(self: T) -> T:
        return self._derive(self.tensor.cpu())

    def cuda(self: T, *args, **kwargs) -> T:
        return self._derive(self.tensor.cuda(*args, **kwargs))

    def detach(self: T) -> T:
        return self._derive(self.tensor.detach())

    def _resized(self: T, op: str, field_op: str, sizes: tuple) -> T:
        """``tensor.<op>(sizes)``, each field ``<field_op>`` to the boxes'
        leading sizes."""
        sizes = _sizes(sizes)
        return self._derive(
            getattr(self.tensor, op)(sizes), lambda f: getattr(f, field_op)
            (sizes[:-1]))

    def view(self: T, *shape) -> T:
        return self._resized('view', 'reshape', shape)

    def reshape(self: T, *shape) -> T:
        return self._resized('reshape', 'reshape', shape)

    def expand(self: T, *sizes) -> T:
        return self._resized('expand', 'expand', sizes)

    def repeat(self: T, *sizes) -> T:
        return self._resized('repeat', 'repeat', sizes)

    def transpose(self: T, dim0: int, dim1: int) -> T:
        boxes = super().transpose(dim0, dim1)  # checks the dims
        dim0, dim1 = self._dim(dim0), self._dim(dim1)
        return self._derive(boxes.tensor, lambda f: f.transpose(dim0, dim1))

    def permute(self: T, *dims) -> T:
        boxes = super().permute(*dims)
        dims = [self._dim(d) for d in _sizes(dims)[:-1]]
        return self._derive(boxes.tensor, lambda f: f.permute(dims))

    def flatten(self: T, start_dim: int = 0, end_dim: int = -2) -> T:
        boxes = super().flatten(start_dim, end_dim)
        start, end = self._dim(start_dim), self._dim(end_dim)
        return self._derive(boxes.tensor, lambda f: f.flatten(start, end))

    def squeeze(self: T, dim: Optional[int] = None) -> T:
        boxes = super().squeeze(dim)
        return self._derive(boxes.tensor,
                            lambda f: f.reshape(boxes.tensor.shape[:-1]))

    def unsqueeze(self: T, dim: int) -> T:
        boxes = super().unsqueeze(dim)
        return self._derive(boxes.tensor,
                            lambda f: f.reshape(boxes.tensor.shape[:-1]))

    def split(self: T, split_size_or_sections, dim: int = 0) -> List[T]:
        return self._pieces(
            super().split(split_size_or_sections, dim),
            lambda f: f.split(split_size_or_sections, self._dim(dim)))

    def chunk(self: T, chunks: int, dim: int = 0) -> List[T]:
        return self._pieces(super().chunk(chunks, dim),
                            lambda f: f.chunk(chunks, self._dim(dim)))

    def unbind(self: T, dim: int = 0) -> List[T]:
        return self._pieces(super().unbind(dim),
                            lambda f: f.unbind(self._dim(dim)))

    def _dim(self, dim: int) -> int:
        """A dimension of the boxes (not the last) as one of the fields."""
        return dim if dim >= 0 else dim + self.tensor.dim()

    def _pieces(self, pieces: list, op: Callable) -> list:
        """Give each piece of the boxes its pieces of the fields."""
        fields = {k: op(v) for k, v in self.fields().items()}
        for i, piece in enumerate(pieces):
            for name, parts in fields.items():
                setattr(piece, name, parts[i].reshape(piece.tensor.shape[:-1]))
        return pieces


def _sizes(args: tuple) -> tuple:
    """Sizes given as ``f(2, 4)`` or ``f((2, 4))``, as a tuple."""
    if len(args) == 1 and isinstance(args[0], (tuple, list, torch.Size)):
        return tuple(args[0])
    return tuple(args)


def _share(part: Tensor, whole: Tensor) -> Tensor:
    """``part / whole`` in [0, 1]; 1 where ``whole`` is 0 (a box of zero
    area keeps its visible share)."""
    part, whole = part.float(), whole.float()
    share = part.clamp(min=0) / whole.clamp(min=torch.finfo(whole.dtype).tiny)
    return torch.where(whole > 0, share.clamp(max=1), torch.ones_like(share))
