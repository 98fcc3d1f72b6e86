"""BiKDSegmentor: building, losses against direct formulas, steps."""

import copy

import pytest
import torch
import torch.nn.functional as F
from mmengine.optim import OptimWrapperDict
from mmseg.registry import MODELS

import bikd_mm  # noqa: F401
from bikd_mm.engine.optimizers import BiKDOptimWrapperConstructor
from tests.models.member_params import assert_most_changed, snapshot
from tests.models.recorded_outputs import recorded_outputs

from .seg_fixtures import fake_batch, member, member_model


def build_pair(members=None, **kwargs):
    members = members or [member('cnn'), member('swin')]
    return MODELS.build(dict(type='BiKDSegmentor', members=members, **kwargs))


def pair_losses(pair, raw: dict | None = None, replace=None) -> tuple:
    """``pair.loss()`` on a raw batch (:func:`fake_batch` by default).

    Returns:
        tuple: The losses, each member's decode-head logits as the head
        returned them (``{name: [B, C, h, w]}``, in the graph of the
        losses) and the labels ``[B, H, W]``.
    """
    data = pair.data_preprocessor(raw or fake_batch(), True)
    heads = {name: m.decode_head for name, m in pair.members.items()}
    with recorded_outputs(heads, replace) as logits:
        losses = pair(**data, mode='loss')
    labels = torch.stack([s.gt_sem_seg.data[0] for s in data['data_samples']])
    return losses, logits, labels.long()


def at_labels(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Logits upsampled to the label size as mmseg resizes them
    (bilinear, ``align_corners=False`` as in the tiny members)."""
    return F.interpolate(
        logits, size=labels.shape[-2:], mode='bilinear', align_corners=False
    )


def kd_losses(losses: dict) -> dict:
    return {k: v for k, v in losses.items() if k.startswith('kd.')}


def reference_kd(
    logits: list,
    labels: torch.Tensor,
    granularity: str,
    ignore_index: int = 255,
) -> dict:
    """Per-direction KD terms written directly from the method."""
    valid = labels != ignore_index
    safe = labels.masked_fill(~valid, 0)
    ce = torch.stack(
        [F.cross_entropy(z, safe, reduction='none') for z in logits]
    )
    if granularity == 'image':
        per_image = torch.stack(
            [
                (c * valid).flatten(1).sum(1) / valid.flatten(1).sum(1)
                for c in ce
            ]
        )
        best = per_image.argmin(0)[:, None, None].expand_as(labels)
    else:
        best = ce.argmin(0)
    if len(logits) == 2:
        # Reference tie rule: the last member teaches on ties.
        scores = (
            ce
            if granularity == 'pixel'
            else per_image[:, :, None, None].expand(-1, -1, *labels.shape[1:])
        )
        best = torch.where(scores[0] < scores[1], 0, 1)
    n_valid = valid.sum()
    terms = {}
    for t, zt in enumerate(logits):
        pt = zt.softmax(1)
        for s, zs in enumerate(logits):
            if s == t:
                continue
            kl = (pt * (zt.log_softmax(1) - zs.log_softmax(1))).sum(1)
            mask = (best == t) & valid
            terms[(t, s)] = (kl * mask).sum() / n_valid
    return terms


@pytest.mark.parametrize('granularity', ['pixel', 'image'])
def test_kd_terms_match_direct_formula(granularity):
    """The KD terms of loss() and their gradients with respect to each
    member's logits are those of the method applied to the logits."""
    torch.manual_seed(0)
    pair = build_pair(granularity=granularity, kd_resolution='labels')
    losses, logits, labels = pair_losses(pair)
    assert (labels == 255).any() and tuple(labels.shape) == (2, 64, 64)
    assert logits['cnn'].shape == (2, 11, 16, 16)
    names = ['cnn', 'swin']
    heads = [logits[n] for n in names]
    ref = reference_kd(
        [at_labels(z, labels) for z in heads], labels, granularity
    )
    out = kd_losses(losses)
    assert set(out) == {'kd.loss_cnn_to_swin', 'kd.loss_swin_to_cnn'}
    taught = [bool(value > 0) for value in ref.values()]
    # Per pixel both members teach; per image (two images) at least one.
    assert all(taught) if granularity == 'pixel' else any(taught)
    for (t, s), value in ref.items():
        torch.testing.assert_close(
            out[f'kd.loss_{names[t]}_to_{names[s]}'], value
        )
    got = torch.autograd.grad(sum(out.values()), heads)
    want = torch.autograd.grad(sum(ref.values()), heads)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w)
    shares = losses['cnn.teach_share'] + losses['swin.teach_share']
    torch.testing.assert_close(shares, torch.tensor(1.0))


