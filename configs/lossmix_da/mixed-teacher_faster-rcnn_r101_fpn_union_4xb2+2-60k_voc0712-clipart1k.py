# R101-FPN sibling (an option of ours; the paper ran the C4 detector, so
# any paper number below is the C4's) of
# mixed-teacher_faster-rcnn_r101-caffe_c4_union_4xb2+2-60k_voc0712-clipart1k.py
# with the same settings; that config's header:
# Union mixing in the domain-adaptation teacher (paper Table 4 "Union",
# 50.0 AP50 on Clipart1k): the LossMix config with mode 'union', i.e. the
# same mixed batches (mss, mtt, mst), every component box (source and
# pseudo) at weight 1 instead of lam / 1 - lam, lam ~ Beta(1, 1) as the
# paper's Union: "we sample lambda ~ Beta(1.0, 1.0) for the popular
# unweighted Union mixing strategy". The warmup's nst noise term is the
# same as LossMix's (the paper's Union replaces only the weighting).
_base_ = './mixed-teacher_faster-rcnn_r101_fpn_lossmix_4xb2+2-60k_voc0712-clipart1k.py'  # noqa
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)

model = dict(mixer=dict(mode='union'))
