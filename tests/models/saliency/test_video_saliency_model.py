import pytest
import torch

from bikd_mm.models.saliency import (
    TMFIDecoder,
    VideoSaliencyDataPreprocessor,
    ViNetDecoder,
)
from bikd_mm.registry import MODELS

from .fixtures import fake_batch, s3d_member_model, swin_member_model


def _feats(shapes, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(2, *s, generator=gen) for s in shapes]


def _time_at_output(decoder, feats):
    seen = []
    conv = (
        decoder.conv_out
        if isinstance(decoder, ViNetDecoder)
        else (decoder.heads[0].conv_out)
    )
    handle = conv.register_forward_hook(lambda m, i, o: seen.append(o))
    decoder(feats, (32, 48))
    handle.remove()
    return seen[0].shape[2]


def test_vinet_decoder_reference_geometry():
    # S3D levels of a 32-frame clip (channels shrunk): T = 16, 16, 8, 4.
    shapes = [(4, 16, 8, 12), (6, 16, 4, 6), (8, 8, 2, 3), (10, 4, 1, 2)]
    decoder = ViNetDecoder(in_channels=(4, 6, 8, 10), head_channels=(4, 4, 4))
    assert _time_at_output(decoder, _feats(shapes)) == 1
    out = decoder(_feats(shapes), (32, 48))
    assert out.shape == (2, 1, 32, 48)
    assert ((out > 0) & (out < 1)).all()


def test_tmfi_decoder_reference_geometry():
    # Video Swin stages of a 32-frame clip: T' = 16 at every level.
    shapes = [(4, 16, 8, 12), (6, 16, 4, 6), (8, 16, 2, 3), (10, 16, 1, 2)]
    decoder = TMFIDecoder(
        in_channels=(4, 6, 8, 10), channels=4, head_channels=(4, 4, 4)
    )
    assert _time_at_output(decoder, _feats(shapes)) == 1
    assert decoder(_feats(shapes)).shape == (2, 1, 32, 48)


@pytest.mark.parametrize('cls', [TMFIDecoder, ViNetDecoder])
def test_decoder_softmax_and_logits(cls):
    shapes = [(4, 2, 8, 12), (6, 2, 4, 6), (8, 1, 2, 3), (10, 1, 1, 2)]
    kwargs = dict(in_channels=(4, 6, 8, 10), head_channels=(4, 4, 4))
    if cls is TMFIDecoder:
        kwargs['channels'] = 4
    soft = cls(activation='softmax', **kwargs)(_feats(shapes), (16, 24))
    assert soft.shape == (2, 1, 16, 24)
    assert torch.allclose(soft.flatten(1).sum(1), torch.ones(2))
    decoder = cls(activation=None, **kwargs)
    logits = decoder(_feats(shapes), (16, 24))
    decoder.activation = 'sigmoid'
    assert torch.allclose(decoder(_feats(shapes), (16, 24)), logits.sigmoid())
    with pytest.raises(ValueError):
        cls(activation='relu', **kwargs)


def test_data_preprocessor_normalises_and_resizes():
    pre = VideoSaliencyDataPreprocessor(
        mean=(10.0, 20.0, 30.0), std=(2.0, 2.0, 2.0), size=(16, 24)
    )
    batch = fake_batch()
    out = pre(batch)
    assert out['inputs'].shape == (2, 3, 4, 16, 24)
    plain = VideoSaliencyDataPreprocessor(
        mean=(10.0, 20.0, 30.0), std=(2.0, 2.0, 2.0)
    )(batch)
    clip = batch['inputs'][0].float()
    expected = (clip[:, 1] - 20.0) / 2.0
    assert torch.allclose(plain['inputs'][0, 1], expected)
    assert (
        out['data_samples'] is batch['data_samples']
        or len(out['data_samples']) == 2
    )
    with pytest.raises(ValueError):
        VideoSaliencyDataPreprocessor(mean=(0, 0, 0), std=None)


@pytest.mark.parametrize('factory', [swin_member_model, s3d_member_model])
def test_model_modes(factory):
    torch.manual_seed(0)
    model = MODELS.build(factory())
    data = model.data_preprocessor(fake_batch(), True)
    maps = model(data['inputs'], mode='tensor')
    size = tuple(data['inputs'].shape[-2:])
    assert maps.shape == (2, 1, *size)
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss_kld_cc'}
    assert torch.isfinite(losses['loss_kld_cc'])
    losses['loss_kld_cc'].backward()
    grads = [p.grad for p in model.backbone.parameters()]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)
    preds = model(
        **model.data_preprocessor(fake_batch(), False), mode='predict'
    )
    assert len(preds) == 2
    assert preds[0]['pred_saliency'].shape == (24, 40)
    assert preds[0]['video'] == 'v0' and 'gt_fixation' in preds[0]


def test_model_loss_matches_loss_module():
    torch.manual_seed(0)
    model = MODELS.build(
        swin_member_model(
            loss=[dict(type='SaliencyKLDLoss'), dict(type='SaliencyCCLoss')]
        )
    )
    data = model.data_preprocessor(fake_batch(gt_size=(32, 48)), True)
    maps = model(data['inputs'])
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss_kld', 'loss_cc'}
    gt = torch.stack([s['gt_saliency'] for s in data['data_samples']])
    expected = MODELS.build(dict(type='SaliencyKLDLoss'))(maps[:, 0], gt)
    assert torch.allclose(losses['loss_kld'], expected)


def test_model_mixed_gt_sizes_and_unlabelled_predict():
    torch.manual_seed(0)
    model = MODELS.build(s3d_member_model())
    batch = fake_batch()
    other = fake_batch(gt_size=(20, 30), seed=1)['data_samples'][1]
    batch['data_samples'][1] = other
    losses = model(**model.data_preprocessor(batch, True), mode='loss')
    assert torch.isfinite(losses['loss_kld_cc'])
    preds = model(
        **model.data_preprocessor(fake_batch(gt_size=None), False),
        mode='predict',
    )
    assert preds[0]['pred_saliency'].shape == (32, 48)
    with pytest.raises(KeyError):
        model(
            **model.data_preprocessor(fake_batch(gt_size=None), True),
            mode='loss',
        )
