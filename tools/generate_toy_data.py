"""Generate a small COCO-format shape-detection dataset (the CPU default).

Three classes (``circle``, ``square``, ``triangle``) on textured backgrounds
(smoothed noise, gradients, stripes, plus clutter), non-square images of
192-256 px sides, 1-4 objects per image of varied colour, size, rotation and
shading, boxes tight around the drawn shape pixels, and a ``segmentation``
polygon per object (the shape's exact outline: vertices of squares and
triangles, a 64-gon for circles; ``LoadAnnotations(with_mask=True)`` loads
them; ``area`` stays the box area). Trains Faster R-CNN from scratch in
minutes on two CPU cores (``configs/toy/``).

Layout written under ``--out``::

    train/000000.png ...          val/000000.png ...
    annotations/train.json        annotations/val.json
    meta.json                     the generation parameters (written last)

Deterministic: every image has its own generator seeded by (seed, style,
split, index), so the same arguments give byte-identical annotation files and
identical pixels, and image ``k`` of a split does not depend on how many
images the split has. A dataset whose ``meta.json`` matches the arguments is
left as it is unless ``--force``.

``--style`` selects the look of the domain: ``'source'`` (the default) or
``'clipart'``, the target domain of the toy domain adaptation (outline-only
shapes in saturated, bright colours on flat or smooth backgrounds, same
classes and geometry). A new domain is one more entry of ``STYLES``: the
drawing code reads everything style-dependent from there.

Example::

    python tools/generate_toy_data.py --out data/toy --seed 0
    python tools/generate_toy_data.py --out data/toy_clipart --seed 1 \
        --style clipart
"""
import argparse
import json
import os
import os.path as osp
import shutil
import zlib
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

# 3: a ``segmentation`` polygon per object (pixels and boxes as in 2)
GENERATOR_VERSION = 3
CLASSES = ('circle', 'square', 'triangle')
SPLITS = ('train', 'val')
DEFAULT_NUM_TRAIN = 64
DEFAULT_NUM_VAL = 200


@dataclass(frozen=True)
class Style:
    """Everything that makes one visual domain.

    Attributes:
        name (str): the style's name (``--style``).
        size_range (tuple[int, int]): image side lengths, drawn independently
            for width and height.
        max_objects (int): objects per image are 1..max_objects.
        object_scale (tuple[float, float]): object extent as a fraction of
            the image's shorter side.
        backgrounds (tuple[str, ...]): background kinds drawn uniformly, from
            ``BACKGROUNDS``.
        fills (tuple[str, ...]): object fill kinds, from ``'solid'``,
            ``'shaded'``, ``'noisy'``; ``'outline'`` draws only the contour.
        outline_width (tuple[int, int]): contour thickness range for
            ``'outline'`` fills.
        saturation (tuple[float, float]): HSV saturation range of the
            palette (0-1); brightness is ``value``.
        value (tuple[float, float]): HSV value range of the palette (0-1).
        texture_contrast (float): per-channel std of the second background
            colour around the first (the strength of the texture).
        min_contrast (float): least L1 distance (summed over BGR) between an
            object's colour and the mean background under it.
        clutter (float): probability of background clutter (lines, arcs,
            blobs that are no object).
        pixel_noise (tuple[float, float]): std range of the final Gaussian
            pixel noise.
        blur_prob (float): probability of a final 3x3 Gaussian blur.
    """
    name: str
    size_range: Tuple[int, int] = (192, 256)
    max_objects: int = 4
    object_scale: Tuple[float, float] = (0.14, 0.42)
    backgrounds: Tuple[str, ...] = ('noise', 'gradient', 'stripes')
    fills: Tuple[str, ...] = ('solid', 'shaded', 'noisy')
    outline_width: Tuple[int, int] = (2, 4)
    saturation: Tuple[float, float] = (0.25, 1.0)
    value: Tuple[float, float] = (0.2, 1.0)
    texture_contrast: float = 40.0
    min_contrast: float = 180.0
    clutter: float = 0.4
    pixel_noise: Tuple[float, float] = (0.0, 6.0)
    blur_prob: float = 0.3


