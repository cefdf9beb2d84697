"""A detection visualizer that shows the loss weight of every gt box."""
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmdet.registry import VISUALIZERS
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


@VISUALIZERS.register_module()
class LossMixLocalVisualizer(DetLocalVisualizer):
    """``DetLocalVisualizer`` that draws each gt with its LossMix weight.

    Instances with ``loss_weights`` are drawn lightest first, labelled with
    class and weight (``'circle 0.73'``), line width and opacity growing
    with the weight (:func:`weight_styles`), coloured by ``mix_group``
    (0 own, 1 partner). Instances without ``loss_weights`` are drawn
    exactly as ``DetLocalVisualizer`` draws them.

    Args:
        name (str): name of the (mmengine singleton) instance.
        image (np.ndarray, optional): RGB image to draw on.
        vis_backends (list[dict], optional): visual backends.
        save_dir (str, optional): where the backends save.
        own_color (tuple[int]): RGB colour of the own image's boxes.
        partner_color (tuple[int]): RGB colour of the partner's boxes.
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
        if tuple(own_color) == tuple(partner_color):
            raise ValueError('own_color and partner_color must differ, got '
                             f'{own_color} for both')
        if len(line_width_range) != 2 or min(line_width_range) <= 0:
            raise ValueError('line_width_range must be two positive widths, '
                             f'got {line_width_range}')
        if len(alpha_range) != 2 or not all(0.0 <= a <= 1.0
                                            for a in alpha_range):
            raise ValueError(
                f'alpha_range must be two values in [0, 1], got {alpha_range}')
        self.own_color = tuple(own_color)
        self.partner_color = tuple(partner_color)
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

    def _draw_instances(self, image: np.ndarray, instances: InstanceData,
                        classes: Optional[List[str]],
                        palette: Optional[List[tuple]]) -> np.ndarray:
        """Draw instances; weighted ones with their weights (see the class).

        Args:
            image (np.ndarray): (H, W, 3) RGB image to draw on.
            instances (InstanceData): gt or predicted instances.
            classes (list[str], optional): class names.
            palette (list[tuple], optional): class colours (used only for
                instances without ``loss_weights``).

        Returns:
            np.ndarray: the drawn (H, W, 3) RGB image.
        """
        if 'loss_weights' not in instances:
            return super()._draw_instances(image, instances, classes, palette)
        self.set_image(image)
        weights = _to_numpy(instances.loss_weights).astype(np.float64)
        num = len(weights)
        groups = _to_numpy(instances.mix_group) if 'mix_group' in instances \
            else np.zeros(num, np.int64)
        style = dict(
            colors=self.group_colors(groups),
            # lightest first: the heavier boxes end up on top
            order=np.argsort(weights, kind='stable'))
        style['widths'], style['alphas'] = weight_styles(
            weights, self.line_width_range, self.alpha_range)
        if 'masks' in instances and num > 0:
            self._draw_weighted_masks(instances.masks, style)
        if 'bboxes' in instances and num > 0:
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
        if isinstance(masks, (BitmapMasks, PolygonMasks)):
            masks = masks.to_ndarray()
        masks = _to_numpy(masks).astype(bool)
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
        """Draw each box in its group's colour, labelled with its weight.

        Args:
            instances (InstanceData): N instances with ``bboxes``.
            weights (np.ndarray): (N, ) their loss weights.
            classes (list[str], optional): class names.
            style (dict): ``colors``, ``order``, ``widths``, ``alphas`` of
                the instances (see :meth:`_draw_instances`).
        """
        colors, widths, alphas = (style['colors'], style['widths'],
                                  style['alphas'])
        bboxes = _to_numpy(instances.bboxes).astype(np.float32).reshape(-1, 4)
        areas = (bboxes[:, 3] - bboxes[:, 1]) * (bboxes[:, 2] - bboxes[:, 0])
        scales = _get_adaptive_scales(areas)  # as mmdet sizes its labels
        for i in style['order']:
            self.draw_bboxes(
                bboxes[i:i + 1],
                edge_colors=[colors[i]],
                alpha=float(alphas[i]),
                line_widths=[float(widths[i])])
        for i in style['order']:
            self.draw_texts(
                f'{_instance_name(instances, classes, i)} {weights[i]:.2f}',
                bboxes[i, :2] + float(widths[i]),
                colors=colors[i],
                font_sizes=max(int(13 * scales[i]), self.min_font_size),
                bboxes=[{
                    'facecolor': 'black',
                    'alpha': 0.6 + 0.4 * float(alphas[i]),
                    'pad': 0.7,
                    'edgecolor': 'none'
                }])
