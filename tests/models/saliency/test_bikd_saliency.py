import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.optim import OptimWrapper, OptimWrapperDict

from bikd_mm.evaluation.metrics import MemberMetric
from bikd_mm.models.saliency import BiKDSaliency, VideoSaliencyModel
from bikd_mm.registry import MODELS
from bikd_mm.utils.checkpoint import load_checkpoint_file

from .fixtures import fake_batch, s3d_member_model, swin_member_model

EPS = 2.2204e-16
SIX = ('CC', 'KLD', 'SIM', 'NSS', 'AUC_J', 'sAUC')


def _pair(**kwargs):
    torch.manual_seed(0)
    members = kwargs.pop(
        'members',
        [
            dict(name='swin', model=swin_member_model()),
            dict(name='s3d', model=s3d_member_model()),
        ],
    )
    return BiKDSaliency(members=members, **kwargs)


def _np_kld(pred, gt):
    p = pred.ravel() / pred.sum()
    q = gt.ravel() / gt.sum()
    return float(np.sum(q * np.log(EPS + q / (p + EPS))))


def _np_cc(pred, gt):
    return float(np.corrcoef(pred.ravel(), gt.ravel())[0, 1])


def test_loss_keys_and_kd_against_formula():
    pair = _pair()
    batch = pair.data_preprocessor(fake_batch(batch=3), True)
    losses = pair(**batch, mode='loss')
    assert set(losses) == {
        'swin.loss_kld_cc',
        's3d.loss_kld_cc',
        'kd.loss_swin_to_s3d',
        'kd.loss_s3d_to_swin',
        'swin.teach_share',
        's3d.teach_share',
    }
    with torch.no_grad():
        maps = pair(**batch, mode='tensor')
    assert maps['swin'].shape == (3, 1, 32, 48)
    assert maps['s3d'].shape == (3, 1, 32, 32)
    common = {
        n: F.interpolate(m, (32, 48), mode='bilinear').double().numpy()
        for n, m in maps.items()
    }
    at_gt = {
        n: F.interpolate(
            torch.from_numpy(m), (24, 40), mode='bilinear'
        ).numpy()
        for n, m in common.items()
    }
    names = ['swin', 's3d']
    kd = np.zeros((2, 2))
    teachers = []
    for b, sample in enumerate(batch['data_samples']):
        gt = sample['gt_saliency'].double().numpy()
        scores = [
            _np_kld(at_gt[n][b, 0], gt) - _np_cc(at_gt[n][b, 0], gt)
            for n in names
        ]
        # Two members: a tie goes to the last one.
        t = 0 if scores[0] < scores[1] else 1
        teachers.append(t)
        s = 1 - t
        pt = common[names[t]][b, 0].ravel()
        ps = common[names[s]][b, 0].ravel()
        pt, ps = pt / pt.sum(), ps / ps.sum()
        kd[t, s] += np.sum(pt * np.log(EPS + pt / (ps + EPS)))
    kd /= 3
    assert losses['kd.loss_swin_to_s3d'].item() == pytest.approx(
        kd[0, 1], rel=1e-4, abs=1e-7
    )
    assert losses['kd.loss_s3d_to_swin'].item() == pytest.approx(
        kd[1, 0], rel=1e-4, abs=1e-7
    )
    assert losses['swin.teach_share'].item() == pytest.approx(
        teachers.count(0) / 3
    )


def test_kd_weight_and_detach():
    batch = fake_batch()
    base = _pair()
    losses = base(**base.data_preprocessor(batch, True), mode='loss')
    scaled = _pair(kd_weight=0.5)
    half = scaled(**scaled.data_preprocessor(batch, True), mode='loss')
    for key in ('kd.loss_swin_to_s3d', 'kd.loss_s3d_to_swin'):
        assert half[key].item() == pytest.approx(
            0.5 * losses[key].item(), rel=1e-5, abs=1e-9
        )


def test_train_step_updates_every_member():
    pair = _pair()
    before = {
        n: next(m.decoder.parameters()).detach().clone()
        for n, m in pair.members.items()
    }
    wrapper = OptimWrapper(torch.optim.SGD(pair.parameters(), lr=0.1))
    log_vars = pair.train_step(fake_batch(), wrapper)
    assert 'loss' in log_vars and 'kd.loss_swin_to_s3d' in log_vars
    for name, module in pair.members.items():
        after = next(module.decoder.parameters())
        assert not torch.equal(after, before[name]), name


def test_train_step_with_one_optimizer_per_member():
    pair = _pair()
    wrappers = OptimWrapperDict(
        **{
            n: OptimWrapper(torch.optim.Adam(m.parameters(), lr=1e-3))
            for n, m in pair.members.items()
        }
    )
    log_vars = pair.train_step(fake_batch(seed=1), wrappers)
    assert math.isfinite(log_vars['loss'])


