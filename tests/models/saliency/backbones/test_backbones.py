"""Backbones: output shapes and the key layouts of public checkpoints.

The expected keys and shapes are written out here from the public
definitions (``SwinTransformer3D`` of the Video-Swin-Transformer release
with its Kinetics-400 settings, and the S3D of TASED-Net / ViNet), not
derived from the classes under test.
"""

import pytest
import torch

from bikd_mm.models.saliency import S3D, VideoSwinTransformer


def swin_release_keys(depths, dims=96, heads=(3, 6, 12, 24), window=(8, 7, 7)):
    """(key, shape) of a release SwinTransformer3D with patch_norm."""
    keys = [
        ('patch_embed.proj.weight', (dims, 3, 2, 4, 4)),
        ('patch_embed.proj.bias', (dims,)),
        ('patch_embed.norm.weight', (dims,)),
        ('patch_embed.norm.bias', (dims,)),
    ]
    table = (2 * window[0] - 1) * (2 * window[1] - 1) * (2 * window[2] - 1)
    tokens = window[0] * window[1] * window[2]
    for i, depth in enumerate(depths):
        c = dims * 2**i
        for j in range(depth):
            p = f'layers.{i}.blocks.{j}.'
            keys += [
                (p + 'norm1.weight', (c,)),
                (p + 'norm1.bias', (c,)),
                (p + 'attn.relative_position_bias_table', (table, heads[i])),
                (p + 'attn.relative_position_index', (tokens, tokens)),
                (p + 'attn.qkv.weight', (3 * c, c)),
                (p + 'attn.qkv.bias', (3 * c,)),
                (p + 'attn.proj.weight', (c, c)),
                (p + 'attn.proj.bias', (c,)),
                (p + 'norm2.weight', (c,)),
                (p + 'norm2.bias', (c,)),
                (p + 'mlp.fc1.weight', (4 * c, c)),
                (p + 'mlp.fc1.bias', (4 * c,)),
                (p + 'mlp.fc2.weight', (c, 4 * c)),
                (p + 'mlp.fc2.bias', (c,)),
            ]
        if i < len(depths) - 1:
            keys += [
                (f'layers.{i}.downsample.reduction.weight', (2 * c, 4 * c)),
                (f'layers.{i}.downsample.norm.weight', (4 * c,)),
                (f'layers.{i}.downsample.norm.bias', (4 * c,)),
            ]
    c = dims * 2 ** (len(depths) - 1)
    keys += [('norm.weight', (c,)), ('norm.bias', (c,))]
    return keys


def random_state(keys, prefix='', seed=0):
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in keys:
        if key.endswith(('relative_position_index', 'num_batches_tracked')):
            state[prefix + key] = torch.randint(0, 5, shape, generator=gen)
        else:
            state[prefix + key] = torch.randn(shape, generator=gen)
    return state