def test_three_members_best_teaches_all_others():
    torch.manual_seed(1)
    pair = build_pair(
        [member('a', 'cnn'), member('b', 'cnn'), member('c', 'swin')],
        kd_resolution='labels',
    )
    losses, logits, labels = pair_losses(
        pair, fake_batch(seed=1, ignore_fraction=0.0)
    )
    zs = [at_labels(logits[n], labels) for n in 'abc']
    ce = torch.stack(
        [F.cross_entropy(z, labels, reduction='none') for z in zs]
    )
    best = ce.argmin(0)
    assert len(best.unique()) == 3  # every member teaches somewhere
    for t, tn in enumerate('abc'):
        for s, sn in enumerate('abc'):
            if s == t:
                continue
            kl = (
                zs[t].softmax(1)
                * (zs[t].log_softmax(1) - zs[s].log_softmax(1))
            ).sum(1)
            want = (kl * (best == t)).sum() / labels.numel()
            torch.testing.assert_close(losses[f'kd.loss_{tn}_to_{sn}'], want)


def test_loss_keys_and_values():
    pair = build_pair()
    data = pair.data_preprocessor(fake_batch(), True)
    losses = pair(**data, mode='loss')
    for name in ('cnn', 'swin'):
        assert f'{name}.decode.loss_ce' in losses
        assert f'{name}.aux.loss_ce' in losses
        assert f'{name}.teach_share' in losses
    assert set(k for k in losses if k.startswith('kd.')) == {
        'kd.loss_cnn_to_swin',
        'kd.loss_swin_to_cnn',
    }
    # The member's own losses are exactly what its stock loss() returns.
    torch.manual_seed(0)
    cnn = pair.members['cnn']
    cnn.eval()  # no dropout / batch-stat updates: deterministic
    raw = fake_batch()
    m_inputs, m_samples = pair._member_batch(
        'cnn', raw['inputs'], raw['data_samples'], True
    )
    stock = cnn.loss(m_inputs, copy.deepcopy(m_samples))
    own = pair.adapters['cnn'].forward_train(m_inputs, m_samples).losses
    for key, value in stock.items():
        torch.testing.assert_close(own[key], value)


def test_train_step_updates_both_members_with_their_own_optimizers():
    pair = build_pair()
    cfg = dict(
        cnn=dict(
            type='OptimWrapper',
            optimizer=dict(type='SGD', lr=0.1, momentum=0.9),
        ),
        swin=dict(
            type='OptimWrapper',
            optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.01),
            paramwise_cfg=dict(custom_keys=dict(norm=dict(decay_mult=0.0))),
        ),
    )
    wrappers = BiKDOptimWrapperConstructor(cfg)(pair)
    assert isinstance(wrappers, OptimWrapperDict)
    assert type(wrappers['cnn'].optimizer).__name__ == 'SGD'
    assert type(wrappers['swin'].optimizer).__name__ == 'AdamW'
    before = snapshot(pair)
    log_vars = pair.train_step(fake_batch(), wrappers)
    assert torch.isfinite(log_vars['loss'])
    assert_most_changed(pair, before)


def test_predict_returns_every_member():
    pair = build_pair()
    pair.eval()
    data = pair.data_preprocessor(fake_batch(batch=2), False)
    with torch.no_grad():
        out = pair(**data, mode='predict')
    assert len(out) == 2
    for sample in out:
        for name in ('cnn', 'swin'):
            pred = sample.members.get(name).pred_sem_seg.data
            assert pred.shape == (1, 64, 64)
        torch.testing.assert_close(
            sample.pred_sem_seg.data, sample.members.cnn.pred_sem_seg.data
        )


def test_tensor_mode_gives_member_logits():
    pair = build_pair()
    pair.eval()
    data = pair.data_preprocessor(fake_batch(batch=1), False)
    out = pair(**data, mode='tensor')
    assert set(out) == {'cnn', 'swin'}
    assert out['cnn'].shape[:2] == (1, 11)


@pytest.mark.parametrize(
    'members, match',
    [
        ([member('cnn')], 'at least two members'),
        ([member('a', 'cnn'), member('a', 'swin')], 'duplicate member name'),
        (
            [
                member('cnn'),
                dict(
                    name='swin',
                    model=member_model(
                        'swin',
                        decode_head=dict(num_classes=5),
                        auxiliary_head=dict(num_classes=5),
                    ),
                ),
            ],
            'class counts',
        ),
        (
            [
                member('cnn'),
                dict(
                    name='swin',
                    model=member_model(
                        'swin', decode_head=dict(ignore_index=0)
                    ),
                ),
            ],
            'ignore_index',
        ),
        ([member('cnn'), dict(name='swin')], 'give "config"'),
        (
            [member('cnn'), dict(name='swin', config='missing/member.py')],
            'missing/member.py',
        ),
        (
            [member('cnn'), dict(name='bad-name', model=member_model('swin'))],
            'identifier',
        ),
    ],
)
def test_bad_members_are_refused(members, match):
    with pytest.raises((ValueError, FileNotFoundError), match=match):
        build_pair(members)