# 'clipart': the target domain for domain adaptation: outline-only shapes in
# saturated, bright colours on flat or smooth backgrounds, no texture noise,
# little clutter -- a clear visual shift with the same classes and geometry.
STYLES: Dict[str, Style] = {
    'source':
    Style('source'),
    'clipart':
    Style(
        'clipart',
        backgrounds=('flat', 'gradient'),
        fills=('outline', ),
        outline_width=(3, 5),
        saturation=(0.7, 1.0),
        value=(0.75, 1.0),
        texture_contrast=10.0,
        clutter=0.15,
        pixel_noise=(0.0, 2.0),
        blur_prob=0.0),
    # candidates for a larger shift (issue 19): thin outlines among dense
    # clutter of the same strokes on strong texture ('clipart-hard'), and
    # pale, blurred, low-contrast washes ('watercolor')
    'clipart-hard':
    Style(
        'clipart-hard',
        backgrounds=('stripes', 'noise'),
        fills=('outline', ),
        outline_width=(1, 2),
        saturation=(0.6, 1.0),
        value=(0.5, 1.0),
        texture_contrast=60.0,
        min_contrast=100.0,
        clutter=0.9,
        pixel_noise=(0.0, 4.0),
        blur_prob=0.0),
    'watercolor':
    Style(
        'watercolor',
        backgrounds=('gradient', 'flat', 'noise'),
        fills=('noisy', 'shaded'),
        saturation=(0.05, 0.35),
        value=(0.6, 1.0),
        texture_contrast=25.0,
        min_contrast=60.0,
        clutter=0.5,
        pixel_noise=(4.0, 10.0),
        blur_prob=1.0),
}


# ----------------------------------------------------------------- colours
def random_colour(rng: np.random.Generator, style: Style) -> np.ndarray:
    """A BGR colour (float32 [3]) from the style's HSV palette."""
    hue = rng.uniform(0, 180)
    sat = rng.uniform(*style.saturation) * 255
    val = rng.uniform(*style.value) * 255
    hsv = np.array([[[hue, sat, val]]], dtype=np.float32)
    return cv2.cvtColor(hsv.astype(np.uint8),
                        cv2.COLOR_HSV2BGR)[0, 0].astype(np.float32)


def background_colours(rng: np.random.Generator,
                       style: Style) -> Tuple[np.ndarray, np.ndarray]:
    """Two BGR colours of a textured background: a palette colour and one
    ``style.texture_contrast`` away from it (per-channel std)."""
    c0 = random_colour(rng, style)
    c1 = np.clip(c0 + rng.normal(0, style.texture_contrast, 3), 0, 255)
    return c0, c1.astype(np.float32)


