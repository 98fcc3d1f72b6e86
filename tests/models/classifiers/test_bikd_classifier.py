"""BiKDClassifier: selection and KD against direct formulas, own losses,
batch augmentation, prediction."""

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.optim import OptimWrapper, OptimWrapperDict
from mmpretrain.models.utils import ClsDataPreprocessor
from mmpretrain.registry import MODELS

import bikd_mm.models.classifiers  # noqa: F401
from bikd_mm.engine.optimizers import BiKDOptimWrapperConstructor
from tests.models.member_params import assert_most_changed, snapshot
from tests.models.recorded_outputs import recorded_outputs

from .cls_fixtures import (
    MIXUP,
    PREPROCESSORS,
    fake_batch,
    member,
    member_model,
)


def build_pair(members=None, **kwargs):
    members = members or [member('cnn'), member('vit')]
    return MODELS.build(dict(type='BiKDClassifier', members=members, **kwargs))


def pair_losses(pair, raw: dict, replace=None) -> tuple:
    """``pair.loss()`` on a raw batch.

    Returns:
        tuple: The losses and each member's logits as its head returned
        them (``{name: [B, C]}``, in the graph of the losses).
    """
    data = pair.data_preprocessor(raw, True)
    heads = {name: m.head for name, m in pair.members.items()}
    with recorded_outputs(heads, replace) as logits:
        losses = pair(**data, mode='loss')
    return losses, logits


def hard_labels(raw: dict) -> torch.Tensor:
    return torch.cat([s.gt_label for s in raw['data_samples']])


def seed_all(seed: int) -> None:
    np.random.seed(seed)
    torch.manual_seed(seed)


def reference_kd(
    logits: list, target: torch.Tensor, temperature=1.0, normalize='all'
) -> tuple[dict, torch.Tensor]:
    """Per-direction KD terms and teachers, written from the method."""
    probs = [z.detach().softmax(1) for z in logits]
    if target.is_floating_point():
        conf = torch.stack([(p * target).sum(1) for p in probs])
    else:
        conf = torch.stack(
            [p[torch.arange(len(target)), target] for p in probs]
        )
    if len(logits) == 2:
        # Reference: A teaches where p_A > p_B, B otherwise (ties too).
        best = torch.where(conf[0] > conf[1], 0, 1)
    else:
        best = conf.argmax(0)
        tied = (conf == conf.max(0).values).sum(0) > 1
        best[tied] = -1
    count = len(target) if normalize == 'all' else (best >= 0).sum()
    terms, t2 = {}, temperature**2
    for t, zt in enumerate(logits):
        pt = (zt / temperature).softmax(1)
        for s, zs in enumerate(logits):
            if s == t:
                continue
            kl = (
                pt
                * (
                    (zt / temperature).log_softmax(1)
                    - (zs / temperature).log_softmax(1)
                )
            ).sum(1)
            terms[(t, s)] = t2 * (kl * (best == t)).sum() / count
    return terms, best


def soft_labels(batch: int, num_classes: int, seed: int) -> torch.Tensor:
    """Mixup-like labels: lam * one_hot(a) + (1 - lam) * one_hot(b)."""
    gen = torch.Generator().manual_seed(seed)
    a, b = torch.randint(0, num_classes, (2, batch), generator=gen)
    lam = torch.rand(batch, 1, generator=gen)
    return lam * F.one_hot(a, num_classes) + (1 - lam) * F.one_hot(
        b, num_classes
    )


