"""A detection visualizer that shows the loss weight of every gt box."""
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmdet.registry import VISUALIZERS
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import BaseBoxes
from mmdet.structures.mask import BitmapMasks, PolygonMasks, bitmap_to_polygon
from mmdet.visualization import DetLocalVisualizer
from mmdet.visualization.palette import _get_adaptive_scales
from mmengine.structures import InstanceData

ColorType = Tuple[int, int, int]


def weight_styles(
        weights: np.ndarray, line_width_range: Sequence[float],
        alpha_range: Sequence[float]) -> Tuple[np.ndarray, np.ndarray]:
    """Line width and alpha of each box, growing linearly with its weight.

    A weight of 0 gets the low end of each range, 1 (and more) the high end:
    ``low + (high - low) * clip(w, 0, 1)``.

    Args:
        weights (np.ndarray): (N, ) loss weights.
        line_width_range (Sequence[float]): (low, high) line widths.
        alpha_range (Sequence[float]): (low, high) opacities in [0, 1].

    Returns:
        tuple[np.ndarray, np.ndarray]: (N, ) line widths and (N, ) alphas.
    """
    frac = np.clip(np.asarray(weights, dtype=np.float64), 0.0, 1.0)
    widths = line_width_range[0] + (line_width_range[1] -
                                    line_width_range[0]) * frac
    alphas = alpha_range[0] + (alpha_range[1] - alpha_range[0]) * frac
    return widths, alphas


def _instance_name(instances: InstanceData, classes: Optional[List[str]],
                   i: int) -> str:
    """Name of instance ``i``: its ``label_names``, class or label."""
    if 'label_names' in instances:
        return str(instances.label_names[i])
    label = int(_to_numpy(instances.labels)[i]) if 'labels' in instances \
        else 0
    if classes is not None and 0 <= label < len(classes):
        return classes[label]
    return f'class {label}'


def _to_numpy(value) -> np.ndarray:
    """A tensor, boxes or array-like as a numpy array."""
    if isinstance(value, BaseBoxes):
        value = value.tensor
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def weight_label(name: str,
                 weight: float,
                 visible: float = 1.0,
                 reg_weight: float = 1.0,
                 ignored: bool = False) -> str:
    """The label of a weighted box.

    ``'circle 0.73'`` for a box wholly visible; where its visible share
    ``v`` prints below 1.00 (``v`` < 0.995), weight and share are both
    named: ``'circle w 0.31 v 0.62'``. A box without box regression
    (``reg_weight`` 0) ends in ``' no reg'``; an ignored box reads
    ``'circle ignored'`` (``'circle ignored v 0.12'``): its weight trains
    nothing.

    Args:
        name (str): the class name.
        weight (float): the loss weight ``w`` (``c * v``).
        visible (float): the visible share ``v``.
        reg_weight (float): the box-regression weight.
        ignored (bool): whether the box is an ignored instance.

    Returns:
        str: the label.
    """
    share = f'{visible:.2f}'
    if ignored:
        text = f'{name} ignored'
        return text if share == '1.00' else f'{text} v {share}'
    text = f'{name} {weight:.2f}' if share == '1.00' else \
        f'{name} w {weight:.2f} v {share}'
    return text if reg_weight > 0 else f'{text} no reg'


# per-box fields of weighted instances and their value when absent
WEIGHTED_FIELDS = dict(
    loss_weights=1.0, mix_group=0, visible=1.0, reg_weights=1.0)


def with_ignored(sample: DetDataSample) -> DetDataSample:
    """The sample with its ignored instances appended to its weighted gts.

    Args:
        sample (DetDataSample): a data sample; its ``gt_instances`` are
            weighted when they have ``loss_weights``.

    Returns:
        DetDataSample: ``sample`` itself when its gts are not weighted or
        it has no ignored boxes; else a copy whose ``gt_instances`` hold the
        gts then the ignored instances (numpy fields), with a bool
        ``ignored`` field telling them apart.
    """
    gts = sample.get('gt_instances')
    ignored = sample.get('ignored_instances')
    if gts is None or 'loss_weights' not in gts or ignored is None or \
            'bboxes' not in ignored or len(ignored) == 0:
        return sample
    parts = (gts, ignored)
    merged = InstanceData(metainfo=gts.metainfo)
    merged.bboxes = np.concatenate(
        [_to_numpy(p.bboxes).reshape(-1, 4) for p in parts])
    keys = [k for k in ('labels', *WEIGHTED_FIELDS) if k in gts]
    for key in keys:
        default = WEIGHTED_FIELDS.get(key, 0)
        merged[key] = np.concatenate([
            _to_numpy(p[key]).reshape(-1) if key in p else np.full(
                len(p), default) for p in parts
        ])
    if 'masks' in gts:
        masks = [_mask_array(gts.masks)]
        masks.append(
            _mask_array(ignored.masks) if 'masks' in ignored else np.zeros(
                (len(ignored), ) + masks[0].shape[1:], bool))
        merged.masks = np.concatenate(masks)
    merged.ignored = np.arange(len(merged)) >= len(gts)
    sample = sample.clone()
    sample.gt_instances = merged
    return sample


