"""Mean teacher for domain adaptation with LossMix (paper Sec. 3.6, 5)."""
import copy
import logging
from contextlib import contextmanager, nullcontext
from typing import Dict, Iterator, List, Optional, Tuple

import torch
from mmdet.models.detectors import SemiBaseDetector
from mmdet.models.utils import (filter_gt_instances, rename_loss_dict,
                                reweight_loss_dict)
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmdet.structures.bbox import bbox_project, get_box_tensor
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from mmengine.logging import print_log
from mmengine.structures import InstanceData
from torch import Tensor

from ...mixing.across import mix_across, pad_cat
from ..data_preprocessors.batch_lossmix import BatchLossMix, noise_lambdas
from ..layers import SOURCE, TARGET
from ..utils.pseudo_quality import pseudo_quality
from .teacher_train_cfg import (DEFAULT_TRAIN_CFG, PHASES, SOURCE_STRONG,
                                TERMS, check_loss_weights, check_train_cfg)


@MODELS.register_module()
class MixedDomainTeacher(SemiBaseDetector):
    """Adaptive-Teacher-style mean teacher trained on LossMix-mixed batches.

    A batch holds source branches ``'sup'`` (and optionally
    ``'sup_strong'``) and two views of the same target images,
    ``'unsup_teacher'`` (weak) and ``'unsup_student'`` (strong). The phase
    set by :class:`MixingScheduleHook` picks the terms: ``'warmup'``
    (Eq. 15) trains ``mss`` and ``nst``; ``'adapt'`` (Eq. 16) trains
    ``mss``, ``mtt``, ``mst`` and ``disc``. Losses are logged per term
    (docs/user_guides/domain_adaptation.md).

    Args:
        detector (dict): the student's and teacher's config.
        discriminator (dict, optional): an ``ImageDomainDiscriminator``
            config; None trains without the adversarial term.
        domain_probe (dict, optional): an ``ImageDomainDiscriminator``
            config of a diagnostic on the features the discriminator reads,
            detached (no gradient reaches the detector): it learns to tell
            the domains apart with ``loss_probe_src`` / ``loss_probe_tgt``
            and logs ``probe_acc`` beside the discriminator's ``disc_acc``.
            Its weights are drawn at build: compare runs that all have it
            or all lack it. None: no probe.
        mixer (dict, optional): a ``BatchLossMix`` config; None: no mixing.
        semi_train_cfg (dict): ``DEFAULT_TRAIN_CFG`` keys and
            ``loss_weights`` (per term, a 0 skips its forward),
            ``freeze_teacher``.
        semi_test_cfg (dict): ``predict_on`` (``'teacher'``).
        data_preprocessor (dict): a ``MultiBranchDataPreprocessor`` config.
        init_cfg (dict, optional): initialisation config.

    Raises:
        ValueError: a bad ``semi_train_cfg`` (e.g. ``loss_weights``).
    """

    def __init__(self,
                 detector: ConfigType,
                 discriminator: OptConfigType = None,
                 mixer: OptConfigType = dict(type='BatchLossMix'),
                 domain_probe: OptConfigType = None,
                 semi_train_cfg: OptConfigType = None,
                 semi_test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        semi_train_cfg = dict(DEFAULT_TRAIN_CFG, **(semi_train_cfg or {}))
        loss_weights = check_loss_weights(semi_train_cfg.get('loss_weights'))
        check_train_cfg(semi_train_cfg)
        if mixer is None and loss_weights['mst'] > 0:
            raise ValueError('the mst term (source x target mixing) needs a '
                             'mixer; set mixer=dict(type="BatchLossMix", ...) '
                             'or loss_weights.mst=0')
        super().__init__(
            detector=detector,
            semi_train_cfg=semi_train_cfg,
            semi_test_cfg=dict(semi_test_cfg or dict(predict_on='teacher')),
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        self.loss_weights = loss_weights
        self.nst_phases = tuple(semi_train_cfg['nst_phases'])
        self.mixer = _build_mixer(mixer)
        self.discriminator = MODELS.build(discriminator) \
            if discriminator is not None else None
        self.domain_probe = MODELS.build(domain_probe) \
            if domain_probe is not None else None
        self._disc_module()  # the detector has the discriminator's input
        self.phase = 'warmup'
        self._phase_set = False
        self._warned_single = False

    # ------------------------------------------------------------ set-up
    def set_phase(self, phase: str) -> None:
        """Set the phase: ``'warmup'`` (Eq. 15) or ``'adapt'`` (Eq. 16).

        Args:
            phase (str): one of ``PHASES``.
        """
        if phase not in PHASES:
            raise ValueError(f'phase must be one of {PHASES}, got {phase!r}')
        self.phase = phase
        self._phase_set = True

    def _disc_module(self):
        """The student's module whose output the discriminator reads."""
        name = self.semi_train_cfg['disc_feature']
        module = getattr(self.student, name, None)
        if module is None:
            raise ValueError(f'the detector has no {name!r} for the '
                             'discriminator feature')
        return module

    @contextmanager
    def _capture_features(self) -> Iterator[List[Tensor]]:
        """Collect the discriminator feature of each student forward run
        inside the block, into the list it yields."""
        level = self.semi_train_cfg['disc_level']
        seen: List[Tensor] = []
        handle = self._disc_module().register_forward_hook(
            lambda module, args, output: seen.append(output[level]))
        try:
            yield seen
        finally:
            handle.remove()

    # ------------------------------------------------------------ losses
    def loss(self, multi_batch_inputs: Dict[str, Tensor],
             multi_batch_data_samples: Dict[str, SampleList]) -> dict:
        """Losses of the current phase (see the class docstring).

        Args:
            multi_batch_inputs (dict[str, Tensor]): the branches' batches.
            multi_batch_data_samples (dict[str, list[DetDataSample]]): the
                branches' samples.

        Returns:
            dict: term-prefixed losses; the other phase's terms as zeros.
        """
        self._warn_once_without_phase()
        inputs, samples = multi_batch_inputs, multi_batch_data_samples
        losses, feats = dict(), dict()
        self._source_losses(inputs, samples, losses, feats)
        if self.phase == 'adapt':
            self._adaptation_losses(inputs, samples, losses, feats)
        return self._with_idle_terms(losses)

    @property
    def _disc_on_mixed(self) -> bool:
        """Whether the discriminator reads the mss / mtt forwards now."""
        return self.phase == 'adapt' and self.discriminator is not None \
            and self.semi_train_cfg['disc_input'] == 'mixed'

    def _source_losses(self, inputs: Dict[str, Tensor],
                       samples: Dict[str, SampleList], losses: dict,
                       feats: dict) -> None:
        """Add the mss and nst terms to ``losses``; the mss feature to
        ``feats['src']`` when the discriminator reads mixed batches."""
        if self.loss_weights['mss'] > 0:
            x, mixed = self._mix_source(inputs, samples)
            feats['src'] = self._student_loss(
                'mss', x, mixed, losses, capture=self._disc_on_mixed)
        if self.loss_weights['nst'] > 0 and self.phase in self.nst_phases:
            lams = noise_lambdas(
                len(samples['sup']), self.semi_train_cfg['nst_noise_range'])
            x, mixed = mix_across(inputs['sup'], copy.deepcopy(samples['sup']),
                                  inputs['unsup_student'],
                                  copy.deepcopy(samples['unsup_student']),
                                  lams, 'noise')
            self._student_loss('nst', x, mixed, losses)

    def _adaptation_losses(self, inputs: Dict[str, Tensor],
                           samples: Dict[str, SampleList], losses: dict,
                           feats: dict) -> None:
        """Add the mtt, mst and discriminator terms to ``losses``."""
        stats = dict()
        pseudo = self.pseudo_label(inputs['unsup_teacher'],
                                   samples['unsup_teacher'],
                                   samples['unsup_student'], stats)
        losses['mtt_num_pseudo'] = inputs['sup'].new_tensor(
            sum(len(s.gt_instances) for s in pseudo) / max(len(pseudo), 1))
        losses.update({
            k: inputs['sup'].new_tensor(v)
            for k, v in stats.items()
        })
        if self.loss_weights['mtt'] > 0 or self._disc_on_mixed:
            # no pseudo-box at all trains as background (Eq. 14, y = {})
            x, mixed = self._mix_within(inputs['unsup_student'],
                                        copy.deepcopy(pseudo))
            term = dict()
            feats['tgt'] = self._student_loss(
                'mtt', x, mixed, term, capture=self._disc_on_mixed)
            if self.loss_weights['mtt'] > 0:
                losses.update(term)
        if self.loss_weights['mst'] > 0:
            src_x = inputs['sup']
            lams = self._mst_lambdas(src_x.size(0), src_x.device)
            x, mixed = mix_across(src_x, copy.deepcopy(samples['sup']),
                                  inputs['unsup_student'],
                                  copy.deepcopy(pseudo), lams, self.mixer.mode)
            self._student_loss('mst', x, mixed, losses)
        if self.discriminator is not None or self.domain_probe is not None:
            src, tgt = self._disc_features(inputs, feats)
            if self.discriminator is not None:
                losses.update(
                    loss_disc_src=self.discriminator.loss(src, SOURCE),
                    loss_disc_tgt=self.discriminator.loss(tgt, TARGET))
            if self.domain_probe is not None:
                losses.update(self._probe_losses(src, tgt))

    def _disc_features(self, inputs: Dict[str, Tensor],
                       feats: dict) -> Tuple[Tensor, Tensor]:
        """The source and target features the discriminator reads: of the
        weak views, or of the mixed batches in ``feats``."""
        if self.semi_train_cfg['disc_input'] == 'weak':
            return self._weak_features(inputs['sup'], inputs['unsup_teacher'])
        src, tgt = feats.get('src'), feats['tgt']
        if src is None:  # the mss term is off
            src = self._features(inputs['sup'])
        return src, tgt

    def _probe_losses(self, src: Tensor, tgt: Tensor) -> dict:
        """The domain probe's losses on the detached features, and the
        share of locations the probe (``probe_acc``) and the discriminator
        (``disc_acc``, when there is one) assign to the right domain."""
        src, tgt = src.detach(), tgt.detach()
        out = dict(
            loss_probe_src=self.domain_probe.loss(src, SOURCE),
            loss_probe_tgt=self.domain_probe.loss(tgt, TARGET))
        with torch.no_grad():
            out['probe_acc'] = domain_accuracy(self.domain_probe, src, tgt)
            if self.discriminator is not None:
                out['disc_acc'] = domain_accuracy(self.discriminator, src, tgt)
        return out

    def _warn_once_without_phase(self) -> None:
        if not self._phase_set:
            self._phase_set = True
            print_log(
                'MixedDomainTeacher: no phase was set (add '
                'MixingScheduleHook(warmup_iters=...) to custom_hooks); '
                "training in the 'warmup' phase",
                logger='current',
                level=logging.WARNING)

    def _with_idle_terms(self, losses: dict) -> dict:
        """Zeros for the terms of the other phase, so that every logged key
        is live (mmengine's log would repeat a stopped term's last value).

        Args:
            losses (dict): this iteration's losses; completed in place.

        Returns:
            dict: ``losses``.
        """
        template = {
            k[len(t) + 1:]: v
            for t in TERMS
            for k, v in losses.items()
            if k.startswith(t + '_') and k != 'mtt_num_pseudo'
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
        ``losses``.

        Returns:
            Tensor | None: the discriminator feature when ``capture``.
        """
        with self._capture_features() if capture else nullcontext([]) \
                as seen:
            term_losses = self.student.loss(inputs, samples)
        losses.update(
            rename_loss_dict(
                f'{term}_',
                reweight_loss_dict(term_losses, self.loss_weights[term])))
        return seen[-1] if seen else None

    def _features(self, inputs: Tensor) -> Tensor:
        """The discriminator feature of a batch (one extra forward)."""
        with self._capture_features() as seen:
            self.student.extract_feat(inputs)
        return seen[-1]

    def _weak_features(self, src_x: Tensor,
                       tgt_x: Tensor) -> Tuple[Tensor, Tensor]:
        """Discriminator features of the weak, unmixed source and target
        views: one extra forward of both batches together (padded to a
        common size with 0, the normalisation mean)."""
        feat = self._features(pad_cat([src_x, tgt_x]))
        return feat[:src_x.size(0)], feat[src_x.size(0):]

    @torch.no_grad()
    def pseudo_label(self,
                     weak_inputs: Tensor,
                     weak_samples: SampleList,
                     strong_samples: SampleList,
                     stats: Optional[dict] = None) -> SampleList:
        """Teacher detections on the weak views, kept above
        ``cls_pseudo_thr``, projected into the strong views.

        Args:
            weak_inputs (Tensor): the weak target views.
            weak_samples (list[DetDataSample]): their samples.
            strong_samples (list[DetDataSample]): the strong views'
                samples (not changed).
            stats (dict, optional): filled with :func:`pseudo_quality` at
                ``pseudo_quality_thrs`` when the weak views carry ground
                truth (never trained on).

        Returns:
            list[DetDataSample]: copies of ``strong_samples`` whose
            ``gt_instances`` hold ``bboxes``, ``labels`` and, unless
            ``pseudo_box_reg``, ``reg_weights`` 0.
        """
        strong_samples = copy.deepcopy(strong_samples)
        thrs = self.semi_train_cfg['pseudo_quality_thrs']
        truth = weak_truth(weak_samples) if thrs and stats is not None \
            else None
        weak_samples, _ = self.get_pseudo_instances(weak_inputs, weak_samples)
        if truth is not None:
            stats.update(
                pseudo_quality([s.gt_instances for s in weak_samples], truth,
                               thrs))
        weak_samples = filter_gt_instances(
            weak_samples, score_thr=self.semi_train_cfg['cls_pseudo_thr'])
        strong_samples = self.project_pseudo_instances(weak_samples,
                                                       strong_samples)
        for sample in strong_samples:
            gts = sample.gt_instances
            sample.gt_instances = InstanceData(
                bboxes=gts.bboxes, labels=gts.labels)
            if 'ignored_instances' in sample:  # the target's own annotation
                del sample.ignored_instances
            if not self.semi_train_cfg['pseudo_box_reg']:
                # objectness and classification only (supp. Eq. 16)
                sample.gt_instances.reg_weights = gts.labels.new_zeros(
                    len(gts), dtype=torch.float32)
        return strong_samples

    # ------------------------------------------------------------ mixing
    def _mix_source(
        self, multi_batch_inputs: Dict[str, Tensor],
        multi_batch_data_samples: Dict[str, SampleList]
    ) -> Tuple[Tensor, SampleList]:
        """The mss batch: the weak source view ('sup') and, when the data
        has one, the strong view ('sup_strong'), each mixed within itself
        (an image is never paired with its own other view), then stacked."""
        views = [
            key for key in ('sup', SOURCE_STRONG) if key in multi_batch_inputs
        ]
        inputs, samples = [], []
        for key in views:
            x, s = self._mix_within(
                multi_batch_inputs[key],
                copy.deepcopy(multi_batch_data_samples[key]))
            inputs.append(x)
            samples.extend(s)
        if len(inputs) == 1:
            return inputs[0], samples
        inputs = pad_cat(inputs)
        for sample in samples:
            sample.set_metainfo(
                dict(batch_input_shape=tuple(inputs.shape[2:])))
        return inputs, samples

    def _mix_within(self, inputs: Tensor,
                    samples: SampleList) -> Tuple[Tensor, SampleList]:
        """A batch mixed within itself by the mixer (as is without one)."""
        if self.mixer is None:
            return inputs, samples
        if inputs.size(0) < 2 and not self._warned_single:
            self._warned_single = True
            print_log(
                'MixedDomainTeacher: a branch has one image per GPU, so '
                'in-batch mixing (mss, mtt) leaves it unmixed; use at least '
                '2 source and 2 target images per GPU',
                logger='current',
                level=logging.WARNING)
        return self.mixer(inputs, samples)

    def _mst_lambdas(self, num: int, device) -> Tensor:
        """(num, ) coefficients of the source images in mst."""
        fixed = self.semi_train_cfg['mst_lambda']
        if fixed is not None:
            return torch.full((num, ), float(fixed), device=device)
        return self.mixer.sample_lambdas(num).to(device)


def _build_mixer(cfg: OptConfigType) -> Optional[BatchLossMix]:
    """The teacher's ``BatchLossMix`` (None without a config).

    Raises:
        TypeError: when the config builds something else.
    """
    if cfg is None:
        return None
    mixer = MODELS.build(cfg)
    if not isinstance(mixer, BatchLossMix):
        raise TypeError(f'mixer must build a BatchLossMix, got '
                        f'{type(mixer).__name__}')
    return mixer


def domain_accuracy(classifier: torch.nn.Module, src: Tensor,
                    tgt: Tensor) -> Tensor:
    """The share of feature locations ``classifier`` (target logits)
    assigns to their domain, over a source and a target batch.

    Args:
        classifier (nn.Module): maps (N, C, H, W) to (N, 1, H, W) logits.
        src (Tensor): source features.
        tgt (Tensor): target features.

    Returns:
        Tensor: scalar in [0, 1]; 0.5 is chance on equal batches.
    """
    right = torch.cat([(classifier(src) <= 0).flatten(), (classifier(tgt)
                                                          > 0).flatten()])
    return right.float().mean()


def weak_truth(samples: SampleList) -> Optional[List[InstanceData]]:
    """The ground truth of the weak views, in the original images' frame
    (where ``get_pseudo_instances`` puts the teacher's detections).

    Args:
        samples (list[DetDataSample]): the weak views' samples.

    Returns:
        list[InstanceData] | None: ``bboxes`` and ``labels`` of each image;
        None when a sample carries no ground-truth boxes (an unlabelled
        target pipeline).
    """
    truth = []
    for sample in samples:
        gts = sample.get('gt_instances')
        if gts is None or 'bboxes' not in gts:
            return None
        inverse = torch.from_numpy(sample.homography_matrix).inverse()
        boxes = get_box_tensor(gts.bboxes)
        truth.append(
            InstanceData(
                bboxes=bbox_project(boxes, inverse.to(boxes),
                                    sample.ori_shape),
                labels=gts.labels))
    return truth


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