@pytest.mark.parametrize('labels', ['hard', 'soft'])
@pytest.mark.parametrize(
    'temperature, normalize', [(1.0, 'all'), (2.0, 'masked')]
)
def test_kd_matches_direct_formula(labels, temperature, normalize):
    """The KD terms of loss(), their gradients with respect to each
    member's logits, the teach shares and accuracies are those of the
    method applied to the logits."""
    names = ['cnn', 'vit']
    soft = dict(head=dict(loss=dict(type='CrossEntropyLoss', use_soft=True)))
    members = [
        member(n, model=member_model(n, **(soft if labels == 'soft' else {})))
        for n in names
    ]
    seed_all(0)
    pair = build_pair(members, temperature=temperature, normalize=normalize)
    raw = fake_batch(batch=16)
    if labels == 'hard':
        target = hard_labels(raw)
    else:
        target = soft_labels(16, 10, seed=1)
        for sample, score in zip(raw['data_samples'], target):
            sample.set_gt_score(score)
    losses, logits = pair_losses(pair, raw)
    heads = [logits[n] for n in names]
    ref, best = reference_kd(heads, target, temperature, normalize)
    assert 0 < (best == 0).sum() < 16  # both directions are exercised
    out = {k: v for k, v in losses.items() if k.startswith('kd.')}
    assert set(out) == {'kd.loss_cnn_to_vit', 'kd.loss_vit_to_cnn'}
    for (t, s), value in ref.items():
        torch.testing.assert_close(
            out[f'kd.loss_{names[t]}_to_{names[s]}'], value
        )
    got = torch.autograd.grad(sum(out.values()), heads)
    want = torch.autograd.grad(sum(ref.values()), heads)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w)
    hard = target if labels == 'hard' else target.argmax(1)
    for t, name in enumerate(names):
        torch.testing.assert_close(
            losses[f'{name}.teach_share'], (best == t).float().mean()
        )
        torch.testing.assert_close(
            losses[f'{name}.accuracy'],
            (logits[name].argmax(1) == hard).float().mean() * 100,
        )
        assert 'loss' not in f'{name}.accuracy'


def test_three_members_best_teaches_all_others_ties_teach_nobody():
    seed_all(1)
    pair = build_pair(
        [member('a', 'cnn'), member('b', 'vit'), member('c', 'cnn')]
    )
    raw = fake_batch(batch=8, seed=1)
    target = hard_labels(raw)

    def tie_with_a(out, recorded):
        # Sample 0: b's logits are a's, so a and b tie at the best
        # confidence there.
        return torch.cat([recorded['a'][:1].detach(), out[1:]])

    def unsure(out, recorded):
        out = out.clone()
        out[0, target[0]] = -10.0
        return out

    losses, logits = pair_losses(
        pair, raw, replace=dict(b=tie_with_a, c=unsure)
    )
    heads = [logits[n] for n in 'abc']
    torch.testing.assert_close(heads[1][0], heads[0][0])
    ref, best = reference_kd(heads, target)
    assert best[0] == -1
    assert len(set(best[1:].tolist())) > 1  # several members teach
    for (t, s), value in ref.items():
        torch.testing.assert_close(
            losses[f'kd.loss_{"abc"[t]}_to_{"abc"[s]}'], value
        )
    shares = sum(losses[f'{n}.teach_share'] for n in 'abc')
    torch.testing.assert_close(shares, torch.tensor(7 / 8))


def mixup_members(label_smoothing: bool = True) -> list:
    vit_loss = (
        dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original')
        if label_smoothing
        else dict(type='CrossEntropyLoss', use_soft=True)
    )
    return [
        member(
            'cnn',
            model=member_model(
                'cnn',
                train_cfg=MIXUP,
                head=dict(loss=dict(type='CrossEntropyLoss', use_soft=True)),
            ),
        ),
        member(
            'vit',
            model=member_model(
                'vit',
                train_cfg=dict(augments=[dict(type='CutMix', alpha=1.0)]),
                head=dict(loss=vit_loss),
            ),
        ),
    ]