# ------------------------------------------------------------- backgrounds
def _bg_noise(rng, h, w, style):
    """Smoothed colour noise between two palette colours."""
    small = rng.random((max(2, h // rng.integers(8, 33)),
                        max(2,
                            w // rng.integers(8, 33)), 1)).astype(np.float32)
    t = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)[..., None]
    t = np.clip(t, 0, 1)
    c0, c1 = background_colours(rng, style)
    return c0 * (1 - t) + c1 * t


def _bg_gradient(rng, h, w, style):
    """Linear gradient at a random angle between two palette colours."""
    angle = rng.uniform(0, 2 * np.pi)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    proj = xs * np.cos(angle) + ys * np.sin(angle)
    t = ((proj - proj.min()) / max(float(np.ptp(proj)), 1.0))[..., None]
    c0, c1 = background_colours(rng, style)
    return c0 * (1 - t) + c1 * t


def _bg_stripes(rng, h, w, style):
    """Soft or hard stripes at a random angle and period."""
    angle = rng.uniform(0, np.pi)
    period = rng.uniform(6, 40)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    phase = (xs * np.cos(angle) + ys * np.sin(angle)) * 2 * np.pi / period
    t = 0.5 + 0.5 * np.sin(phase)
    if rng.random() < 0.5:
        t = (t > 0.5).astype(np.float32)
    t = t[..., None]
    c0, c1 = background_colours(rng, style)
    return c0 * (1 - t) + c1 * t


def _bg_flat(rng, h, w, style):
    """One palette colour."""
    return np.broadcast_to(random_colour(rng, style), (h, w, 3)).copy()


BACKGROUNDS = dict(
    noise=_bg_noise, gradient=_bg_gradient, stripes=_bg_stripes, flat=_bg_flat)


def draw_clutter(rng: np.random.Generator, img: np.ndarray,
                 style: Style) -> None:
    """Lines, arcs and soft blobs that are no object (in place)."""
    h, w = img.shape[:2]
    for _ in range(int(rng.integers(1, 4))):
        colour = tuple(float(c) for c in random_colour(rng, style))
        kind = rng.integers(0, 3)
        if kind == 0:
            p0 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            p1 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            cv2.line(img, p0, p1, colour, int(rng.integers(1, 4)))
        elif kind == 1:
            centre = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            axes = (int(rng.integers(8, 40)), int(rng.integers(8, 40)))
            start = float(rng.uniform(0, 360))
            cv2.ellipse(img, centre, axes, float(rng.uniform(0, 180)), start,
                        start + float(rng.uniform(60, 200)), colour,
                        int(rng.integers(1, 3)))
        else:
            mask = np.zeros((h, w), np.float32)
            centre = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            axes = (int(rng.integers(6, 30)), int(rng.integers(6, 30)))
            cv2.ellipse(mask, centre, axes, float(rng.uniform(0, 180)), 0, 360,
                        1.0, -1)
            mask = cv2.GaussianBlur(mask, (0, 0), 6)[..., None] * 0.6
            img[:] = img * (1 - mask) + np.float32(colour) * mask


# ------------------------------------------------------------------ shapes
def shape_mask(rng: np.random.Generator, cls: str, size: float,
               centre: Tuple[float, float], hw: Tuple[int, int], fill: str,
               style: Style) -> np.ndarray:
    """Binary mask (uint8 {0, 1}) of one shape: ``draw_shape``'s mask."""
    return draw_shape(rng, cls, size, centre, hw, fill, style)[0]


def draw_shape(rng: np.random.Generator, cls: str, size: float,
               centre: Tuple[float, float], hw: Tuple[int, int], fill: str,
               style: Style) -> Tuple[np.ndarray, List[float]]:
    """Binary mask (uint8 {0, 1}) of one shape and its outline polygon.

    The polygon is the shape's silhouette in COCO coordinates (pixel
    ``(x, y)`` covers ``[x, x + 1) x [y, y + 1)``): a square or triangle by
    its vertices (the drawn ones, at pixel centres), a circle as a regular
    polygon of ``CIRCLE_VERTICES`` vertices on the drawn radius; an
    outline-only shape is an object too, so its polygon is the filled
    silhouette (the shape grown by the outer half of the contour, corners
    rounded as OpenCV draws them), clipped to the image.

    Args:
        rng: the image's generator.
        cls (str): one of ``CLASSES``.
        size (float): extent (diameter / side / circumscribed diameter) px.
        centre (tuple[float, float]): (x, y) centre in px.
        hw (tuple[int, int]): image (height, width).
        fill (str): ``'outline'`` draws the contour only.
        style (Style): for the outline width.

    Returns:
        tuple: the (H, W) uint8 mask and the polygon ``[x0, y0, x1, y1,
        ...]`` (floats, counter-clockwise on screen or not).
    """
    mask = np.zeros(hw, np.uint8)
    thickness = (
        int(rng.integers(style.outline_width[0], style.outline_width[1] +
                         1)) if fill == 'outline' else -1)
    # how far the drawn contour reaches beyond the shape's geometry
    grow = (thickness + 1) // 2 if thickness > 0 else 0
    cx, cy = centre
    if cls == 'circle':
        centre_px = (int(round(cx)), int(round(cy)))
        radius = max(2, int(round(size / 2)))
        cv2.circle(mask, centre_px, radius, 1, thickness)
        return mask, _circle_polygon(centre_px, radius + grow, hw)
    if cls == 'square':
        # slightly rectangular, any rotation
        half = np.array([size, size * rng.uniform(0.85, 1.0)]) / 2
        corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * half
        angle = rng.uniform(0, np.pi / 2)
    elif cls == 'triangle':
        # near-equilateral, any rotation
        angles = np.array([90.0, 210.0, 330.0]) + rng.uniform(-10, 10, 3)
        rad = np.deg2rad(angles)
        corners = np.stack([np.cos(rad), np.sin(rad)], 1) * size / 2
        angle = rng.uniform(0, 2 * np.pi)
    else:
        raise ValueError(f'unknown class {cls!r}')
    rot = np.array([[np.cos(angle), -np.sin(angle)],
                    [np.sin(angle), np.cos(angle)]])
    pts = corners @ rot.T + np.array([cx, cy])
    pts = np.round(pts).astype(np.int32).reshape(-1, 1, 2)
    if thickness < 0:
        cv2.fillPoly(mask, [pts], 1)
    else:
        cv2.polylines(mask, [pts], True, 1, thickness)
    return mask, _convex_polygon(pts.reshape(-1, 2), grow, hw)


CIRCLE_VERTICES = 64


def _coco_polygon(xy: np.ndarray, hw: Tuple[int, int]) -> List[float]:
    """Pixel-centre points (N, 2) as a flat COCO polygon: shifted by half a
    pixel, clipped to the image, rounded to 1/100 px."""
    xy = np.asarray(xy, np.float64) + 0.5
    xy[:, 0] = np.clip(xy[:, 0], 0, hw[1])
    xy[:, 1] = np.clip(xy[:, 1], 0, hw[0])
    return [round(float(v), 2) for v in xy.reshape(-1)]


def _circle_polygon(centre: Tuple[int, int], radius: float,
                    hw: Tuple[int, int]) -> List[float]:
    angles = np.arange(CIRCLE_VERTICES) * 2 * np.pi / CIRCLE_VERTICES
    xy = np.stack([np.cos(angles), np.sin(angles)], 1) * radius + centre
    return _coco_polygon(xy, hw)


def _convex_polygon(vertices: np.ndarray, grow: int,
                    hw: Tuple[int, int]) -> List[float]:
    """The convex polygon ``vertices`` (N, 2), grown by ``grow`` px with
    round corners (the hull of a disc around every vertex)."""
    if grow <= 0:
        return _coco_polygon(vertices, hw)
    angles = np.arange(CIRCLE_VERTICES) * 2 * np.pi / CIRCLE_VERTICES
    disc = np.stack([np.cos(angles), np.sin(angles)], 1) * grow
    points = (vertices[:, None, :] + disc[None]).reshape(-1, 2)
    hull = cv2.convexHull(points.astype(np.float32)).reshape(-1, 2)
    return _coco_polygon(hull, hw)


def paint_object(rng: np.random.Generator, img: np.ndarray, mask: np.ndarray,
                 fill: str, style: Style) -> None:
    """Paint ``img`` (float32 HxWx3, in place) where ``mask``, contrasting
    with the background under it."""
    sel = mask.astype(bool)
    under = img[sel].mean(0)
    for _ in range(20):
        colour = random_colour(rng, style)
        if np.abs(colour - under).sum() > style.min_contrast:
            break
    else:
        colour = np.float32(255) - under
    if fill == 'shaded':
        ys, xs = np.nonzero(sel)
        angle = rng.uniform(0, 2 * np.pi)
        proj = xs * np.cos(angle) + ys * np.sin(angle)
        t = ((proj - proj.min()) / max(float(np.ptp(proj)), 1.0))[:, None]
        dark = colour * rng.uniform(0.6, 0.85)
        img[sel] = colour * (1 - t) + dark * t
    elif fill == 'noisy':
        img[sel] = colour + rng.normal(0, 12, (int(sel.sum()), 3))
    else:  # solid, outline
        img[sel] = colour


def _overlaps(box: Sequence[int],
              boxes: List[Sequence[int]],
              gap: int = 2) -> bool:
    x0, y0, x1, y1 = box
    return any(x0 < b[2] + gap and b[0] < x1 + gap and y0 < b[3] +
               gap and b[1] < y1 + gap for b in boxes)


def render_image(
    rng: np.random.Generator, style: Style
) -> Tuple[np.ndarray, List[Tuple[int, List[int], List[float]]]]:
    """One image and its objects.

    Objects never overlap (their boxes keep a 2 px gap), so every box is tight
    around fully visible shape pixels.

    Args:
        rng: the image's own generator.
        style (Style): the domain's look.

    Returns:
        tuple: the (H, W, 3) uint8 BGR image and a list of
        (class index, [x0, y0, x1, y1] with exclusive x1, y1, polygon
        ``[x0, y0, x1, y1, ...]`` of the silhouette, see ``draw_shape``).
    """
    w = int(rng.integers(style.size_range[0], style.size_range[1] + 1))
    h = int(rng.integers(style.size_range[0], style.size_range[1] + 1))
    bg = style.backgrounds[int(rng.integers(len(style.backgrounds)))]
    img = BACKGROUNDS[bg](rng, h, w, style).astype(np.float32)
    if rng.random() < style.clutter:
        draw_clutter(rng, img, style)

    objects: List[Tuple[int, List[int], List[float]]] = []
    num = int(rng.integers(1, style.max_objects + 1))
    short = min(h, w)
    for _ in range(num):
        for _try in range(30):
            cls = int(rng.integers(len(CLASSES)))
            size = rng.uniform(*style.object_scale) * short
            # inside the image whatever the rotation (square: half diagonal)
            margin = size * (0.71 if CLASSES[cls] == 'square' else 0.5) + 2
            centre = (rng.uniform(margin,
                                  w - margin), rng.uniform(margin, h - margin))
            fill = style.fills[int(rng.integers(len(style.fills)))]
            mask, polygon = draw_shape(rng, CLASSES[cls], size, centre, (h, w),
                                       fill, style)
            ys, xs = np.nonzero(mask)
            if len(xs) == 0:
                continue
            box = [
                int(xs.min()),
                int(ys.min()),
                int(xs.max()) + 1,
                int(ys.max()) + 1
            ]
            if _overlaps(box, [obj[1] for obj in objects]):
                continue
            paint_object(rng, img, mask, fill, style)
            objects.append((cls, box, polygon))
            break

    sigma = rng.uniform(*style.pixel_noise)
    if sigma > 0:
        img += rng.normal(0, sigma, img.shape).astype(np.float32)
    if rng.random() < style.blur_prob:
        img = cv2.GaussianBlur(img, (3, 3), 0)
    return np.clip(np.round(img), 0, 255).astype(np.uint8), objects


# ------------------------------------------------------------------ writing
def image_rng(seed: int, style: str, split: str,
              index: int) -> np.random.Generator:
    """The generator of one image: independent of every other image."""
    key = [seed, zlib.crc32(style.encode()), zlib.crc32(split.encode()), index]
    return np.random.default_rng(np.random.SeedSequence(key))


def generate_split(out_dir: str, split: str, num: int, seed: int,
                   style: str) -> dict:
    """Write ``<out_dir>/<split>/*.png`` and return the COCO dict."""
    st = STYLES[style]
    img_dir = osp.join(out_dir, split)
    os.makedirs(img_dir, exist_ok=True)
    images, annotations = [], []
    for index in range(num):
        img, objects = render_image(image_rng(seed, style, split, index), st)
        file_name = f'{index:06d}.png'
        if not cv2.imwrite(osp.join(img_dir, file_name), img):
            raise IOError(f'could not write {osp.join(img_dir, file_name)}')
        image_id = index + 1
        images.append(
            dict(
                id=image_id,
                file_name=file_name,
                width=int(img.shape[1]),
                height=int(img.shape[0])))
        for cls, (x0, y0, x1, y1), polygon in objects:
            bw, bh = x1 - x0, y1 - y0
            # area stays the box's (as in every version before masks): the
            # COCO size ranges of the results so far depend on it
            annotations.append(
                dict(
                    id=len(annotations) + 1,
                    image_id=image_id,
                    category_id=cls + 1,
                    bbox=[float(x0),
                          float(y0),
                          float(bw),
                          float(bh)],
                    area=float(bw * bh),
                    iscrowd=0,
                    segmentation=[polygon]))
    return dict(
        info=dict(
            description=f'lossmix_mm toy shapes, style {style!r}, '
            f'split {split!r}, seed {seed}',
            version=str(GENERATOR_VERSION)),
        images=images,
        annotations=annotations,
        categories=[
            dict(id=i + 1, name=name, supercategory='shape')
            for i, name in enumerate(CLASSES)
        ])


def dataset_meta(seed: int, num_train: int, num_val: int, style: str) -> dict:
    """The parameters that fully determine a dataset (``meta.json``)."""
    return dict(
        generator_version=GENERATOR_VERSION,
        seed=int(seed),
        num_train=int(num_train),
        num_val=int(num_val),
        style=style,
        classes=list(CLASSES))


def read_meta(out_dir: str) -> Optional[dict]:
    """``meta.json`` of a complete dataset under ``out_dir``, else None."""
    path = osp.join(out_dir, 'meta.json')
    if not osp.isfile(path):
        return None
    with open(path) as f:
        meta = json.load(f)
    for split in SPLITS:
        if not osp.isfile(osp.join(out_dir, 'annotations', f'{split}.json')):
            return None
    return meta


def generate(out_dir: str,
             seed: int = 0,
             num_train: int = DEFAULT_NUM_TRAIN,
             num_val: int = DEFAULT_NUM_VAL,
             style: str = 'source',
             force: bool = False) -> dict:
    """Generate the dataset under ``out_dir`` (or keep an identical one).

    Args:
        out_dir (str): dataset root (``data_root`` of the configs).
        seed (int): master seed.
        num_train (int): training images (>= 1).
        num_val (int): validation images (>= 1).
        style (str): a key of ``STYLES``.
        force (bool): regenerate even if ``meta.json`` matches.

    Returns:
        dict: the parameters (as in ``meta.json``) plus ``'generated'``:
        False when an existing dataset was kept.
    """
    if style not in STYLES:
        raise ValueError(f'unknown style {style!r}; available: '
                         f'{sorted(STYLES)}')
    if num_train < 1 or num_val < 1:
        raise ValueError('num_train and num_val must be >= 1')
    meta = dataset_meta(seed, num_train, num_val, style)
    if not force and read_meta(out_dir) == meta:
        return dict(meta, generated=False)

    # remove what this tool owns (stale images of a bigger dataset, a meta
    # that no longer holds), nothing else
    meta_path = osp.join(out_dir, 'meta.json')
    if osp.exists(meta_path):
        os.remove(meta_path)
    for sub in SPLITS + ('annotations', ):
        if osp.isdir(osp.join(out_dir, sub)):
            shutil.rmtree(osp.join(out_dir, sub))
    ann_dir = osp.join(out_dir, 'annotations')
    os.makedirs(ann_dir, exist_ok=True)
    for split, num in zip(SPLITS, (num_train, num_val)):
        coco = generate_split(out_dir, split, num, seed, style)
        with open(osp.join(ann_dir, f'{split}.json'), 'w') as f:
            json.dump(coco, f, indent=None, separators=(',', ':'))
    with open(meta_path, 'w') as f:
        json.dump(meta, f, indent=2)
    return dict(meta, generated=True)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Generate the toy shape-detection dataset (COCO format)')
    parser.add_argument('--out', default='data/toy', help='dataset root')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--num-train', type=int, default=DEFAULT_NUM_TRAIN)
    parser.add_argument('--num-val', type=int, default=DEFAULT_NUM_VAL)
    parser.add_argument(
        '--style',
        default='source',
        choices=sorted(STYLES),
        help='visual domain')
    parser.add_argument(
        '--force',
        action='store_true',
        help='regenerate even if the same dataset exists')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    info = generate(args.out, args.seed, args.num_train, args.num_val,
                    args.style, args.force)
    state = 'generated' if info['generated'] else 'up to date, kept'
    print(f'{args.out}: {state} ({info["num_train"]} train / '
          f'{info["num_val"]} val images, style {info["style"]!r}, '
          f'seed {info["seed"]})')


if __name__ == '__main__':
    main()