def test_member_checkpoint_is_loaded_and_kept(tmp_path):
    source = build_pair().members['swin']
    path = tmp_path / 'swin.pth'
    torch.save({'state_dict': source.state_dict(), 'meta': {}}, path)
    pair = build_pair([member('cnn'), member('swin', checkpoint=str(path))])
    pair.init_weights()
    for key, value in source.state_dict().items():
        torch.testing.assert_close(
            pair.members['swin'].state_dict()[key], value
        )


def test_checkpoint_of_another_architecture_lists_keys(tmp_path):
    other = build_pair().members['cnn']
    path = tmp_path / 'cnn.pth'
    torch.save({'state_dict': other.state_dict()}, path)
    with pytest.raises(RuntimeError, match='missing keys.*unexpected keys'):
        build_pair([member('cnn'), member('swin', checkpoint=str(path))])


@pytest.mark.parametrize('avg_non_ignore', [False, True])
def test_shared_decode_ce_equals_stock_loss(avg_non_ignore):
    ce = dict(type='CrossEntropyLoss', avg_non_ignore=avg_non_ignore)
    members = [
        dict(name=n, model=member_model(n, decode_head=dict(loss_decode=ce)))
        for n in ('cnn', 'swin')
    ]
    torch.manual_seed(0)
    shared = build_pair(members, kd_resolution='labels')
    plain = build_pair(members, kd_resolution='labels', share_decode_ce=False)
    plain.load_state_dict(shared.state_dict())
    assert shared._shared_ce_members() == {'cnn', 'swin'}
    assert plain._shared_ce_members() == set()
    # Eval mode: no dropout, fixed batch-norm statistics.
    shared.eval()
    plain.eval()
    raw = fake_batch()
    got = shared(**shared.data_preprocessor(raw, True), mode='loss')
    want = plain(**plain.data_preprocessor(raw, True), mode='loss')
    assert set(got) == set(want)
    for key in want:
        torch.testing.assert_close(got[key], want[key])
    grads = []
    for pair, losses in ((shared, got), (plain, want)):
        total = sum(v for k, v in losses.items() if 'loss' in k)
        head = pair.members['cnn'].decode_head.conv_seg.weight
        grads.append(torch.autograd.grad(total, head)[0])
    torch.testing.assert_close(grads[0], grads[1])


def test_decode_ce_is_not_shared_when_it_cannot_be():
    pair = build_pair(kd_resolution='logits')
    assert pair._shared_ce_members() == set()
    dice = dict(type='BCEDiceLoss')
    pair = build_pair(
        [
            member('cnn'),
            dict(
                name='swin',
                model=member_model('swin', decode_head=dict(loss_decode=dice)),
            ),
        ],
        kd_resolution='labels',
    )
    assert pair._shared_ce_members() == {'cnn'}


def _label_size_saved(pair, raw: dict, shape: tuple) -> int:
    """How many distinct tensors of label-size logit shape ``pair.loss()``
    saves for its backward pass."""
    storages = set()

    def pack(tensor):
        if tuple(tensor.shape) == shape:
            storages.add(tensor.untyped_storage().data_ptr())
        return tensor

    data = pair.data_preprocessor(raw, True)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        pair(**data, mode='loss')
    return len(storages)


def test_kd_at_label_resolution_saves_what_the_stock_loss_saves():
    """The memory bound of the KD term at label resolution: the pair's
    decode losses + KD keep as many label-size class tensors for backward
    as the members' stock decode losses alone (one per member)."""
    ce = dict(type='CrossEntropyLoss')
    members = [
        dict(
            name=n,
            # Without auxiliary heads, whose losses save their own.
            model=member_model(
                n, decode_head=dict(loss_decode=ce), auxiliary_head=None
            ),
        )
        for n in ('cnn', 'swin')
    ]
    pair = build_pair(members, kd_resolution='labels')
    # kd_weight=0: the members' stock losses only (loss_by_feat).
    stock = build_pair(members, kd_resolution='labels', kd_weight=0.0)
    raw = fake_batch()
    shape = (2, 11, 64, 64)
    losses = pair(**pair.data_preprocessor(raw, True), mode='loss')
    assert 'kd.loss_cnn_to_swin' in losses
    assert 'kd.loss_cnn_to_swin' not in stock(
        **stock.data_preprocessor(raw, True), mode='loss'
    )
    assert pair._shared_ce_members() == {'cnn', 'swin'}
    assert _label_size_saved(stock, raw, shape) == 2
    assert _label_size_saved(pair, raw, shape) == 2


