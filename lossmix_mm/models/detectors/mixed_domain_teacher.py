"""Mean teacher for domain adaptation with LossMix (paper Sec. 3.6, 5)."""
import copy
import logging
from typing import Dict, Optional, Tuple

import torch
from mmengine.logging import print_log
from mmengine.structures import InstanceData
from torch import Tensor

from mmdet.models.detectors import SemiBaseDetector
from mmdet.models.utils import (filter_gt_instances, rename_loss_dict,
                                reweight_loss_dict)
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from ..data_preprocessors.batch_lossmix import BatchLossMix, noise_lambdas
from ..data_preprocessors.mix_across import mix_across, pad_cat
from ..layers import SOURCE, TARGET

PHASES = ('warmup', 'adapt')
DISC_INPUTS = ('weak', 'mixed')
SOURCE_STRONG = 'sup_strong'
TERMS = ('mss', 'nst', 'mtt', 'mst')
DEFAULT_LOSS_WEIGHTS = dict(mss=1.0, nst=1.0, mtt=1.0, mst=1.0)


@MODELS.register_module()
class MixedDomainTeacher(SemiBaseDetector):
    """Adaptive-Teacher-style mean teacher trained on LossMix-mixed batches.

    Every training batch holds a labelled source branch (``'sup'``, the weak
    view; optionally ``'sup_strong'``, its strong view with the same
    geometry and boxes) and two views of the same unlabelled target images:
    ``'unsup_teacher'`` (weak) and ``'unsup_student'`` (strong, same
    geometry). The loss depends on the phase, which
    :class:`MixingScheduleHook` sets from the iteration:

    - ``'warmup'`` (paper Eq. 15): ``L_mss + L_nst``. ``mss``: each source
      view batch mixed with a derangement of itself by ``mixer`` (LossMix
      weights on the source boxes); with a ``'sup_strong'`` branch both
      views are trained, as Adaptive Teacher trains its supervised loss on
      both; ``nst``: each (weak) source image with a little of a random
      target image, ``lam_target ~ U(nst_noise_range)`` (< 0.1), source
      boxes only at weight 1, no pseudo-labels.
    - ``'adapt'`` (Eq. 16): ``L_mss + L_mtt + L_mst + L_disc``. The teacher
      labels the weak target view (scores above ``cls_pseudo_thr``); ``mtt``:
      the strong target views mixed among themselves on these pseudo-labels
      (a batch without any pseudo-box trains as background); ``mst``: each
      source image mixed with a random strong target view,
      ``lam ~ Beta(a, a)`` from ``mixer`` or a fixed ``mst_lambda``, source
      boxes at lam and pseudo-boxes at 1 - lam; ``disc``: the image-level
      domain discriminator (behind its gradient-reversal layer) on the
      student's ``disc_feature`` of the weak, unmixed source (label 0) and
      target (label 1) views (``disc_input='weak'``, the paper's: one extra
      backbone forward) or of the mixed ``mss`` / ``mtt`` batches
      (``'mixed'``: no extra forward).

    Pseudo-boxes train objectness and classification only: they carry
    ``reg_weights`` 0, so in ``mtt`` and ``mst`` no RPN or RoI box
    regression is trained on them while the source boxes of ``mst`` keep
    theirs (paper, supp.: the pseudo-labelling losses are "implemented with
    cross-entropy loss function"); ``pseudo_box_reg=True`` regresses them
    too. ``nst_phases=('warmup', 'adapt')`` trains ``nst`` throughout: with
    ``mixer=None`` and no ``mst`` that is the paper's Table 4 "Noise"
    baseline.

    All mixing goes through :func:`mix_batch` (the in-batch mixing core).
    Losses are logged per term: ``mss_loss_rpn_cls``, ``mtt_loss_bbox``,
    ``loss_disc_src`` ... plus ``mtt_num_pseudo`` (pseudo-boxes per target
    image, not a loss). The discriminator and the mixer sit on this
    wrapper, not on the student: student and teacher keep identical
    parameter lists.

    Args:
        detector (dict): the student's and teacher's config.
        discriminator (dict, optional): an ``ImageDomainDiscriminator``
            config (its ``loss_weight``, 0.1, is the weight of ``L_disc``);
            None trains without the adversarial term.
        mixer (dict, optional): a ``BatchLossMix`` config giving the mode
            (``'lossmix'``, ``'union'``, ``'noise'``), alpha and partner
            order of the ``mss``/``mtt``/``mst`` mixing. None: no mixing
            (``mss``/``mtt`` on plain batches, ``mst`` impossible) -- the
            Adaptive-Teacher-style baseline.
        semi_train_cfg (dict): ``cls_pseudo_thr`` (0.8),
            ``min_pseudo_bbox_wh`` ((1e-2, 1e-2)), ``loss_weights``
            (``dict(mss=1, nst=1, mtt=1, mst=1)``; a 0 skips the term's
            forward), ``nst_noise_range`` ((0.0, 0.1)), ``nst_phases``
            (``('warmup', )``), ``mst_lambda`` (None: from the mixer; a
            float: fixed), ``pseudo_box_reg`` (False), ``disc_input``
            (``'weak'`` or ``'mixed'``), ``disc_feature`` (``'neck'`` or
            ``'backbone'``) and ``disc_level`` (index into that module's
            outputs; 2: stride 16 on an FPN, 0 on a C4 backbone),
            ``freeze_teacher`` (True).
        semi_test_cfg (dict): ``predict_on`` (``'teacher'``).
        data_preprocessor (dict): a ``MultiBranchDataPreprocessor`` config.
        init_cfg (dict, optional): initialisation config.
    """

    def __init__(self,
                 detector: ConfigType,
                 discriminator: OptConfigType = None,
                 mixer: OptConfigType = dict(type='BatchLossMix'),
                 semi_train_cfg: OptConfigType = None,
                 semi_test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        semi_train_cfg = dict(semi_train_cfg or {})
        semi_train_cfg.setdefault('cls_pseudo_thr', 0.8)
        semi_train_cfg.setdefault('min_pseudo_bbox_wh', (1e-2, 1e-2))
        semi_train_cfg.setdefault('nst_noise_range', (0.0, 0.1))
        semi_train_cfg.setdefault('mst_lambda', None)
        semi_train_cfg.setdefault('disc_feature', 'neck')
        semi_train_cfg.setdefault('disc_level', 2)
        semi_train_cfg.setdefault('disc_input', 'weak')
        semi_train_cfg.setdefault('pseudo_box_reg', False)
        semi_train_cfg.setdefault('nst_phases', ('warmup', ))
        super().__init__(
            detector=detector,
            semi_train_cfg=semi_train_cfg,
            semi_test_cfg=dict(semi_test_cfg or dict(predict_on='teacher')),
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        self.loss_weights = self._check_loss_weights(
            semi_train_cfg.get('loss_weights'))
        self.mixer = MODELS.build(mixer) if mixer is not None else None
        if self.mixer is not None and not isinstance(self.mixer,
                                                     BatchLossMix):
            raise TypeError(f'mixer must build a BatchLossMix, got '
                            f'{type(self.mixer).__name__}')
        if self.mixer is None and self.loss_weights['mst'] > 0:
            raise ValueError('the mst term (source x target mixing) needs a '
                             'mixer; set mixer=dict(type="BatchLossMix", ...) '
                             'or loss_weights.mst=0')
        low, high = semi_train_cfg['nst_noise_range']
        if not 0.0 <= low <= high < 1.0:
            raise ValueError(f'nst_noise_range must satisfy 0 <= low <= high '
                             f'< 1, got {(low, high)}')
        mst_lambda = semi_train_cfg['mst_lambda']
        if mst_lambda is not None and not 0.0 < mst_lambda < 1.0:
            raise ValueError(f'mst_lambda must be None (sampled) or in (0, '
                             f'1), got {mst_lambda}')
        self.discriminator = MODELS.build(discriminator) \
            if discriminator is not None else None
        if semi_train_cfg['disc_feature'] not in ('neck', 'backbone'):
            raise ValueError(f"disc_feature must be 'neck' or 'backbone', "
                             f"got {semi_train_cfg['disc_feature']!r}")
        if semi_train_cfg['disc_input'] not in DISC_INPUTS:
            raise ValueError(f'disc_input must be one of {DISC_INPUTS}, got '
                             f"{semi_train_cfg['disc_input']!r}")
        nst_phases = semi_train_cfg['nst_phases']
        if isinstance(nst_phases, str) or not set(nst_phases) <= set(PHASES):
            raise ValueError(f'nst_phases must be a tuple of phases from '
                             f'{PHASES}, got {nst_phases!r}')
        self.nst_phases = tuple(nst_phases)
        self.phase = 'warmup'
        self._phase_set = False
        self._warned_single = False
        self._captured: Optional[Tensor] = None
        self._capturing = False
        self._disc_module().register_forward_hook(self._capture_hook)

    # ------------------------------------------------------------ set-up
    @staticmethod
    def _check_loss_weights(weights: Optional[dict]) -> Dict[str, float]:
        out = dict(DEFAULT_LOSS_WEIGHTS)
        weights = dict(weights or {})
        unknown = set(weights) - set(TERMS)
        if unknown:
            raise ValueError(f'unknown loss_weights keys {sorted(unknown)}; '
                             f'valid: {TERMS}')
        for key, value in weights.items():
            if value < 0:
                raise ValueError(f'loss_weights.{key} must be >= 0, got '
                                 f'{value}')
            out[key] = float(value)
        return out

    def set_phase(self, phase: str) -> None:
        """``'warmup'`` (Eq. 15) or ``'adapt'`` (Eq. 16)."""
        if phase not in PHASES:
            raise ValueError(f'phase must be one of {PHASES}, got {phase!r}')
        self.phase = phase
        self._phase_set = True

    def _disc_module(self):
        name = self.semi_train_cfg['disc_feature']
        module = getattr(self.student, name, None)
        if module is None:
            raise ValueError(f'the detector has no {name!r} for the '
                             'discriminator feature')
        return module

    def _capture_hook(self, module, args, output) -> None:
        if self._capturing:
            self._captured = output[self.semi_train_cfg['disc_level']]

    # ------------------------------------------------------------ losses
    def loss(self, multi_batch_inputs: Dict[str, Tensor],
             multi_batch_data_samples: Dict[str, SampleList]) -> dict:
        """Losses of the current phase (see the class docstring)."""
        if not self._phase_set:
            self._phase_set = True  # say it once
            print_log(
                'MixedDomainTeacher: no phase was set (add '
                'MixingScheduleHook(warmup_iters=...) to custom_hooks); '
                "training in the 'warmup' phase", logger='current',
                level=logging.WARNING)
        src_x = multi_batch_inputs['sup']
        src_s = multi_batch_data_samples['sup']
        tgt_x = multi_batch_inputs['unsup_student']
        tgt_s = multi_batch_data_samples['unsup_student']
        weights = self.loss_weights
        adapt = self.phase == 'adapt'
        use_disc = adapt and self.discriminator is not None
        mixed_disc = use_disc and \
            self.semi_train_cfg['disc_input'] == 'mixed'
        losses = dict()

        src_feat = tgt_feat = None
        if weights['mss'] > 0:
            x, samples = self._mix_source(multi_batch_inputs,
                                          multi_batch_data_samples)
            src_feat = self._student_loss('mss', x, samples, losses,
                                          capture=mixed_disc)
        if weights['nst'] > 0 and self.phase in self.nst_phases:
            lams = noise_lambdas(len(src_s),
                                 self.semi_train_cfg['nst_noise_range'])
            x, samples = mix_across(src_x, copy.deepcopy(src_s), tgt_x,
                                    copy.deepcopy(tgt_s), lams, 'noise')
            self._student_loss('nst', x, samples, losses)
        if not adapt:
            return self._with_idle_terms(losses)

        pseudo = self.pseudo_label(multi_batch_inputs['unsup_teacher'],
                                   multi_batch_data_samples['unsup_teacher'],
                                   tgt_s)
        num_pseudo = sum(len(s.gt_instances) for s in pseudo)
        losses['mtt_num_pseudo'] = src_x.new_tensor(num_pseudo /
                                                    max(len(pseudo), 1))
        if weights['mtt'] > 0 or mixed_disc:
            # a target batch without any pseudo-box trains as background
            # (Eq. 14 with y = {} is the background loss)
            x, samples = self._mix_within(tgt_x, copy.deepcopy(pseudo))
            term = dict()
            tgt_feat = self._student_loss('mtt', x, samples, term,
                                          capture=mixed_disc)
            if weights['mtt'] > 0:
                losses.update(term)
        if weights['mst'] > 0:
            lams = self._mst_lambdas(len(src_s), src_x.device)
            x, samples = mix_across(src_x, copy.deepcopy(src_s), tgt_x,
                                    copy.deepcopy(pseudo), lams,
                                    self.mixer.mode)
            self._student_loss('mst', x, samples, losses)
        if use_disc:
            if not mixed_disc:
                src_feat, tgt_feat = self._weak_features(
                    src_x, multi_batch_inputs['unsup_teacher'])
            else:
                if src_feat is None:
                    src_feat = self._features(src_x)
            losses['loss_disc_src'] = self.discriminator.loss(
                src_feat, SOURCE)
            losses['loss_disc_tgt'] = self.discriminator.loss(
                tgt_feat, TARGET)
        return self._with_idle_terms(losses)

    def _with_idle_terms(self, losses: dict) -> dict:
        """Zeros for the terms of the other phase, so every logged key is
        live (mmengine's log would otherwise repeat a stopped term's last
        values)."""
        template = {
            k[len(t) + 1:]: v
            for t in TERMS for k, v in losses.items() if k.startswith(t + '_')
            and k != 'mtt_num_pseudo'
        }
        idle = dict()
        if self.phase == 'warmup':
            terms = ('mtt', 'mst')
            idle['mtt_num_pseudo'] = None
            if self.discriminator is not None:
                idle.update(loss_disc_src=None, loss_disc_tgt=None)
        else:
            terms = () if 'adapt' in self.nst_phases else ('nst', )
        for term in terms:
            if self.loss_weights[term] > 0:
                idle.update({f'{term}_{k}': v for k, v in template.items()})
        device = self.data_preprocessor.device
        for key, value in idle.items():
            if key not in losses:
                losses[key] = torch.zeros((), device=device) \
                    if value is None else zero_loss_dict({key: value})[key]
        return losses

    def _student_loss(self,
                      term: str,
                      inputs: Tensor,
                      samples: SampleList,
                      losses: dict,
                      capture: bool = False) -> Optional[Tensor]:
        """Add the student's ``term``-prefixed, weighted losses to
        ``losses``; return the discriminator feature when ``capture``."""
        self._capturing, self._captured = capture, None
        try:
            term_losses = self.student.loss(inputs, samples)
        finally:
            self._capturing = False
        losses.update(
            rename_loss_dict(
                f'{term}_',
                reweight_loss_dict(term_losses, self.loss_weights[term])))
        feat, self._captured = self._captured, None
        return feat

    def _features(self, inputs: Tensor) -> Tensor:
        """The discriminator feature of a batch (one extra forward)."""
        self._capturing = True
        try:
            self.student.extract_feat(inputs)
        finally:
            self._capturing = False
        feat, self._captured = self._captured, None
        return feat

    def _weak_features(self, src_x: Tensor,
                       tgt_x: Tensor) -> Tuple[Tensor, Tensor]:
        """Discriminator features of the weak, unmixed source and target
        views: one extra forward of both batches together (padded to a
        common size with 0, the normalisation mean)."""
        feat = self._features(pad_cat([src_x, tgt_x]))
        return feat[:src_x.size(0)], feat[src_x.size(0):]

    @torch.no_grad()
    def pseudo_label(self, weak_inputs: Tensor, weak_samples: SampleList,
                     strong_samples: SampleList) -> SampleList:
        """Teacher detections on the weak views, kept above
        ``cls_pseudo_thr``, projected into the strong views.

        Returns:
            list[DetDataSample]: copies of ``strong_samples`` whose
            ``gt_instances`` hold only ``bboxes`` and ``labels``.
        """
        strong_samples = copy.deepcopy(strong_samples)
        weak_samples, _ = self.get_pseudo_instances(weak_inputs,
                                                    weak_samples)
        weak_samples = filter_gt_instances(
            weak_samples, score_thr=self.semi_train_cfg['cls_pseudo_thr'])
        strong_samples = self.project_pseudo_instances(weak_samples,
                                                       strong_samples)
        for sample in strong_samples:
            gts = sample.gt_instances
            sample.gt_instances = InstanceData(
                bboxes=gts.bboxes, labels=gts.labels)
            if not self.semi_train_cfg['pseudo_box_reg']:
                # objectness and classification only (paper, supp. Eq. 16:
                # "implemented with cross-entropy loss function")
                sample.gt_instances.reg_weights = gts.labels.new_zeros(
                    len(gts), dtype=torch.float32)
        return strong_samples

    # ------------------------------------------------------------ mixing
    def _mix_source(self, multi_batch_inputs: Dict[str, Tensor],
                    multi_batch_data_samples: Dict[str, SampleList]
                    ) -> Tuple[Tensor, SampleList]:
        """The mss batch: the weak source view ('sup') and, when the data
        has one, the strong view ('sup_strong'), each mixed within itself
        (an image is never paired with its own other view), then stacked."""
        views = [('sup', multi_batch_inputs['sup'],
                  multi_batch_data_samples['sup'])]
        if SOURCE_STRONG in multi_batch_inputs:
            views.append((SOURCE_STRONG, multi_batch_inputs[SOURCE_STRONG],
                          multi_batch_data_samples[SOURCE_STRONG]))
        inputs, samples = [], []
        for _, x, s in views:
            x, s = self._mix_within(x, copy.deepcopy(s))
            inputs.append(x)
            samples.extend(s)
        if len(inputs) == 1:
            return inputs[0], samples
        inputs = pad_cat(inputs)
        for sample in samples:
            sample.set_metainfo(
                dict(batch_input_shape=tuple(inputs.shape[2:])))
        return inputs, samples

    def _mix_within(self, inputs: Tensor, samples: SampleList
                    ) -> Tuple[Tensor, SampleList]:
        if self.mixer is None:
            return inputs, samples
        if inputs.size(0) < 2 and not self._warned_single:
            self._warned_single = True
            print_log(
                'MixedDomainTeacher: a branch has one image per GPU, so '
                'in-batch mixing (mss, mtt) leaves it unmixed; use at least '
                '2 source and 2 target images per GPU', logger='current',
                level=logging.WARNING)
        return self.mixer(inputs, samples)

    def _mst_lambdas(self, num: int, device) -> Tensor:
        fixed = self.semi_train_cfg['mst_lambda']
        if fixed is not None:
            return torch.full((num, ), float(fixed), device=device)
        return self.mixer.sample_lambdas(num).to(device)


def zero_loss_dict(losses: dict) -> dict:
    """The same keys, every tensor (or list of tensors) a detached zero."""
    out = dict()
    for key, value in losses.items():
        if isinstance(value, (list, tuple)):
            out[key] = [torch.zeros_like(v).detach() for v in value]
        elif isinstance(value, Tensor):
            out[key] = torch.zeros_like(value).detach()
        else:
            out[key] = value
    return out
