# Source-only baseline of the toy domain adaptation: the toy Faster R-CNN
# trained on the labelled 'source' shapes only (data/toy), evaluated on the
# held-out images of the 'clipart' target domain (data/toy_clipart), with
# the toy quality study's 1200-iteration schedule (lr x0.1 at 900 and 1125).
# Its last checkpoint is also where the toy adaptation starts from.
_base_ = './faster-rcnn_r18_fpn_1xb4-800it_toy.py'
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)

target_root = 'data/toy_clipart/'
val_dataloader = dict(dataset=dict(data_root=target_root))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=target_root + 'annotations/val.json')
test_evaluator = val_evaluator

max_iters = 1200
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=100),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_iters,
        by_epoch=False,
        milestones=[900, 1125],
        gamma=0.1)
]
default_hooks = dict(checkpoint=dict(interval=600))