THREE = [member('cnn'), member('swin'), member('cnn2', 'cnn')]


@pytest.mark.parametrize(
    'members, options, path',
    [
        (None, dict(kd_resolution='labels'), 'pair'),
        (None, dict(kd_resolution='logits', temperature=2.0), 'pair'),
        (None, dict(kd_resolution='labels', fixed_teacher='swin'), 'pair'),
        (None, dict(granularity='image'), 'n'),
        (None, dict(selection_loss='bce_dice'), 'n'),
        (None, dict(selection='all', detach_teacher=True), 'n'),
        (THREE, dict(kd_resolution='labels'), 'n'),
        (THREE, dict(granularity='image', temperature=2.0), 'n'),
    ],
)
def test_triton_kernel_gives_the_torch_losses(
    members, options, path, monkeypatch
):
    """kd_kernel='triton' (Triton's interpreter on CPU) gives the losses,
    accuracies, teach shares and gradients of the PyTorch path: the pair
    kernels for two members with a per-pixel rule, the N-member kernels
    for per-image, BCE + Dice and mutual selection and three members."""
    import bikd_mm.core.ce_masked_kl_triton as kernels
    import bikd_mm.core.ce_masked_kl_triton_n as n_kernels

    calls = []
    module, name = (
        (kernels, 'pair_ce_and_masked_kl')
        if path == 'pair'
        else (n_kernels, 'ce_and_masked_kl_n')
    )
    run = getattr(module, name)

    def counted(*args):
        calls.append(1)
        return run(*args)

    monkeypatch.setattr(module, name, counted)
    torch.manual_seed(0)
    fused = build_pair(copy.deepcopy(members), kd_kernel='triton', **options)
    plain = build_pair(copy.deepcopy(members), kd_kernel='torch', **options)
    plain.load_state_dict(fused.state_dict())
    fused.eval()
    plain.eval()
    raw = fake_batch(size=32)
    got = fused(**fused.data_preprocessor(raw, True), mode='loss')
    assert len(calls) == 1
    want = plain(**plain.data_preprocessor(raw, True), mode='loss')
    assert len(calls) == 1
    assert_same_losses_and_grads((fused, got), (plain, want))


def assert_same_losses_and_grads(first, second):
    """Two ``(pair, losses)`` with the same loss keys and values, and the
    same gradients of their total loss in every parameter."""
    got, want = first[1], second[1]
    assert set(got) == set(want)
    for key in want:
        torch.testing.assert_close(got[key], want[key])
    grads = []
    for pair, losses in (first, second):
        total = sum(v for k, v in losses.items() if 'loss' in k)
        params = [p for p in pair.parameters() if p.requires_grad]
        grads.append(torch.autograd.grad(total, params, allow_unused=True))
    for g, w in zip(*grads):
        if w is None:
            assert g is None
        else:
            # Float32 sums in another order: differences relative to the
            # tensor's largest gradient.
            scale = float(w.abs().max())
            torch.testing.assert_close(
                g, w, rtol=1e-4, atol=max(1e-6, 1e-4 * scale)
            )


@pytest.mark.parametrize(
    'members, options',
    [
        (None, dict(kd_resolution='labels')),
        (None, dict(granularity='image', temperature=2.0)),
        (None, dict(selection='all', detach_teacher=True)),
        (THREE, dict(normalize='masked')),
    ],
)
def test_reference_kernel_gives_the_chunked_losses(members, options):
    """kd_kernel='reference' (the plain formula of bikd_mm.core.kd_terms)
    gives the losses, teach shares and gradients of 'chunked'."""
    torch.manual_seed(0)
    ref = build_pair(copy.deepcopy(members), kd_kernel='reference', **options)
    chunked = build_pair(
        copy.deepcopy(members), kd_kernel='chunked', **options
    )
    chunked.load_state_dict(ref.state_dict())
    ref.eval()
    chunked.eval()
    raw = fake_batch(size=32)
    got = ref(**ref.data_preprocessor(raw, True), mode='loss')
    want = chunked(**chunked.data_preprocessor(raw, True), mode='loss')
    assert_same_losses_and_grads((ref, got), (chunked, want))


@pytest.mark.parametrize(
    'members, options, match',
    [
        (5, dict(), '2 to 4 members'),
        (2, dict(kd_kernel='cuda'), 'kd_kernel must be one of'),
    ],
)
def test_kd_kernel_is_checked_when_built(members, options, match):
    names = [member(f'm{i}', 'cnn') for i in range(5)]
    options.setdefault('kd_kernel', 'triton')
    with pytest.raises(ValueError, match=match):
        build_pair(names[:members], **options)