@pytest.mark.parametrize('mix', [True, False])
def test_own_losses_equal_stock_loss_and_selection_uses_labels(mix):
    pair = build_pair(
        mixup_members(), **({} if mix else dict(batch_augments=None))
    )
    pair.eval()  # deterministic forward passes
    raw = fake_batch(batch=8)
    seen, calls = {}, {n: 0 for n in pair.member_names}
    for name, adapter in pair.adapters.items():

        def record(inputs, samples, name=name, run=adapter.forward_train):
            out = run(inputs, samples)
            seen[name] = (inputs, samples, out.logits)
            return out

        adapter.forward_train = record
        pair.members[name].backbone.register_forward_hook(
            lambda *_, name=name: calls.__setitem__(name, calls[name] + 1)
        )

    seed_all(0)
    losses = pair.loss(raw['inputs'], raw['data_samples'])
    assert calls == {'cnn': 1, 'vit': 1}  # one forward pass per member
    assert 'gt_score' not in raw['data_samples'][0]  # caller's untouched

    seed_all(0)
    inputs, samples = pair.mix(raw['inputs'], raw['data_samples'])
    for name in pair.member_names:
        m_inputs, m_samples = pair._member_batch(name, inputs, samples, True)
        stock = pair.members[name].loss(m_inputs, m_samples)
        assert set(stock) == {'loss'}
        torch.testing.assert_close(losses[f'{name}.loss'], stock['loss'])

    # The teacher follows the batch labels (mixed or not), never the
    # smoothed targets of vit's loss.
    if mix:
        target = torch.stack([s.gt_score for s in samples])
        assert not torch.equal(target, target.round())  # really mixed
    else:
        target = torch.cat([s.gt_label for s in raw['data_samples']])
    _, best = reference_kd([seen[n][2] for n in pair.member_names], target)
    for t, name in enumerate(pair.member_names):
        torch.testing.assert_close(
            losses[f'{name}.teach_share'], (best == t).float().mean()
        )


def test_batch_augments_once_for_the_pair():
    pair = build_pair(mixup_members())
    # Members never mix on their own; the pair uses the first member's.
    assert all(
        m.data_preprocessor.batch_augments is None
        for m in pair.members.values()
    )
    assert type(pair.batch_augments.augments[0]).__name__ == 'Mixup'
    raw = fake_batch(batch=8)
    seed_all(3)
    inputs, samples = pair.mix(raw['inputs'], raw['data_samples'])
    views = {}
    for name in pair.member_names:
        m_inputs, m_samples = pair._member_batch(name, inputs, samples, True)
        cfg = PREPROCESSORS[name]
        pixels = m_inputs * torch.tensor(cfg['std']).view(
            3, 1, 1
        ) + torch.tensor(cfg['mean']).view(3, 1, 1)
        if cfg['to_rgb']:
            pixels = pixels.flip(1)
        views[name] = (pixels, torch.stack([s.gt_score for s in m_samples]))
    torch.testing.assert_close(
        views['cnn'][0], views['vit'][0], rtol=0, atol=1e-3
    )
    torch.testing.assert_close(views['cnn'][1], views['vit'][1])

    # Same as a stock preprocessor that normalises, then mixes with the
    # same random draw.
    stock = ClsDataPreprocessor(**PREPROCESSORS['cnn'], batch_augments=MIXUP)
    seed_all(3)
    want = stock(
        dict(
            inputs=raw['inputs'],
            data_samples=copy.deepcopy(raw['data_samples']),
        ),
        True,
    )
    seed_all(3)
    got = pair.members['cnn'].data_preprocessor(
        dict(
            zip(
                ('inputs', 'data_samples'),
                pair.mix(raw['inputs'], raw['data_samples']),
            )
        ),
        True,
    )
    torch.testing.assert_close(got['inputs'], want['inputs'])
    for g, w in zip(got['data_samples'], want['data_samples']):
        torch.testing.assert_close(g.gt_score, w.gt_score)

    off = build_pair(mixup_members(), batch_augments=None)
    assert off.batch_augments is None
    assert all(
        m.data_preprocessor.batch_augments is None
        for m in off.members.values()
    )
    own = build_pair(
        batch_augments=dict(augments=[dict(type='CutMix', alpha=1.0)])
    )
    assert type(own.batch_augments.augments[0]).__name__ == 'CutMix'
    with pytest.raises(ValueError, match='one size'):
        own.mix(
            [
                torch.zeros(3, 32, 32, dtype=torch.uint8),
                torch.zeros(3, 28, 28, dtype=torch.uint8),
            ],
            fake_batch(batch=2)['data_samples'],
        )