@pytest.mark.parametrize('arch,depths', [('tiny', (2, 2, 6, 2))])
@pytest.mark.parametrize('prefix', ['', 'backbone.'])
def test_video_swin_loads_release_layout(arch, depths, prefix):
    model = VideoSwinTransformer(arch=arch)
    keys = swin_release_keys(depths)
    assert set(model.state_dict()) == {k for k, _ in keys}
    state = random_state(keys, prefix)
    if prefix:
        # A release recognizer checkpoint also holds its head.
        state['cls_head.fc_cls.weight'] = torch.zeros(400, 768)
        state['cls_head.fc_cls.bias'] = torch.zeros(400)
    result = model.load_pretrained_state_dict(state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    loaded = model.state_dict()['layers.2.blocks.5.attn.qkv.weight']
    assert torch.equal(
        loaded, state[prefix + 'layers.2.blocks.5.attn.qkv.weight']
    )


def test_video_swin_small_key_count():
    model = VideoSwinTransformer(arch='small')
    expected = {k for k, _ in swin_release_keys((2, 2, 18, 2))}
    assert set(model.state_dict()) == expected
    shapes = dict(swin_release_keys((2, 2, 18, 2)))
    for key, value in model.state_dict().items():
        assert tuple(value.shape) == shapes[key], key


def test_video_swin_tiny_shapes_and_grad():
    model = VideoSwinTransformer(
        arch=dict(embed_dims=8, depths=(2, 2, 2, 2), num_heads=(1, 1, 2, 2)),
        window_size=(2, 3, 3),
    )
    x = torch.randn(2, 3, 4, 32, 48, requires_grad=True)
    feats = model(x)
    assert [tuple(f.shape) for f in feats] == [
        (2, 8, 2, 8, 12),
        (2, 16, 2, 4, 6),
        (2, 32, 2, 2, 3),
        (2, 64, 2, 1, 2),
    ]
    assert model.out_channels == [8, 16, 32, 64]
    sum(f.sum() for f in feats).backward()
    assert torch.isfinite(x.grad).all()


def test_video_swin_shifted_windows_mask_regions():
    # With windows smaller than the feature, shifted blocks must still be
    # translation-consistent: a clip rolled by a whole number of windows
    # gives rolled features (up to the masked borders, compared inside).
    torch.manual_seed(0)
    model = VideoSwinTransformer(
        arch=dict(embed_dims=8, depths=(2,), num_heads=(2,)),
        window_size=(1, 2, 2),
        out_indices=(0,),
    ).eval()
    x = torch.randn(1, 3, 2, 32, 32)
    out = model(x)[0]
    assert out.shape == (1, 8, 1, 8, 8)
    assert torch.isfinite(out).all()


def s3d_public_keys():
    """(key, shape) of the public S3D (TASED-Net / ViNet), without fc."""
    keys = []

    def bn(p, c):
        keys.extend(
            [
                (p + 'weight', (c,)),
                (p + 'bias', (c,)),
                (p + 'running_mean', (c,)),
                (p + 'running_var', (c,)),
                (p + 'num_batches_tracked', ()),
            ]
        )

    def basic(p, cin, cout):
        keys.append((p + 'conv.weight', (cout, cin, 1, 1, 1)))
        bn(p + 'bn.', cout)

    def sep(p, cin, cout, k):
        keys.append((p + 'conv_s.weight', (cout, cin, 1, k, k)))
        bn(p + 'bn_s.', cout)
        keys.append((p + 'conv_t.weight', (cout, cout, k, 1, 1)))
        bn(p + 'bn_t.', cout)

    sep('base.0.', 3, 64, 7)
    basic('base.2.', 64, 64)
    sep('base.3.', 64, 192, 3)
    mixed = [
        (5, 192, 64, 96, 128, 16, 32, 32),
        (6, 256, 128, 128, 192, 32, 96, 64),
        (8, 480, 192, 96, 208, 16, 48, 64),
        (9, 512, 160, 112, 224, 24, 64, 64),
        (10, 512, 128, 128, 256, 24, 64, 64),
        (11, 512, 112, 144, 288, 32, 64, 64),
        (12, 528, 256, 160, 320, 32, 128, 128),
        (14, 832, 256, 160, 320, 32, 128, 128),
        (15, 832, 384, 192, 384, 48, 128, 128),
    ]
    for i, cin, c0, b1, c1, b2, c2, c3 in mixed:
        p = f'base.{i}.'
        basic(p + 'branch0.0.', cin, c0)
        basic(p + 'branch1.0.', cin, b1)
        sep(p + 'branch1.1.', b1, c1, 3)
        basic(p + 'branch2.0.', cin, b2)
        sep(p + 'branch2.1.', b2, c2, 3)
        basic(p + 'branch3.1.', cin, c3)
    return keys


@pytest.mark.parametrize('prefix', ['', 'module.'])
def test_s3d_loads_public_layout(prefix):
    model = S3D()
    keys = s3d_public_keys()
    assert set(model.state_dict()) == {k for k, _ in keys}
    shapes = dict(keys)
    for key, value in model.state_dict().items():
        assert tuple(value.shape) == shapes[key], key
    state = random_state(keys, prefix)
    state[prefix + 'fc.0.weight'] = torch.zeros(400, 1024, 1, 1, 1)
    state[prefix + 'fc.0.bias'] = torch.zeros(400)
    result = model.load_pretrained_state_dict(state)
    assert not result.missing_keys and not result.unexpected_keys
    key = 'base.15.branch1.1.conv_t.weight'
    assert torch.equal(model.state_dict()[key], state[prefix + key])


def test_s3d_loads_weights_without_bn_counters():
    model = S3D()
    keys = [k for k in s3d_public_keys() if 'num_batches' not in k[0]]
    result = model.load_pretrained_state_dict(random_state(keys))
    assert not result.missing_keys and not result.unexpected_keys


def test_s3d_shapes_short_clip():
    model = S3D(width_ratio=0.125)
    feats = model(torch.randn(2, 3, 4, 32, 48))
    assert [tuple(f.shape) for f in feats] == [
        (2, 24, 2, 8, 12),
        (2, 60, 2, 4, 6),
        (2, 104, 1, 2, 3),
        (2, 128, 1, 1, 1),
    ]
    assert model.out_channels == [24, 60, 104, 128]
    assert S3D(out_indices=(1, 3)).out_channels == [480, 1024]


def test_s3d_frozen_stages():
    model = S3D(width_ratio=0.125, frozen_stages=1, norm_eval=True)
    model.train()
    assert not any(p.requires_grad for p in model.base[0].parameters())
    assert all(p.requires_grad for p in model.base[5].parameters())
    assert not model.base[5].branch0[0].bn.training


def test_pretrained_init_cfg_loads_checkpoint(tmp_path):
    small = dict(embed_dims=8, depths=(1, 1), num_heads=(1, 1))
    source = VideoSwinTransformer(arch=small, window_size=(2, 3, 3))
    path = str(tmp_path / 'swin.pth')
    state = {f'backbone.{k}': v for k, v in source.state_dict().items()}
    state['cls_head.fc_cls.weight'] = torch.zeros(2, 16)
    torch.save(dict(state_dict=state), path)
    target = VideoSwinTransformer(
        arch=small,
        window_size=(2, 3, 3),
        init_cfg=dict(type='Pretrained', checkpoint=path),
    )
    target.init_weights()
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value), key


