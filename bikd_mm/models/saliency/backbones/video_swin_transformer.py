"""Video Swin Transformer backbone with the public release's key layout."""

from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from bikd_mm.registry import MODELS

from .pretrained import load_backbone_weights, select_backbone_keys


def _drop_path(x: Tensor, prob: float, training: bool) -> Tensor:
    if prob == 0.0 or not training:
        return x
    keep = 1.0 - prob
    mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1))
    return x * mask.bernoulli_(keep) / keep


class _DropPath(nn.Module):
    """Stochastic depth per sample."""

    def __init__(self, prob: float = 0.0) -> None:
        super().__init__()
        self.prob = prob

    def forward(self, x: Tensor) -> Tensor:
        return _drop_path(x, self.prob, self.training)


class _Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int, drop: float) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x: Tensor) -> Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


def _relative_index(window: Sequence[int], table: Sequence[int]) -> Tensor:
    """Index into a bias table of ``table`` window for each token pair of a
    (possibly smaller) ``window``."""
    grids = torch.meshgrid(*[torch.arange(w) for w in window], indexing='ij')
    coords = torch.stack(grids).flatten(1)
    rel = coords[:, :, None] - coords[:, None, :]
    rel = rel.permute(1, 2, 0) + torch.tensor([t - 1 for t in table])
    return (
        rel[..., 0] * (2 * table[1] - 1) * (2 * table[2] - 1)
        + rel[..., 1] * (2 * table[2] - 1)
        + rel[..., 2]
    )