def _mask_array(masks) -> np.ndarray:
    """(N, H, W) bool array of BitmapMasks, PolygonMasks or array-likes."""
    if isinstance(masks, (BitmapMasks, PolygonMasks)):
        masks = masks.to_ndarray()
    return _to_numpy(masks).astype(bool)


@VISUALIZERS.register_module()
class LossMixLocalVisualizer(DetLocalVisualizer):
    """``DetLocalVisualizer`` that draws each gt with its LossMix weight.

    Instances with ``loss_weights`` are drawn lightest first, labelled by
    :func:`weight_label` (``'circle 0.73'``, ``'circle w 0.31 v 0.62'``
    where the visible share ``v`` is below 1, ``' no reg'`` appended for a
    box without box regression), line width and opacity growing with the
    weight (:func:`weight_styles`), coloured by ``mix_group`` (0 own, 1
    partner). Boxes without regression are dotted. A sample's ignored
    instances (``ignored_instances``, e.g. boxes below the packer's
    ``min_visible``) are drawn beneath, dashed, in ``ignored_color``, the
    thinnest line at full opacity, labelled ``'circle ignored v 0.12'``.
    Instances without ``loss_weights`` are drawn exactly as
    ``DetLocalVisualizer`` draws them (their ignored instances are not
    drawn, as there).

    Args:
        name (str): name of the (mmengine singleton) instance.
        image (np.ndarray, optional): RGB image to draw on.
        vis_backends (list[dict], optional): visual backends.
        save_dir (str, optional): where the backends save.
        own_color (tuple[int]): RGB colour of the own image's boxes.
        partner_color (tuple[int]): RGB colour of the partner's boxes.
        ignored_color (tuple[int]): RGB colour of ignored instances.
        line_width_range (Sequence[float]): line width at weight 0 and 1
            (mmengine caps it at a quarter of its default font size).
        alpha_range (Sequence[float]): opacity at weight 0 and 1.
        min_font_size (int): smallest label font size.
        **kwargs: the other arguments of ``DetLocalVisualizer``, used for
            instances without weights.
    """

    def __init__(self,
                 name: str = 'visualizer',
                 image: Optional[np.ndarray] = None,
                 vis_backends: Optional[List[dict]] = None,
                 save_dir: Optional[str] = None,
                 own_color: ColorType = (255, 160, 0),
                 partner_color: ColorType = (0, 200, 255),
                 ignored_color: ColorType = (200, 200, 200),
                 line_width_range: Sequence[float] = (1.0, 2.5),
                 alpha_range: Sequence[float] = (0.35, 1.0),
                 min_font_size: int = 8,
                 **kwargs) -> None:
        # ``name`` explicit: mmengine's ManagerMixin asks for it by name
        super().__init__(
            name=name,
            image=image,
            vis_backends=vis_backends,
            save_dir=save_dir,
            **kwargs)
        colors = dict(
            own_color=tuple(own_color),
            partner_color=tuple(partner_color),
            ignored_color=tuple(ignored_color))
        if len(set(colors.values())) != 3:
            raise ValueError('own_color, partner_color and ignored_color '
                             f'must differ, got {colors}')
        if len(line_width_range) != 2 or min(line_width_range) <= 0:
            raise ValueError('line_width_range must be two positive widths, '
                             f'got {line_width_range}')
        if len(alpha_range) != 2 or not all(0.0 <= a <= 1.0
                                            for a in alpha_range):
            raise ValueError(
                f'alpha_range must be two values in [0, 1], got {alpha_range}')
        self.own_color = colors['own_color']
        self.partner_color = colors['partner_color']
        self.ignored_color = colors['ignored_color']
        self.line_width_range = tuple(float(v) for v in line_width_range)
        self.alpha_range = tuple(float(v) for v in alpha_range)
        self.min_font_size = int(min_font_size)

    def group_colors(self, groups: np.ndarray) -> List[ColorType]:
        """RGB colour of each box from its ``mix_group`` (0 own, else
        partner)."""
        return [
            self.own_color if int(g) == 0 else self.partner_color
            for g in groups
        ]

    def add_datasample(self,
                       name: str,
                       image: np.ndarray,
                       data_sample: Optional[DetDataSample] = None,
                       draw_gt: bool = True,
                       *args,
                       **kwargs) -> None:
        """``DetLocalVisualizer.add_datasample``, drawing the ignored
        instances of weighted gts too (:func:`with_ignored`).

        Args:
            name (str): the image identifier.
            image (np.ndarray): the RGB image to draw on.
            data_sample (DetDataSample, optional): gts and predictions.
            draw_gt (bool): whether to draw the gts.
            *args: the other arguments of ``DetLocalVisualizer``.
            **kwargs: the other arguments of ``DetLocalVisualizer``.
        """
        if draw_gt and data_sample is not None:
            data_sample = with_ignored(data_sample)
        super().add_datasample(name, image, data_sample, draw_gt, *args,
                               **kwargs)

    def _draw_instances(self, image: np.ndarray, instances: InstanceData,
                        classes: Optional[List[str]],
                        palette: Optional[List[tuple]]) -> np.ndarray:
        """Draw instances; weighted ones with their weights (see the class).

        Args:
            image (np.ndarray): (H, W, 3) RGB image to draw on.
            instances (InstanceData): gt or predicted instances; weighted
                ones may have ``mix_group``, ``visible``, ``reg_weights``
                and a bool ``ignored`` field (:func:`with_ignored`).
            classes (list[str], optional): class names.
            palette (list[tuple], optional): class colours (used only for
                instances without ``loss_weights``).

        Returns:
            np.ndarray: the drawn (H, W, 3) RGB image.
        """
        if 'loss_weights' not in instances:
            return super()._draw_instances(image, instances, classes, palette)
        self.set_image(image)
        fields = {
            key:
            _to_numpy(instances[key]).reshape(-1)
            if key in instances else np.full(len(instances), default)
            for key, default in dict(WEIGHTED_FIELDS, ignored=False).items()
        }
        weights = fields['loss_weights'].astype(np.float64)
        ignored = fields['ignored'].astype(bool)
        colors = self.group_colors(fields['mix_group'])
        style = dict(
            fields,
            colors=[
                self.ignored_color if i else c
                for c, i in zip(colors, ignored)
            ],
            # ignored first, then lightest first: the heavier boxes on top
            order=np.lexsort((weights, ~ignored)))
        style['widths'], style['alphas'] = weight_styles(
            np.where(ignored, 0.0, weights), self.line_width_range,
            self.alpha_range)
        # ignored: the thinnest line, opaque (a faint dashed line is lost)
        style['alphas'][ignored] = self.alpha_range[1]
        if 'masks' in instances and len(weights) > 0:
            self._draw_weighted_masks(instances.masks, style)
        if 'bboxes' in instances and len(weights) > 0:
            self._draw_weighted_boxes(instances, weights, classes, style)
        return self.get_image()

    def _draw_weighted_masks(self, masks, style: dict) -> None:
        """Outline each mask in white, fill it in its group's colour.

        Args:
            masks: (N, H, W) masks (BitmapMasks, PolygonMasks, array or
                tensor).
            style (dict): ``colors``, ``order``, ``alphas`` of the
                instances (see :meth:`_draw_instances`).
        """
        masks = _mask_array(masks)
        for i in style['order']:
            alpha = float(style['alphas'][i])
            contours, _ = bitmap_to_polygon(masks[i])
            if contours:
                self.draw_polygons(contours, edge_colors='w', alpha=alpha)
            self.draw_binary_masks(
                masks[i][None],
                colors=[style['colors'][i]],
                alphas=0.5 * alpha)

    def _draw_weighted_boxes(self, instances: InstanceData,
                             weights: np.ndarray, classes: Optional[List[str]],
                             style: dict) -> None:
        """Draw each box in its colour, labelled by :func:`weight_label`:
        solid, dotted without regression, dashed when ignored.

        Args:
            instances (InstanceData): N instances with ``bboxes``.
            weights (np.ndarray): (N, ) their loss weights.
            classes (list[str], optional): class names.
            style (dict): ``colors``, ``order``, ``widths``, ``alphas``,
                ``visible``, ``reg_weights``, ``ignored`` of the instances
                (see :meth:`_draw_instances`).
        """
        colors, widths, alphas = (style['colors'], style['widths'],
                                  style['alphas'])
        bboxes = _to_numpy(instances.bboxes).astype(np.float32).reshape(-1, 4)
        areas = (bboxes[:, 3] - bboxes[:, 1]) * (bboxes[:, 2] - bboxes[:, 0])
        scales = _get_adaptive_scales(areas)  # as mmdet sizes its labels
        ignored, no_reg = style['ignored'], style['reg_weights'] <= 0
        for i in style['order']:
            self.draw_bboxes(
                bboxes[i:i + 1],
                edge_colors=[colors[i]],
                alpha=float(alphas[i]),
                line_styles='--' if ignored[i] else ':' if no_reg[i] else '-',
                line_widths=[float(widths[i])])
        for i in style['order']:
            label = weight_label(
                _instance_name(instances, classes, i), weights[i],
                float(style['visible'][i]), float(style['reg_weights'][i]),
                bool(ignored[i]))
            self.draw_texts(
                label,
                # a box reaching out of the image keeps its label inside
                np.maximum(bboxes[i, :2], 0.0) + float(widths[i]),
                colors=colors[i],
                font_sizes=max(int(13 * scales[i]), self.min_font_size),
                bboxes=[{
                    'facecolor': 'black',
                    'alpha': 0.6 + 0.4 * float(alphas[i]),
                    'pad': 0.7,
                    'edgecolor': 'none'
                }])
