"""Mask2Former members: their own losses, their per-pixel distribution,
their per-image task loss and teacher selection, alone and beside a
per-pixel member."""

import copy

import mmdet.models.dense_heads.mask2former_head as mmdet_m2f
import pytest
import torch
from mmseg.registry import MODELS

import bikd_mm  # noqa: F401
from bikd_mm.engine.optimizers import BiKDOptimWrapperConstructor
from bikd_mm.models.segmentors.mask2former_adapter import Mask2FormerAdapter
from bikd_mm.models.segmentors.member_adapters import EncoderDecoderAdapter

from .seg_fixtures import fake_batch, member
from .test_bikd_segmentor import at_labels, pair_losses, reference_kd


def build_pair(members, **kwargs):
    torch.manual_seed(0)
    pair = MODELS.build(dict(type='BiKDSegmentor', members=members, **kwargs))
    pair.init_weights()
    return pair


def m2f_pair(**kwargs):
    return build_pair([member('a', 'm2f'), member('b', 'm2f')], **kwargs)


def mixed_pair(**kwargs):
    return build_pair([member('m2f'), member('cnn')], **kwargs)


def member_batch(pair, name, batch=2, seed=0, training=True):
    raw = fake_batch(batch=batch, seed=seed)
    data = pair.data_preprocessor(raw, training)
    return pair._member_batch(
        name, data['inputs'], data['data_samples'], training
    )


def test_adapters_follow_the_decode_head():
    pair = mixed_pair()
    assert isinstance(pair.adapters['m2f'], Mask2FormerAdapter)
    assert isinstance(pair.adapters['cnn'], EncoderDecoderAdapter)
    assert pair.num_classes == 11 and pair.ignore_index == 255


def test_own_losses_equal_stock_loss_and_distribution_is_stock_inference():
    pair = m2f_pair()
    model = pair.members['a']
    model.eval()  # batch statistics would differ between the two calls
    inputs, samples = member_batch(pair, 'a')
    torch.manual_seed(3)  # the mask losses sample random points
    stock = model.loss(inputs, copy.deepcopy(samples))
    torch.manual_seed(3)
    out = pair.adapters['a'].forward_train(inputs, samples)
    own, log_probs = out.losses, out.logits
    assert set(own) == set(stock)
    assert {
        'decode.loss_cls',
        'decode.loss_mask',
        'decode.loss_dice',
        'decode.d0.loss_cls',
        'decode.d1.loss_dice',
    } <= set(own)
    for key, value in stock.items():
        torch.testing.assert_close(own[key], value, msg=key)
    # mmseg's semantic inference at the masks' resolution (16 x 16 for 64 x
    # 64 inputs), normalised over classes, is the member's distribution.
    assert log_probs.shape == (2, 11, 16, 16)
    with torch.no_grad():
        feats = model.extract_feat(inputs)
        metas = [dict(s.metainfo, pad_shape=(16, 16)) for s in samples]
        scores = model.decode_head.predict(feats, metas, model.test_cfg)
    want = (scores / scores.sum(1, keepdim=True)).log()
    torch.testing.assert_close(log_probs, want, rtol=1e-4, atol=1e-5)


def test_kd_gradient_reaches_class_scores_and_masks():
    pair = mixed_pair(kd_resolution='labels')
    losses, _, _ = pair_losses(pair)
    assert losses['kd.loss_cnn_to_m2f'] > 0
    head = pair.members['m2f'].decode_head
    params = [head.cls_embed.weight, head.mask_embed[-1].weight]
    grads = torch.autograd.grad(losses['kd.loss_cnn_to_m2f'], params)
    assert all(g.abs().sum() > 0 for g in grads)


def stock_distribution(model, raw: dict) -> torch.Tensor:
    """A Mask2Former member's per-pixel log-distribution over classes from
    mmseg's semantic inference at the masks' resolution, normalised over
    classes (as checked above)."""
    data = model.data_preprocessor(copy.deepcopy(raw), True)
    inputs, samples = data['inputs'], data['data_samples']
    with torch.no_grad():
        feats = model.extract_feat(inputs)
        metas = [dict(s.metainfo, pad_shape=(16, 16)) for s in samples]
        scores = model.decode_head.predict(feats, metas, model.test_cfg)
    return (scores / scores.sum(1, keepdim=True)).log()