class _WindowAttention3D(nn.Module):
    """Multi-head self-attention inside 3D windows, with a learned bias per
    relative position."""

    def __init__(
        self,
        dim: int,
        window_size: Sequence[int],
        num_heads: int,
        qkv_bias: bool,
        qk_scale: float | None,
        attn_drop: float,
        proj_drop: float,
    ) -> None:
        super().__init__()
        self.window_size = tuple(window_size)
        self.num_heads = num_heads
        self.scale = qk_scale or (dim // num_heads) ** -0.5
        size = 1
        for w in self.window_size:
            size *= 2 * w - 1
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros(size, num_heads)
        )
        # Persistent, as in the release, so its checkpoints load strictly.
        self.register_buffer(
            'relative_position_index',
            _relative_index(self.window_size, self.window_size),
        )
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def _bias(self, window: tuple) -> Tensor:
        if window == self.window_size:
            index = self.relative_position_index
        else:
            index = _relative_index(window, self.window_size).to(
                self.relative_position_bias_table.device
            )
        n = index.shape[0]
        bias = self.relative_position_bias_table[index.reshape(-1)]
        return bias.reshape(n, n, -1).permute(2, 0, 1)

    def forward(
        self, x: Tensor, window: tuple, mask: Tensor | None = None
    ) -> Tensor:
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        attn = (q * self.scale) @ k.transpose(-2, -1)
        attn = attn + self._bias(window).unsqueeze(0)
        if mask is not None:
            nw = mask.shape[0]
            attn = attn.view(b // nw, nw, self.num_heads, n, n)
            attn = attn + mask[None, :, None]
            attn = attn.view(b, self.num_heads, n, n)
        attn = self.attn_drop(attn.softmax(-1))
        x = (attn @ v).transpose(1, 2).reshape(b, n, c)
        return self.proj_drop(self.proj(x))


def _effective_window(
    size: Sequence[int], window: Sequence[int], shift: Sequence[int]
) -> tuple[tuple, tuple]:
    """A dimension no larger than its window is one window, unshifted."""
    win, sh = list(window), list(shift)
    for i, s in enumerate(size):
        if s <= window[i]:
            win[i], sh[i] = s, 0
    return tuple(win), tuple(sh)


def _partition(x: Tensor, window: tuple) -> Tensor:
    b, d, h, w, c = x.shape
    x = x.view(
        b,
        d // window[0],
        window[0],
        h // window[1],
        window[1],
        w // window[2],
        window[2],
        c,
    )
    return x.permute(0, 1, 3, 5, 2, 4, 6, 7).reshape(
        -1, window[0] * window[1] * window[2], c
    )


def _reverse(windows: Tensor, window: tuple, shape: tuple) -> Tensor:
    b, d, h, w = shape
    x = windows.view(
        b,
        d // window[0],
        h // window[1],
        w // window[2],
        window[0],
        window[1],
        window[2],
        -1,
    )
    return x.permute(0, 1, 4, 2, 5, 3, 6, 7).reshape(b, d, h, w, -1)


def _shift_mask(
    size: tuple, window: tuple, shift: tuple, device: torch.device
) -> Tensor:
    """Attention mask that keeps tokens of different regions of a shifted
    window from attending to each other."""
    label = torch.zeros((1, *size, 1), device=device)
    count = 0
    spans = [
        (slice(0, -w), slice(-w, -s), slice(-s, None))
        for w, s in zip(window, shift)
    ]
    for d in spans[0]:
        for h in spans[1]:
            for w in spans[2]:
                label[:, d, h, w] = count
                count += 1
    regions = _partition(label, window).squeeze(-1)
    diff = regions[:, None, :] - regions[:, :, None]
    return diff.masked_fill(diff != 0, -100.0)


class _SwinBlock3D(nn.Module):
    def __init__(
        self,
        dim: int,
        num_heads: int,
        window_size: tuple,
        shift_size: tuple,
        mlp_ratio: float,
        qkv_bias: bool,
        qk_scale: float | None,
        drop: float,
        attn_drop: float,
        drop_path: float,
    ) -> None:
        super().__init__()
        self.window_size = window_size
        self.shift_size = shift_size
        self.norm1 = nn.LayerNorm(dim)
        self.attn = _WindowAttention3D(
            dim, window_size, num_heads, qkv_bias, qk_scale, attn_drop, drop
        )
        self.drop_path = _DropPath(drop_path)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = _Mlp(dim, int(dim * mlp_ratio), drop)

    def _attend(self, x: Tensor) -> Tensor:
        b, d, h, w, c = x.shape
        window, shift = _effective_window(
            (d, h, w), self.window_size, self.shift_size
        )
        x = self.norm1(x)
        pad = [(-s) % win for s, win in zip((d, h, w), window)]
        x = F.pad(x, (0, 0, 0, pad[2], 0, pad[1], 0, pad[0]))
        padded = x.shape[1:4]
        mask = None
        if any(shift):
            x = torch.roll(x, [-s for s in shift], dims=(1, 2, 3))
            mask = _shift_mask(padded, window, shift, x.device)
        out = self.attn(_partition(x, window), window, mask)
        x = _reverse(out, window, (b, *padded))
        if any(shift):
            x = torch.roll(x, list(shift), dims=(1, 2, 3))
        return x[:, :d, :h, :w].contiguous()

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.drop_path(self._attend(x))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class _PatchMerging(nn.Module):
    """Halve height and width, double the channels."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = nn.LayerNorm(4 * dim)

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[2:4]
        if h % 2 or w % 2:
            x = F.pad(x, (0, 0, 0, w % 2, 0, h % 2))
        x = torch.cat(
            [
                x[:, :, 0::2, 0::2],
                x[:, :, 1::2, 0::2],
                x[:, :, 0::2, 1::2],
                x[:, :, 1::2, 1::2],
            ],
            -1,
        )
        return self.reduction(self.norm(x))


class _SwinStage(nn.Module):
    def __init__(
        self,
        dim: int,
        depth: int,
        num_heads: int,
        window_size: tuple,
        drop_paths: Sequence[float],
        downsample: bool,
        **block_kwargs,
    ) -> None:
        super().__init__()
        shift = tuple(w // 2 for w in window_size)
        self.blocks = nn.ModuleList(
            [
                _SwinBlock3D(
                    dim,
                    num_heads,
                    window_size,
                    (0, 0, 0) if i % 2 == 0 else shift,
                    drop_path=drop_paths[i],
                    **block_kwargs,
                )
                for i in range(depth)
            ]
        )
        self.downsample = _PatchMerging(dim) if downsample else None

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        """``x``: ``[B, D, H, W, C]``; returns the stage output and, with
        downsampling, the input of the next stage."""
        for block in self.blocks:
            x = block(x)
        down = self.downsample(x) if self.downsample is not None else None
        return x, down


class _PatchEmbed3D(nn.Module):
    def __init__(
        self, patch_size: tuple, in_channels: int, dim: int, norm: bool
    ) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Conv3d(
            in_channels, dim, kernel_size=patch_size, stride=patch_size
        )
        self.norm = nn.LayerNorm(dim) if norm else None

    def forward(self, x: Tensor) -> Tensor:
        d, h, w = x.shape[2:]
        pad = [(-s) % p for s, p in zip((d, h, w), self.patch_size)]
        if any(pad):
            x = F.pad(x, (0, pad[2], 0, pad[1], 0, pad[0]))
        x = self.proj(x)
        if self.norm is not None:
            x = self.norm(x.permute(0, 2, 3, 4, 1)).permute(0, 4, 1, 2, 3)
        return x


@MODELS.register_module()
class VideoSwinTransformer(BaseModule):
    """Video Swin Transformer (Liu et al., CVPR 2022) as a feature pyramid.

    Parameter names follow ``SwinTransformer3D`` of the public
    Video-Swin-Transformer release (``patch_embed.proj``,
    ``layers.{i}.blocks.{j}.attn.qkv``, ``layers.{i}.downsample.reduction``,
    ``norm``, ...), so its Kinetics-400 checkpoints load without renaming;
    their ``backbone.`` prefix is optional and their ``cls_head`` is
    skipped (:meth:`load_pretrained_state_dict`). TMFI-Net uses it with
    the features of every stage before its patch merging.

    Output: one ``[B, C_i, T', H_i, W_i]`` tensor per index of
    ``out_indices``, with ``C_i = embed_dims * 2**i``, ``T' = T /
    patch_size[0]`` and ``H_i = H / (patch_size[1] * 2**i)``; the last
    stage goes through the final ``norm``, as in the release.

    Args:
        arch (str | dict): ``'tiny'`` (depths 2-2-6-2), ``'small'``
            (2-2-18-2), ``'base'`` (2-2-18-2, 128 dims), or a dict with
            ``embed_dims``, ``depths`` and ``num_heads``. Defaults to
            ``'tiny'``.
        patch_size (Sequence[int]): Patch size ``(t, h, w)``. Defaults to
            ``(2, 4, 4)`` (the Kinetics-400 models).
        in_channels (int): Input channels. Defaults to 3.
        window_size (Sequence[int]): Attention window ``(t, h, w)``.
            Defaults to ``(8, 7, 7)``.
        mlp_ratio (float): MLP hidden size over embedding size.
            Defaults to 4.0.
        qkv_bias (bool): Bias in the query/key/value projection.
            Defaults to True.
        qk_scale (float, optional): Override of ``head_dim ** -0.5``.
        drop_rate (float): Dropout. Defaults to 0.0.
        attn_drop_rate (float): Attention dropout. Defaults to 0.0.
        drop_path_rate (float): Stochastic depth, linearly increasing over
            the blocks. Defaults to 0.1.
        patch_norm (bool): LayerNorm after the patch embedding (the
            release's Kinetics models use it). Defaults to True.
        out_indices (Sequence[int], optional): Stages to output.
            Defaults to all.
        frozen_stages (int): Stages to freeze (``0``: the patch
            embedding; ``k``: also the first ``k`` stages); ``-1`` freezes
            nothing. Defaults to -1.
        init_cfg (dict, optional): ``dict(type='Pretrained',
            checkpoint=...)`` loads a release checkpoint, with or without
            its ``backbone.`` prefix.
    """

    ARCHS = {
        'tiny': dict(
            embed_dims=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24)
        ),
        'small': dict(
            embed_dims=96, depths=(2, 2, 18, 2), num_heads=(3, 6, 12, 24)
        ),
        'base': dict(
            embed_dims=128, depths=(2, 2, 18, 2), num_heads=(4, 8, 16, 32)
        ),
    }

    def __init__(
        self,
        arch: str | dict = 'tiny',
        patch_size: Sequence[int] = (2, 4, 4),
        in_channels: int = 3,
        window_size: Sequence[int] = (8, 7, 7),
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        qk_scale: float | None = None,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.1,
        patch_norm: bool = True,
        out_indices: Sequence[int] | None = None,
        frozen_stages: int = -1,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        if isinstance(arch, str):
            if arch not in self.ARCHS:
                raise ValueError(
                    f'unknown arch {arch!r}; choose among {list(self.ARCHS)} '
                    'or give a dict'
                )
            arch = self.ARCHS[arch]
        missing = {'embed_dims', 'depths', 'num_heads'} - set(arch)
        if missing:
            raise ValueError(f'arch dict lacks {sorted(missing)}')
        dims = arch['embed_dims']
        depths = tuple(arch['depths'])
        heads = tuple(arch['num_heads'])
        if len(depths) != len(heads):
            raise ValueError('depths and num_heads must have one length')
        self.num_stages = len(depths)
        if out_indices is None:
            out_indices = tuple(range(self.num_stages))
        if any(not 0 <= i < self.num_stages for i in out_indices):
            raise ValueError(
                f'out_indices {tuple(out_indices)} out of range for '
                f'{self.num_stages} stages'
            )
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.embed_dims = dims
        self.num_features = [dims * 2**i for i in range(self.num_stages)]

        self.patch_embed = _PatchEmbed3D(
            tuple(patch_size), in_channels, dims, patch_norm
        )
        self.pos_drop = nn.Dropout(drop_rate)
        rates = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        self.layers = nn.ModuleList()
        for i in range(self.num_stages):
            start = sum(depths[:i])
            self.layers.append(
                _SwinStage(
                    self.num_features[i],
                    depths[i],
                    heads[i],
                    tuple(window_size),
                    rates[start : start + depths[i]],
                    downsample=i < self.num_stages - 1,
                    mlp_ratio=mlp_ratio,
                    qkv_bias=qkv_bias,
                    qk_scale=qk_scale,
                    drop=drop_rate,
                    attn_drop=attn_drop_rate,
                )
            )
        self.norm = nn.LayerNorm(self.num_features[-1])
        self._freeze_stages()

    @property
    def out_channels(self) -> list[int]:
        """Channels of each output."""
        return [self.num_features[i] for i in self.out_indices]

    def _freeze_stages(self) -> None:
        frozen = []
        if self.frozen_stages >= 0:
            frozen.append(self.patch_embed)
        frozen += list(self.layers[: max(self.frozen_stages, 0)])
        for module in frozen:
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> 'VideoSwinTransformer':
        super().train(mode)
        self._freeze_stages()
        return self

    def init_weights(self) -> None:
        """Load ``init_cfg``'s release checkpoint, or initialise."""
        if (
            self.init_cfg is not None
            and self.init_cfg.get('type') == 'Pretrained'
        ):
            load_backbone_weights(self, self.init_cfg, self._select)
            return
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=0.02)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.LayerNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        super().init_weights()

    def _select(self, state_dict: dict) -> dict:
        return select_backbone_keys(
            state_dict,
            self,
            prefixes=('backbone.', 'module.backbone.'),
            heads=('cls_head.',),
        )

    def load_pretrained_state_dict(
        self, state_dict: dict, strict: bool = True
    ):
        """Load a release state dict, with or without ``backbone.``.

        Keys of the classification head (``cls_head.``) are skipped.

        Args:
            state_dict (dict): Weights of a release checkpoint (its
                ``state_dict``) or of this backbone.
            strict (bool): Require every key to match. Defaults to True.

        Returns:
            NamedTuple: ``missing_keys`` and ``unexpected_keys``.
        """
        return self.load_state_dict(self._select(state_dict), strict=strict)

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        """Features of a clip.

        Args:
            x (Tensor): Clip ``[B, C, T, H, W]``.

        Returns:
            tuple[Tensor]: One ``[B, C_i, T', H_i, W_i]`` per out index.
        """
        x = self.pos_drop(self.patch_embed(x)).permute(0, 2, 3, 4, 1)
        outs = []
        last = self.num_stages - 1
        for i, stage in enumerate(self.layers):
            feat, down = stage(x)
            if i == last:
                feat = self.norm(feat)
            if i in self.out_indices:
                outs.append(feat.permute(0, 4, 1, 2, 3).contiguous())
            if down is None:
                break
            x = down
        return tuple(outs)