def test_short_run_member_metrics(tmp_path):
    pair = _pair()
    wrapper = OptimWrapper(torch.optim.Adam(pair.parameters(), lr=1e-3))
    for step in range(2):
        pair.train_step(fake_batch(seed=step), wrapper)
    pair.eval()
    metric = MemberMetric(
        metric=dict(type='bikd_mm.SaliencyMetric', sauc_splits=4),
        members=pair.member_names,
    )
    metric.dataset_meta = {}
    for seed in range(2):
        batch = fake_batch(seed=10 + seed)
        outputs = pair.val_step(batch)
        assert set(outputs[0]['members']) == {'swin', 's3d'}
        assert outputs[0]['members']['s3d']['pred_saliency'].shape == (24, 40)
        metric.process(batch, outputs)
    results = metric.evaluate(4)
    for name in ('swin', 's3d'):
        for key in SIX:
            assert f'{name}/{key}' in results
        for key in ('CC', 'KLD', 'SIM', 'NSS', 'AUC_J'):
            assert math.isfinite(results[f'{name}/{key}']), (name, key)


def test_export_member_loads_into_plain_model(tmp_path):
    from bikd_mm.utils.export import export_member

    pair = _pair()
    path = str(tmp_path / 'pair.pth')
    torch.save(dict(state_dict=pair.state_dict(), meta={}), path)
    out = str(tmp_path / 's3d.pth')
    export_member(path, 's3d', out)
    model = MODELS.build(s3d_member_model())
    state = load_checkpoint_file(str(out))['state_dict']
    result = model.load_state_dict(state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert isinstance(model, VideoSaliencyModel)


def test_pixel_granularity_terms_non_negative():
    pair = _pair(granularity='pixel')
    losses = pair(**pair.data_preprocessor(fake_batch(), True), mode='loss')
    for key in ('kd.loss_swin_to_s3d', 'kd.loss_s3d_to_swin'):
        assert torch.isfinite(losses[key]) and losses[key] >= 0
    share = losses['swin.teach_share'] + losses['s3d.teach_share']
    assert share.item() == pytest.approx(1.0)
    sum(v for k, v in losses.items() if 'loss' in k).backward()


def test_three_members_and_checks():
    members = [
        dict(name='a', model=swin_member_model()),
        dict(name='b', model=s3d_member_model()),
        dict(name='c', model=swin_member_model()),
    ]
    pair = _pair(members=members)
    losses = pair(**pair.data_preprocessor(fake_batch(), True), mode='loss')
    kd = [k for k in losses if k.startswith('kd.')]
    assert len(kd) == 6
    shares = sum(losses[f'{n}.teach_share'] for n in 'abc')
    assert shares.item() <= 1.0 + 1e-6
    with pytest.raises(ValueError):
        _pair(granularity='image')
    with pytest.raises(ValueError):
        _pair(members=members[:1])


def test_blank_ground_truth_teaches_nobody():
    pair = _pair()
    batch = fake_batch()
    batch['data_samples'][0]['gt_saliency'] = torch.zeros(24, 40)
    losses = pair(**pair.data_preprocessor(batch, True), mode='loss')
    share = losses['swin.teach_share'] + losses['s3d.teach_share']
    assert share.item() == pytest.approx(0.5)
    assert all(torch.isfinite(v) for v in losses.values())


def test_per_member_inputs_reach_their_member():
    """``inputs`` as ``{member: clips}``: each member gets its own clips
    (here other sizes and lengths), and a missing member is named."""
    pair = _pair()
    shared = fake_batch(batch=2, frames=4, size=(32, 48))
    other = fake_batch(batch=2, frames=6, size=(40, 40), seed=1)
    batch = dict(
        inputs=dict(swin=shared['inputs'], s3d=other['inputs']),
        data_samples=shared['data_samples'],
    )
    with torch.no_grad():
        maps = pair(**pair.data_preprocessor(batch), mode='tensor')
        alone = pair.members['swin'](
            **pair.members['swin'].data_preprocessor(shared), mode='tensor'
        )
    assert maps['swin'].shape == (2, 1, 32, 48)
    # s3d resizes its own 40x40 clips to its 32x32 input.
    assert maps['s3d'].shape == (2, 1, 32, 32)
    assert torch.allclose(maps['swin'], alone)
    losses = pair(**pair.data_preprocessor(batch), mode='loss')
    assert 'kd.loss_swin_to_s3d' in losses
    batch['inputs'] = dict(swin=shared['inputs'])
    with pytest.raises(KeyError, match="member 's3d'"):
        pair(**pair.data_preprocessor(batch), mode='loss')