@pytest.mark.parametrize('granularity', ['pixel', 'image'])
def test_mixed_pair_kd_terms_match_direct_formula(granularity):
    """The KD terms of a Mask2Former + UPerNet pair are those of the method
    applied to the Mask2Former member's per-pixel distribution."""
    pair = mixed_pair(granularity=granularity, kd_resolution='labels')
    pair.eval()  # the same forward in loss() and in the stock inference
    raw = fake_batch()
    losses, logits, labels = pair_losses(pair, raw)
    log_probs = stock_distribution(pair.members['m2f'], raw)
    up = [at_labels(z, labels) for z in (log_probs, logits['cnn'])]
    ref = reference_kd(up, labels, granularity)
    taught = [bool(ref[d] > 0) for d in ((0, 1), (1, 0))]
    # Per pixel both members teach; per image (two images) at least one.
    assert all(taught) if granularity == 'pixel' else any(taught)
    tol = dict(rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(
        losses['kd.loss_m2f_to_cnn'], ref[(0, 1)], **tol
    )
    torch.testing.assert_close(
        losses['kd.loss_cnn_to_m2f'], ref[(1, 0)], **tol
    )


def test_image_task_loss_is_each_images_stock_loss(monkeypatch):
    pair = m2f_pair()
    model = pair.members['a']
    model.eval()
    adapter = pair.adapters['a']
    inputs, samples = member_batch(pair, 'a', batch=2, seed=1)
    head = model.decode_head
    with torch.no_grad():
        outputs = head(model.extract_feat(inputs), samples)
    gt, metas = head._seg_data_to_instance_data(samples)
    torch.manual_seed(5)
    got = adapter.image_task_losses(*outputs, gt, metas)
    assert got.shape == (2,) and not got.requires_grad
    # The stock loss of each image alone, drawing the same random points.
    torch.manual_seed(5)
    want = []
    for i in range(2):
        with torch.no_grad():
            losses = model.loss(inputs[i : i + 1], samples[i : i + 1])
        assert len(losses) == 9  # 3 terms x 3 decoder outputs
        want.append(sum(v.sum() for v in losses.values()))
    torch.testing.assert_close(got, torch.stack(want), rtol=1e-4, atol=1e-4)
    # Not the batch loss: each image is normalised by its own matches.
    assert not torch.allclose(got[0], got[1])

    # The per-image losses never average the mask count over processes
    # (a collective per image); the batch loss still does.
    def collective(tensor):
        raise AssertionError('collective called')

    monkeypatch.setattr(mmdet_m2f, 'reduce_mean', collective)
    torch.manual_seed(5)
    again = adapter.image_task_losses(*outputs, gt, metas)
    torch.testing.assert_close(again, got)
    assert mmdet_m2f.reduce_mean is collective


def test_task_loss_selection_picks_the_lower_total_loss():
    pair = m2f_pair(granularity='image', selection_loss='task_loss')
    pair.record_kd_maps = True
    data = pair.data_preprocessor(fake_batch(batch=2, seed=2), True)
    seen = {}
    forward = pair._member_forward

    def record(name, inputs, samples):
        seen[name] = forward(name, inputs, samples)
        return seen[name]

    pair._member_forward = record
    losses = pair(**data, mode='loss')
    task = torch.stack([seen[n].image_task_loss for n in 'ab'])
    assert task.shape == (2, 2)
    maps = pair.last_kd_maps
    valid = maps['labels'] != 255
    for i in range(2):
        # Reference tie rule: the last member teaches on ties.
        best = 0 if task[0, i] < task[1, i] else 1
        assert (maps['teacher'][i][valid[i]] == best).all()
    total = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total)


def test_selection_loss_errors():
    with pytest.raises(ValueError, match="granularity='image'"):
        m2f_pair(granularity='pixel', selection_loss='task_loss')
    with pytest.raises(ValueError, match=r"members \['cnn'\] have per-pixel"):
        mixed_pair(granularity='image', selection_loss='task_loss')
    with pytest.raises(ValueError, match=r"members \['m2f'\] have none"):
        mixed_pair(selection_loss='bce_dice')


@pytest.mark.parametrize(
    'make, options',
    [
        (m2f_pair, dict(granularity='image', selection_loss='task_loss')),
        (m2f_pair, dict(granularity='pixel')),
        (mixed_pair, dict(granularity='image')),
        (mixed_pair, dict(granularity='pixel', kd_resolution='labels')),
    ],
)
def test_pair_steps_update_both_members(make, options):
    pair = make(**options)
    names = pair.member_names
    wrappers = BiKDOptimWrapperConstructor(
        {
            n: dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3))
            for n in names
        }
    )(pair)
    before = {
        n: [p.detach().clone() for p in pair.members[n].parameters()]
        for n in names
    }
    for step in range(2):
        log_vars = pair.train_step(fake_batch(seed=step), wrappers)
        assert torch.isfinite(log_vars['loss'])
    assert {f'kd.loss_{names[0]}_to_{names[1]}'} <= set(log_vars)
    for n in names:
        changed = sum(
            not torch.equal(a, b)
            for a, b in zip(before[n], pair.members[n].parameters())
        )
        assert changed > len(before[n]) // 2, n


def test_tensor_and_predict_modes():
    pair = mixed_pair()
    pair.eval()
    data = pair.data_preprocessor(fake_batch(batch=1), False)
    with torch.no_grad():
        raw = pair(**data, mode='tensor')
        preds = pair(**data, mode='predict')
    all_cls, all_masks = raw['m2f']
    assert len(all_cls) == 3  # the query init and 2 decoder layers
    assert all_cls[-1].shape == (1, 8, 12)
    assert all_masks[-1].shape == (1, 8, 16, 16)
    assert raw['cnn'].shape == (1, 11, 16, 16)
    assert preds[0].members.m2f.pred_sem_seg.data.shape == (1, 64, 64)


def test_unsupported_member_is_named():
    from bikd_mm.models.segmentors.member_adapters import build_adapter

    with pytest.raises(TypeError, match="member 'x': Linear is not"):
        build_adapter(torch.nn.Linear(2, 2), 'x')
