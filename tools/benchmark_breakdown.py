"""Where a mixing variant's extra iteration time goes (``benchmark.py
--breakdown``).

A two-stage detector's training iteration is cut into stages by timing the
methods that mmdet calls for each (the wrapped methods are shadowed on the
model's instances, the stock code runs unchanged):

=============================================  ==============================
stage                                          timed method(s)
=============================================  ==============================
data loading                                   ``next(loader)``
data preprocessor                              ``data_preprocessor.forward``
  of which in-batch mixing                     ``BatchLossMix.forward``
backbone + neck                                ``extract_feat``
RPN head: forward, targets, loss               ``rpn_head.loss_and_predict``
                                               less ``predict_by_feat``
  of which targets (assignment, weights)       ``rpn_head.get_targets``
  of which LossMix weights                     ``_anchor_gt_inds``,
                                               ``_sample_multipliers``
RPN proposals (decode, NMS)                    ``rpn_head.predict_by_feat``
RoI head: assignment, forward, loss            ``roi_head.loss``
  of which assignment + sampling               ``bbox_assigner.assign``,
                                               ``bbox_sampler.sample``
  of which forward (RoIAlign, box head)        ``roi_head._bbox_forward``
  of which RoIAlign forward                    the extractor's
                                               ``roi_layers``
backward + SGD step                            ``optim_wrapper.update_params``
  of which RoIAlign backward                   ``RoIAlignFunction.backward``
other                                          ``train_step`` less the above
=============================================  ==============================

Beside the times, counts that do not depend on the machine's load explain
them: gts per image, image area (``img_shape``), IoU pairs of the RPN and
RoI assignments, boxes into the RPN's NMS, positive RoIs, and RoIAlign's
sampling points (with ``sampling_ratio=0`` RoIAlign samples
``ceil(h / 7) x ceil(w / 7)`` points per output bin of an h x w RoI on its
level, so larger RoIs cost more forward and backward).

The variants run interleaved, iteration by iteration, from the same seed
(same initial weights, same images in the same order); each stage's cost
is compared per round (variant minus no-mix in the same round, so that a
burst of load hits both), and the share of rounds in which the variant was
slower tells a real cost (close to all rounds) from noise (about half).
"""
import collections
import statistics
import time
from contextlib import contextmanager

import torch

# stage -> indented (a part of the stage above it)
STAGES = [
    ('data loading', False),
    ('data preprocessor', False),
    ('in-batch mixing op', True),
    ('backbone + neck', False),
    ('RPN head: forward, targets, loss', False),
    ('RPN targets (assignment, weights)', True),
    ('RPN LossMix weights', True),
    ('RPN proposals (decode, NMS)', False),
    ('RoI head: assignment, forward, loss', False),
    ('RoI assignment + sampling', True),
    ('RoI forward (RoIAlign, box head)', True),
    ('RoIAlign forward', True),
    ('backward + SGD step', False),
    ('RoIAlign backward', True),
    ('other', False),
    ('iteration', False),
]
COUNTS = [
    'gts per image',
    'image area per image (kpx)',
    'RPN assignment IoU pairs per image (k)',
    'boxes into the RPN NMS per image',
    'RoI assignment IoU pairs per image (k)',
    'positive RoIs per image',
    'RoIAlign sampling points per iteration (k)',
]

_ACTIVE = []  # the clock of the trainer now stepping (class-level hooks)


class StageClock:
    """Per-iteration time of the stages and counts of one trainer.

    Args:
        timer (callable): seconds now (``time.process_time`` for CPU time,
            ``time.perf_counter`` for wall time).
        sync (callable): called before and after each timed call (e.g.
            ``torch.cuda.synchronize``); nothing on the CPU.
    """

    def __init__(self, timer=time.perf_counter, sync=None):
        self.timer = timer
        self.sync = sync or (lambda: None)
        self.times = collections.defaultdict(float)
        self.counts = collections.defaultdict(float)
        self.rounds = []  # (times, counts) per measured iteration
        self.deferred = []  # counts computed after the iteration
        self.num_imgs = 1  # images in the current batch

    def timed(self, fn, stage, after=None):
        """``fn`` whose time is added to ``stage``; ``after(out, *args)``
        may add counts."""

        def wrapper(*args, **kwargs):
            self.sync()
            start = self.timer()
            out = fn(*args, **kwargs)
            self.sync()
            self.times[stage] += self.timer() - start
            if after is not None:
                after(out, *args, **kwargs)
            return out

        return wrapper

    def wrap(self, owner, name, stage, after=None):
        """Shadow ``owner.<name>`` on the instance with a timed call."""
        setattr(owner, name, self.timed(getattr(owner, name), stage, after))

    @staticmethod
    def count(owner, name, after):
        """Shadow ``owner.<name>`` with a call followed by
        ``after(out, *args, **kwargs)`` (not timed)."""
        fn = getattr(owner, name)

        def wrapper(*args, **kwargs):
            out = fn(*args, **kwargs)
            after(out, *args, **kwargs)
            return out

        setattr(owner, name, wrapper)

    def end_iteration(self, total, data_time, keep):
        """Close an iteration of ``total`` s (loading + ``train_step``), of
        which ``data_time`` loading."""
        for fn in self.deferred:
            fn()
        self.deferred = []
        t = self.times
        t['RPN head: forward, targets, loss'] = \
            t.pop('loss_and_predict', 0.0) - t['RPN proposals (decode, NMS)']
        t['iteration'] = total
        t['data loading'] = data_time
        t['other'] = total - sum(
            t[name] for name, part in STAGES
            if not part and name not in ('other', 'iteration'))
        if keep:
            self.rounds.append((dict(t), dict(self.counts)))
        self.times = collections.defaultdict(float)
        self.counts = collections.defaultdict(float)