def test_video_swin_arch_errors():
    with pytest.raises(ValueError):
        VideoSwinTransformer(arch='huge')
    with pytest.raises(ValueError):
        VideoSwinTransformer(arch=dict(embed_dims=8, depths=(1,)))
    with pytest.raises(ValueError):
        VideoSwinTransformer(
            arch=dict(embed_dims=8, depths=(1,), num_heads=(1,)),
            out_indices=(1,),
        )


def test_video_swin_window_attention_matches_naive_formula():
    """One unshifted block whose window is the whole feature, against
    attention written out token pair by token pair."""
    from bikd_mm.models.saliency.backbones.video_swin_transformer import (
        _SwinBlock3D,
    )

    torch.manual_seed(0)
    dim, heads, win = 4, 2, (2, 2, 3)
    block = _SwinBlock3D(dim, heads, win, (0, 0, 0), 2.0, True, None, 0, 0, 0)
    torch.nn.init.normal_(block.attn.relative_position_bias_table)
    x = torch.randn(1, *win, dim)
    out = block(x)

    tokens = [
        (d, h, w)
        for d in range(win[0])
        for h in range(win[1])
        for w in range(win[2])
    ]
    seq = block.norm1(x).reshape(len(tokens), dim)
    q, k, v = block.attn.qkv(seq).reshape(len(tokens), 3, heads, -1).unbind(1)
    table = block.attn.relative_position_bias_table
    attn_out = torch.zeros(len(tokens), heads, dim // heads)
    for i, a in enumerate(tokens):
        for head in range(heads):
            logits = []
            for j, b in enumerate(tokens):
                # Row-major index of the offset a - b in the bias table.
                off = [a[n] - b[n] + win[n] - 1 for n in range(3)]
                index = (
                    off[0] * (2 * win[1] - 1) * (2 * win[2] - 1)
                    + off[1] * (2 * win[2] - 1)
                    + off[2]
                )
                score = (q[i, head] * k[j, head]).sum() * (
                    dim // heads
                ) ** -0.5
                logits.append(score + table[index, head])
            weights = torch.stack(logits).softmax(0)
            attn_out[i, head] = (weights[:, None] * v[:, head]).sum(0)
    y = block.attn.proj(attn_out.reshape(len(tokens), dim))
    y = x.reshape(len(tokens), dim) + y
    y = y + block.mlp(block.norm2(y))
    assert torch.allclose(out.reshape(len(tokens), dim), y, atol=1e-5)
