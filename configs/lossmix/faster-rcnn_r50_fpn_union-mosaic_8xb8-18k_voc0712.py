# Union Mosaic on Faster R-CNN R50-FPN, PASCAL VOC 07+12: every training image
# is a mosaic of four (mmdet's Mosaic in a MultiImageMixDataset), scaled and
# cropped back to the VOC training scale, every box that keeps a pixel
# weighing 1 (mmdet's behaviour). The Union sibling of
# `faster-rcnn_r50_fpn_lossmix-mosaic_8xb8-18k_voc0712.py`: the pair differs
# only in the mixing transform, the box type and the packer (the LossMix
# heads compute the stock losses without weights; ignore_iof_thr is kept
# equal and is inert here, where nothing is ignored). No blend; the paper's
# setting otherwise (the parent's model, schedule and Detectron2 defaults).
_base_ = './faster-rcnn_r50_fpn_8xb8-18k_voc0712.py'
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)

# as the LossMix sibling (see there)
model = dict(
    rpn_head=dict(type='LossMixRPNHead'),
    roi_head=dict(type='LossMixRoIHead'),
    train_cfg=dict(
        rpn=dict(assigner=dict(ignore_iof_thr=0.5)),
        rcnn=dict(assigner=dict(ignore_iof_thr=0.5))))

backend_args = None
# each VOC image only loaded: the mosaic resizes its tiles itself
mosaic_inner_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True),
    # Detectron2 trains on VOC "difficult" boxes (mmdet would ignore them)
    dict(type='ClearIgnoreFlags'),
]
# a tile fits (1333, 800); the canvas at ratio 0.6..1.0 shows the objects at
# the parent's 480..800 short-side scales
train_pipeline = [
    dict(type='Mosaic', img_scale=(1333, 800)),
    dict(
        type='RandomResize',
        scale=(2666, 1600),
        ratio_range=(0.6, 1.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=(1333, 800)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='MultiImageMixDataset',
        # VOC 07+12 trainval, as the parent's
        dataset=dict(
            type='ConcatDataset',
            ignore_keys=['dataset_type'],
            datasets=[
                dict(
                    type='VOCDataset',
                    data_root='data/VOCdevkit/',
                    ann_file='VOC2007/ImageSets/Main/trainval.txt',
                    data_prefix=dict(sub_data_root='VOC2007/'),
                    filter_cfg=dict(filter_empty_gt=True, min_size=32),
                    pipeline=mosaic_inner_pipeline,
                    backend_args=backend_args),
                dict(
                    type='VOCDataset',
                    data_root='data/VOCdevkit/',
                    ann_file='VOC2012/ImageSets/Main/trainval.txt',
                    data_prefix=dict(sub_data_root='VOC2012/'),
                    filter_cfg=dict(filter_empty_gt=True, min_size=32),
                    pipeline=mosaic_inner_pipeline,
                    backend_args=backend_args)
            ]),
        pipeline=train_pipeline))