def _add_count(clock, key, value):
    clock.counts[key] += float(value)


def instrument(trainer, timer=time.perf_counter, sync=None):
    """Attach a :class:`StageClock` to a benchmark ``Trainer`` (a two-stage
    detector with a standard RoI head) as ``trainer.clock``; see
    :class:`StageClock` for ``timer`` and ``sync``."""
    clock = StageClock(timer, sync)
    model = trainer.model
    rpn, roi = model.rpn_head, model.roi_head

    def after_preprocess(out, *args, **kwargs):
        samples = out['data_samples']
        clock.num_imgs = len(samples)
        for s in samples:
            h, w = s.img_shape[:2]
            _add_count(clock, 'gts per image',
                       len(s.gt_instances) / len(samples))
            _add_count(clock, 'image area per image (kpx)',
                       h * w / 1e3 / len(samples))

    def pairs(key):

        def after(out, pred_instances, gt_instances, *args, **kwargs):
            _add_count(
                clock, key,
                len(pred_instances) * len(gt_instances) / 1e3 / clock.num_imgs)

        return after

    def after_sample(result, *args, **kwargs):
        _add_count(clock, 'positive RoIs per image',
                   result.pos_inds.numel() / clock.num_imgs)

    clock.wrap(model.data_preprocessor, 'forward', 'data preprocessor',
               after_preprocess)
    for aug in getattr(model.data_preprocessor, 'batch_augments', None) or []:
        clock.wrap(aug, 'forward', 'in-batch mixing op')
    clock.wrap(model, 'extract_feat', 'backbone + neck')
    clock.wrap(rpn, 'loss_and_predict', 'loss_and_predict')
    clock.wrap(rpn, 'get_targets', 'RPN targets (assignment, weights)')
    clock.wrap(rpn, 'predict_by_feat', 'RPN proposals (decode, NMS)')
    clock.count(rpn.assigner, 'assign',
                pairs('RPN assignment IoU pairs per image (k)'))
    clock.wrap(roi.bbox_assigner, 'assign', 'RoI assignment + sampling',
               pairs('RoI assignment IoU pairs per image (k)'))
    clock.wrap(roi.bbox_sampler, 'sample', 'RoI assignment + sampling',
               after_sample)
    clock.wrap(roi, '_bbox_forward', 'RoI forward (RoIAlign, box head)')
    clock.wrap(roi, 'loss', 'RoI head: assignment, forward, loss')
    # the LossMix-only step of the RPN's targets (absent from stock heads)
    if hasattr(rpn, '_anchor_weights'):
        clock.wrap(rpn, '_anchor_weights', 'RPN LossMix weights')
    extractor = roi.bbox_roi_extractor
    for layer in extractor.roi_layers:
        clock.wrap(layer, 'forward', 'RoIAlign forward')

    def after_extract(out, feats, rois, *args, **kwargs):
        rois = rois.detach()
        clock.deferred.append(lambda: _add_count(
            clock, 'RoIAlign sampling points per iteration (k)',
            roi_align_points(extractor, rois) / 1e3))

    clock.count(extractor, 'forward', after_extract)
    clock.wrap(trainer.optim, 'update_params', 'backward + SGD step')
    trainer.clock = clock
    return clock


