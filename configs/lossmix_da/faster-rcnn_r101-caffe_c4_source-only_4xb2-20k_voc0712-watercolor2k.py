# Source only, VOC -> Watercolor2k (paper Table 5, 46.9 AP50): the
# Clipart1k source-only config on the 6 shared classes (bicycle, bird, car,
# cat, dog, person), evaluated on Watercolor2k test.
_base_ = './faster-rcnn_r101-caffe_c4_source-only_4xb2-20k_voc0712-clipart1k.py'  # noqa
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)

metainfo = dict(
    classes=('bicycle', 'bird', 'car', 'cat', 'dog', 'person'),
    palette=[(119, 11, 32), (165, 42, 42), (0, 0, 142), (255, 77, 255),
             (0, 226, 252), (220, 20, 60)])
model = dict(roi_head=dict(bbox_head=dict(num_classes=6)))
train_dataloader = dict(
    dataset=dict(datasets=[
        dict(
            type='VOCDataset',
            data_root='data/VOCdevkit/',
            metainfo=metainfo,
            ann_file=f'{year}/ImageSets/Main/trainval.txt',
            data_prefix=dict(sub_data_root=f'{year}/'),
            filter_cfg=dict(filter_empty_gt=True, min_size=32),
            pipeline=_base_.source_pipeline,
            backend_args=None) for year in ('VOC2007', 'VOC2012')
    ]))
val_dataloader = dict(
    dataset=dict(
        data_root='data/watercolor/',
        metainfo=metainfo,
        ann_file='ImageSets/Main/test.txt'))
test_dataloader = val_dataloader
