"""assigned gt -> per-sample multipliers (sample_weights.py), by hand."""
import pytest
import torch
from mmengine.structures import InstanceData

from lossmix_mm.models.utils import (SampleWeights, assigned_sample_weights,
                                     check_gt_labels, cls_reg_sample_weights,
                                     loss_by_terms, sample_weights,
                                     select_images, times)
from lossmix_mm.models.utils.mix_groups import \
    loss_by_terms as loss_by_terms_old_home


def test_assigned_sample_weights_by_hand():
    inds = torch.tensor([-1, 0, 2, -1, 1, -3, 2])
    weights = torch.tensor([0.2, 0.5, 0.7])
    out = assigned_sample_weights(inds, weights)
    # a positive takes its gt's weight; any index < 0 (negative, ignored)
    # weighs 1
    assert torch.equal(out, torch.tensor([1.0, 0.2, 0.7, 1.0, 0.5, 1.0, 0.7]))
    assert out.dtype == torch.float32
    assert assigned_sample_weights(inds, None) is None


def test_assigned_sample_weights_no_gt_no_sample():
    # an image without gts: every sample negative, every weight 1
    out = assigned_sample_weights(torch.full((4, ), -1), torch.zeros(0))
    assert torch.equal(out, torch.ones(4))
    out = assigned_sample_weights(
        torch.zeros(0, dtype=torch.long), torch.tensor([0.3]))
    assert out.shape == (0, )
    # float64 gt weights, int32 indices: float32 multipliers
    out = assigned_sample_weights(
        torch.tensor([1, -1], dtype=torch.int32),
        torch.tensor([0.25, 0.75], dtype=torch.float64))
    assert torch.equal(out, torch.tensor([0.75, 1.0]))


def test_cls_reg_sample_weights_by_hand():
    gts = InstanceData(bboxes=torch.zeros(2, 4), labels=torch.zeros(2))
    inds = torch.tensor([1, -1, 0])
    assert cls_reg_sample_weights(inds, gts) == (None, None)
    gts.loss_weights = torch.tensor([0.25, 0.75])
    cls_w, reg_w = cls_reg_sample_weights(inds, gts)
    assert torch.equal(cls_w, torch.tensor([0.75, 1.0, 0.25]))
    assert torch.equal(reg_w, cls_w)
    cls_w, reg_w = cls_reg_sample_weights(inds, gts, mix_cls=False)
    assert cls_w is None and torch.equal(reg_w, torch.tensor([0.75, 1.0, 0.25
                                                              ]))
    assert cls_reg_sample_weights(inds, gts, False, False) == (None, None)
    # reg_weights multiply the regression multiplier only, mixed or not
    gts.reg_weights = torch.tensor([0.0, 1.0])
    cls_w, reg_w = cls_reg_sample_weights(inds, gts)
    assert torch.equal(cls_w, torch.tensor([0.75, 1.0, 0.25]))
    assert torch.equal(reg_w, torch.tensor([0.75, 1.0, 0.0]))
    cls_w, reg_w = cls_reg_sample_weights(inds, gts, mix_reg=False)
    assert torch.equal(reg_w, torch.tensor([1.0, 1.0, 0.0]))


def test_sample_weights_by_hand():
    """cls and quality take the loss weight, reg also the reg weight; an
    exact-mode term's coefficient multiplies every sample."""
    gts = InstanceData(bboxes=torch.zeros(2, 4), labels=torch.zeros(2))
    inds = torch.tensor([1, -1, 0])
    assert sample_weights(inds, gts) == SampleWeights(None, None, None)
    gts.loss_weights = torch.tensor([0.25, 0.75])
    gts.reg_weights = torch.tensor([0.0, 1.0])
    got = sample_weights(inds, gts)
    assert torch.equal(got.cls, torch.tensor([0.75, 1.0, 0.25]))
    assert torch.equal(got.reg, torch.tensor([0.75, 1.0, 0.0]))
    assert torch.equal(got.quality, torch.tensor([0.75, 1.0, 0.25]))
    got = sample_weights(inds, gts, mix_reg=False)
    assert torch.equal(got.reg, torch.tensor([1.0, 1.0, 0.0]))
    assert got.quality is None
    term = InstanceData(
        bboxes=torch.zeros(2, 4),
        labels=torch.zeros(2),
        metainfo=dict(mix_coeff=0.5))
    got = sample_weights(inds, term)
    for w in got:
        assert torch.equal(w, torch.full((3, ), 0.5))
    term.reg_weights = torch.tensor([0.0, 1.0])
    assert torch.equal(
        sample_weights(inds, term).reg, torch.tensor([0.5, 0.5, 0.0]))


def test_times_broadcasts_and_passes_none():
    values = torch.ones(3, 4)
    assert times(values, None) is values
    got = times(values, torch.tensor([0.5, 1.0, 0.0]))
    assert torch.equal(got[:, 2], torch.tensor([0.5, 1.0, 0.0]))
    assert got.shape == (3, 4)


@pytest.mark.parametrize('labels,bad', [([0, 3], 3), ([-1, 1], -1)])
def test_check_gt_labels_names_image_label_and_classes(labels, bad):
    gts = InstanceData(labels=torch.tensor(labels))
    check_gt_labels(InstanceData(labels=torch.tensor([0, 2])), 3, {})
    check_gt_labels(InstanceData(labels=torch.zeros(0).long()), 3, {})
    with pytest.raises(
            ValueError,
            match=rf"gt label {bad} of image "
            r"'a\.jpg' is out of range: labels must be in \[0, "
            r"3\) for a head of num_classes=3"):
        check_gt_labels(gts, 3, dict(img_path='a.jpg'))


def test_select_images():
    out = [
        torch.arange(6).reshape(3, 2), None,
        (torch.arange(12).reshape(2, 3, 2), )
    ]
    got = select_images(out[:2], [2, 0])
    assert got[0].tolist() == [[4, 5], [0, 1]] and got[1] is None
    assert select_images(out[2], [1], dim=1)[0].tolist() == \
        [[[2, 3]], [[8, 9]]]
    assert select_images(out[0], [0, 1, 2]) is out[0]  # all, in order


def test_loss_by_terms_scales_and_adds_terms():
    """Own term over both images (lam 0.3 and 1), partner term over the
    first (scale 1/2): the term loss sees each term's coefficients."""
    gts = [
        InstanceData(
            bboxes=torch.zeros(2, 4),
            labels=torch.zeros(2),
            loss_weights=torch.tensor([0.3, 0.7]),
            mix_group=torch.tensor([0, 1])),
        InstanceData(
            bboxes=torch.zeros(1, 4),
            labels=torch.zeros(1),
            mix_group=torch.tensor([0]))
    ]
    metas = [dict(mix_lambda=0.3), dict(mix_lambda=1.0)]
    seen = []

    def term_loss(term):
        seen.append((term.group, term.img_inds,
                     [g.metainfo['mix_coeff'] for g in term.gt_instances]))
        return dict(loss=torch.tensor(float(len(term.img_inds))))

    total = loss_by_terms(gts, metas, term_loss)
    assert seen == [(0, [0, 1], [pytest.approx(0.3), 1.0]),
                    (1, [0], [pytest.approx(0.7)])]
    assert total['loss'].item() == 2.0 + 0.5 * 1.0
    assert loss_by_terms_old_home is loss_by_terms