def roi_align_points(extractor, rois):
    """Bilinear sampling points RoIAlign computes for ``rois`` (R, 5) in a
    ``SingleRoIExtractor``: per RoI, on its level, output bins x
    ``ceil(h / out_h) * ceil(w / out_w)`` (``sampling_ratio`` 0, mmcv's
    adaptive grid; at least one) or ``sampling_ratio ** 2``."""
    num_levels = len(extractor.featmap_strides)
    levels = extractor.map_roi_levels(rois, num_levels)
    total = 0
    for lvl, layer in enumerate(extractor.roi_layers):
        sel = rois[levels == lvl]
        if not len(sel):
            continue
        out_h, out_w = layer.output_size
        ratio = layer.sampling_ratio
        scale = 1.0 / extractor.featmap_strides[lvl]
        if ratio > 0:
            grid = torch.full((len(sel), ), ratio * ratio)
        else:
            h = (sel[:, 4] - sel[:, 2]) * scale
            w = (sel[:, 3] - sel[:, 1]) * scale
            if not getattr(layer, 'aligned', True):
                h, w = h.clamp(min=1), w.clamp(min=1)
            grid = ((h / out_h).ceil() * (w / out_w).ceil()).clamp(min=1)
        total += float(grid.sum()) * out_h * out_w
    return total


@contextmanager
def rpn_nms_counted():
    """Within the block, the boxes the RPN hands to ``batched_nms`` are
    counted on the stepping trainer's clock."""
    from mmdet.models.dense_heads import rpn_head
    original = rpn_head.batched_nms

    def batched_nms(boxes, *args, **kwargs):
        if _ACTIVE:
            clock = _ACTIVE[-1]
            clock.counts['boxes into the RPN NMS per image'] += \
                len(boxes) / clock.num_imgs
        return original(boxes, *args, **kwargs)

    rpn_head.batched_nms = batched_nms
    try:
        yield
    finally:
        rpn_head.batched_nms = original


@contextmanager
def roi_align_backward_timed():
    """Within the block, mmcv's RoIAlign backward adds its time to the
    stepping trainer's clock (the autograd Function is shared)."""
    from mmcv.ops.roi_align import RoIAlignFunction
    original = RoIAlignFunction.__dict__['backward']

    def backward(ctx, grad_output):
        clock = _ACTIVE[-1] if _ACTIVE else None
        if clock is None:
            return original.__func__(ctx, grad_output)
        return clock.timed(original.__func__, 'RoIAlign backward')(ctx,
                                                                   grad_output)

    RoIAlignFunction.backward = staticmethod(backward)
    try:
        yield
    finally:
        RoIAlignFunction.backward = original


def run_breakdown(trainers, warmup, iters):
    """Interleave the instrumented trainers (the first is the baseline)."""
    with roi_align_backward_timed(), rpn_nms_counted():
        for it in range(warmup + iters):
            for trainer in trainers.values():
                _ACTIVE.append(trainer.clock)
                try:
                    data_time, total = trainer.step()
                finally:
                    _ACTIVE.pop()
                trainer.clock.end_iteration(
                    total, data_time, keep=it >= warmup)
            print(f'breakdown iteration {it + 1}/{warmup + iters}', flush=True)


def breakdown_table(trainers):
    """Markdown: per stage, each variant's median (ms) and, per variant
    other than the first, the median paired difference and the rounds in
    which it was slower; then the counts' means."""
    names = list(trainers)
    base = names[0]
    rounds = {n: trainers[n].clock.rounds for n in names}
    num = min(len(r) for r in rounds.values())
    head = ['stage (ms per iteration)'] + [f'{n} (median)' for n in names]
    for n in names[1:]:
        head.append(f'{n} - {base} (median of paired, slower in)')
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for stage, part in STAGES:
        series = {
            n: [r[0].get(stage, 0.0) * 1e3 for r in rounds[n][:num]]
            for n in names
        }
        if all(not any(v) for v in series.values()):
            continue
        label = f'&nbsp;&nbsp;of which {stage}' if part else stage
        cells = [label
                 ] + [f'{statistics.median(series[n]):.1f}' for n in names]
        for n in names[1:]:
            diffs = [a - b for a, b in zip(series[n], series[base])]
            slower = sum(d > 0 for d in diffs)
            cells.append(f'{statistics.median(diffs):+.1f} '
                         f'({slower}/{num})')
        lines.append('| ' + ' | '.join(cells) + ' |')
    lines += [
        '', '| count (mean) | ' + ' | '.join(names) + ' |',
        '|' + '---|' * (len(names) + 1)
    ]
    for key in COUNTS:
        vals = [
            statistics.fmean([r[1].get(key, 0.0) for r in rounds[n][:num]])
            for n in names
        ]
        fmt = '{:.0f}' if max(vals) >= 100 else '{:.2f}'
        lines.append(f'| {key} | ' + ' | '.join(fmt.format(v)
                                                for v in vals) + ' |')
    return '\n'.join(lines)


def is_two_stage(trainer):
    """Whether the breakdown can instrument the trainer's model."""
    model = trainer.model
    return all(
        hasattr(model, name) for name in ('rpn_head', 'roi_head')) and \
        hasattr(getattr(model, 'roi_head', None), 'bbox_roi_extractor')
