import os.path as osp

import numpy as np
from mmdet.registry import DATASETS, TRANSFORMS
from mmdet.structures.bbox import HorizontalBoxes
from mmdet.utils import register_all_modules

from lossmix_mm.datasets.transforms import ClearIgnoreFlags
from lossmix_test_utils import write_voc_split

register_all_modules()


def results(flags):
    num = len(flags)
    return dict(
        img=np.zeros((6, 8, 3), dtype=np.uint8),
        gt_bboxes=HorizontalBoxes(
            np.tile(np.array([[0, 0, 2, 2]], np.float32), (num, 1))),
        gt_bboxes_labels=np.arange(num, dtype=np.int64),
        gt_ignore_flags=np.array(flags, dtype=bool))


def test_clears_every_flag_and_keeps_the_rest():
    r = results([False, True, True])
    boxes = r['gt_bboxes'].tensor.clone()
    out = ClearIgnoreFlags()(r)
    assert out['gt_ignore_flags'].dtype == bool
    assert out['gt_ignore_flags'].tolist() == [False, False, False]
    assert (out['gt_bboxes'].tensor == boxes).all()
    assert out['gt_bboxes_labels'].tolist() == [0, 1, 2]


def test_empty_and_missing_flags():
    out = ClearIgnoreFlags()(results([]))
    assert out['gt_ignore_flags'].shape == (0, )
    assert out['gt_ignore_flags'].dtype == bool
    # no annotations loaded (e.g. a test pipeline): nothing to do
    out = ClearIgnoreFlags()(dict(img=np.zeros((6, 8, 3), np.uint8)))
    assert 'gt_ignore_flags' not in out


def test_registered_with_repr():
    transform = TRANSFORMS.build(dict(type='ClearIgnoreFlags'))
    assert isinstance(transform, ClearIgnoreFlags)
    assert repr(transform) == 'ClearIgnoreFlags()'


def test_voc_difficult_box_becomes_a_gt(tmp_path):
    """mmdet's VOCDataset makes a difficult box an ignored instance; after
    ClearIgnoreFlags it is a gt like the others (what Detectron2 trains on).
    """
    root = osp.join(str(tmp_path), 'VOC2007')
    write_voc_split(root, 'trainval', '2007', classes=('dog', ))
    xml = osp.join(root, 'Annotations', '2007_trainval_0.xml')
    with open(xml) as f:
        text = f.read()
    # the fixture's second object ('person') is difficult
    k = text.rindex('<difficult>0</difficult>')
    with open(xml, 'w') as f:
        f.write(text[:k] + '<difficult>1</difficult>' +
                text[k + len('<difficult>0</difficult>'):])

    def build(clear):
        pipeline = [
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations', with_bbox=True),
            dict(type='PackDetInputs')
        ]
        if clear:
            pipeline.insert(2, dict(type='ClearIgnoreFlags'))
        return DATASETS.build(
            dict(
                type='VOCDataset',
                data_root=str(tmp_path) + '/',
                ann_file='VOC2007/ImageSets/Main/trainval.txt',
                data_prefix=dict(sub_data_root='VOC2007/'),
                pipeline=pipeline))

    stock = build(clear=False)[0]['data_samples']
    assert len(stock.gt_instances) == 1
    assert len(stock.ignored_instances) == 1
    ours = build(clear=True)[0]['data_samples']
    assert len(ours.gt_instances) == 2
    assert len(ours.ignored_instances) == 0
    # the person box (label 14 of VOC's 20 classes) is now trained on
    assert sorted(ours.gt_instances.labels.tolist()) == sorted(
        stock.gt_instances.labels.tolist() +
        stock.ignored_instances.labels.tolist())
    assert 14 in ours.gt_instances.labels.tolist()