def test_train_step_updates_every_member_with_its_own_optimizer():
    pair = build_pair(mixup_members())
    wrappers = BiKDOptimWrapperConstructor(
        dict(
            cnn=dict(
                type='OptimWrapper',
                optimizer=dict(type='SGD', lr=0.1, momentum=0.9),
            ),
            vit=dict(
                type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3)
            ),
        )
    )(pair)
    assert isinstance(wrappers, OptimWrapperDict)
    before = snapshot(pair)
    log_vars = pair.train_step(fake_batch(batch=8), wrappers)
    assert torch.isfinite(log_vars['loss'])
    assert {
        'cnn.loss',
        'vit.loss',
        'kd.loss_cnn_to_vit',
        'kd.loss_vit_to_cnn',
        'cnn.teach_share',
        'vit.accuracy',
    } <= set(log_vars)
    assert_most_changed(pair, before)


def test_predict_and_tensor_modes_give_every_member():
    pair = build_pair()
    pair.eval()
    raw = fake_batch(batch=3)
    with torch.no_grad():
        out = pair(**pair.data_preprocessor(raw, False), mode='predict')
        logits = pair(**pair.data_preprocessor(raw, False), mode='tensor')
    assert len(out) == 3 and set(logits) == {'cnn', 'vit'}
    for i, sample in enumerate(out):
        for name in ('cnn', 'vit'):
            pred = sample.members.get(name)
            torch.testing.assert_close(
                pred.pred_score, logits[name][i].softmax(0)
            )
            assert pred.gt_label == raw['data_samples'][i].gt_label
        torch.testing.assert_close(
            sample.pred_score, sample.members.cnn.pred_score
        )


@pytest.mark.parametrize(
    'members, error, match',
    [
        (
            [
                member('cnn'),
                member(
                    'vit', model=member_model('vit', head=dict(num_classes=5))
                ),
            ],
            ValueError,
            'same classes; class counts: cnn=10, vit=5',
        ),
        (
            [
                member('cnn'),
                member(
                    'vit',
                    model=member_model(
                        'vit', head=dict(type='MultiLabelLinearClsHead')
                    ),
                ),
            ],
            TypeError,
            "member 'vit': head MultiLabelLinearClsHead",
        ),
        ([member('cnn')], ValueError, 'at least two members'),
    ],
)
def test_bad_members_are_refused(members, error, match):
    with pytest.raises(error, match=match):
        build_pair(members)


def test_member_checkpoint_is_loaded_and_kept(tmp_path):
    source = build_pair().members['vit']
    torch.nn.init.normal_(source.head.layers.head.weight)
    path = tmp_path / 'vit.pth'
    torch.save({'state_dict': source.state_dict(), 'meta': {}}, path)
    pair = build_pair([member('cnn'), member('vit', checkpoint=str(path))])
    pair.init_weights()
    for key, value in source.state_dict().items():
        torch.testing.assert_close(
            pair.members['vit'].state_dict()[key], value
        )


@pytest.mark.parametrize('bad', [10, -1])
def test_labels_outside_the_classes_are_refused_with_the_image(bad):
    pair = build_pair()
    data = fake_batch(batch=4)
    data['data_samples'][2].set_gt_label(bad)
    data['data_samples'][2].set_metainfo(dict(img_path='digits/7/0042.png'))
    before = [p.detach().clone() for p in pair.parameters()]
    wrapper = OptimWrapper(torch.optim.SGD(pair.parameters(), lr=0.1))
    with pytest.raises(ValueError, match=r'digits/7/0042\.png.*\[' + str(bad)):
        pair.train_step(data, wrapper)
    # Refused before any update.
    assert all(torch.equal(a, b) for a, b in zip(before, pair.parameters()))


def test_unknown_tie_rule_is_refused_when_built():
    with pytest.raises(ValueError, match=r"tie must be one of .*'best'"):
        build_pair(tie='best')
