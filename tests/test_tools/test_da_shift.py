"""tools/da_shift.py: a source checkpoint evaluated on each toy domain."""
import json
import os.path as osp

import da_shift
import torch
from mmdet.registry import MODELS
from mmengine.config import Config

from lossmix_test_utils import make_toy_domains


def test_shares_of_the_source_ap50(tmp_path, monkeypatch, capsys):
    metrics = {'source': 0.6, 'clipart': 0.3, 'watercolor': 0.45}

    def fake(config, checkpoint, root, work_dir):
        ap50 = metrics[osp.basename(work_dir)]
        return {'coco/bbox_mAP': ap50 / 2, 'coco/bbox_mAP_50': ap50}

    monkeypatch.setattr(da_shift, 'evaluate', fake)
    monkeypatch.setattr(da_shift, 'style_root', lambda *a: 'unused')
    out = tmp_path / 'shift.json'
    da_shift.main([
        'ckpt.pth', '--styles', 'source', 'clipart', 'watercolor', '--out',
        str(out), '--work-dir',
        str(tmp_path)
    ])
    results = json.loads(out.read_text())['results']
    assert results['clipart']['ap50_share_of_source'] == 0.5
    assert results['watercolor']['ap50_share_of_source'] == 0.75
    assert '| clipart | 0.150 | 0.300 | 0.50 |' in capsys.readouterr().out


def test_evaluates_a_checkpoint_on_existing_tiny_domains(tmp_path):
    data = tmp_path / 'data'
    make_toy_domains(str(data), num_train=2, num_val=2)
    cfg = Config.fromfile(da_shift.DEFAULT_CONFIG)
    model = MODELS.build(cfg.model)
    checkpoint = str(tmp_path / 'model.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), checkpoint)
    results = da_shift.main([
        checkpoint, '--styles', 'source', 'clipart', '--data-root',
        str(data), '--work-dir',
        str(tmp_path / 'eval')
    ])
    assert set(results) == {'source', 'clipart'}
    for metrics in results.values():
        assert 0.0 <= metrics['coco/bbox_mAP_50'] <= 1.0
    # the tiny domains were used as they were, not generated anew
    meta = json.loads((data / 'toy_clipart' / 'meta.json').read_text())
    assert meta['num_val'] == 2
