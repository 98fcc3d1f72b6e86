"""The published saliency models' manifest and seeded weights in its layout.

``shared/saliency/published_models.json`` lists, for TMFI-Net, ViNet-A
and ViNet-S as their authors' code builds them, every state-dict key with
its shape: the layout of the released checkpoints. ``shared/`` is the
folder beside the clone (``../shared``), or ``$BIKD_SHARED_DIR``.
"""

import json
import os
import os.path as osp
from collections import OrderedDict

import torch

REPO = osp.dirname(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
)
SHARED = os.environ.get(
    'BIKD_SHARED_DIR', osp.join(osp.dirname(REPO), 'shared')
)
MANIFEST = osp.join(SHARED, 'saliency', 'published_models.json')
FIXTURES = osp.join(osp.dirname(osp.abspath(__file__)), 'expected')

#: Per manifest entry: model type, stock input size and the weight gain
#: of :func:`seeded_release_state` that keeps its output maps away from
#: the sigmoid's saturation.
MODELS = {
    'tmfi_net': ('TMFINet', (224, 384), 2.0),
    'vinet_a': ('ViNetA', (256, 456), 1.5),
    'vinet_s': ('ViNetS', (224, 384), 2.0),
}


def load_manifest() -> dict:
    """The manifest, or a failure that says where it was looked for."""
    if not osp.isfile(MANIFEST):
        raise FileNotFoundError(
            f'published-models manifest not found at {MANIFEST}: the '
            'saliency tests need the shared/ folder beside the clone '
            '(../shared/saliency/published_models.json) or BIKD_SHARED_DIR '
            'naming it'
        )
    with open(MANIFEST) as f:
        return json.load(f)


def manifest_shapes(entry: dict) -> OrderedDict:
    """``{key: shape}`` of a manifest entry, in the manifest's order."""
    return OrderedDict((k, tuple(v)) for k, v in entry['state_dict'])


def seeded_release_state(
    entry: dict, buffers: dict, seed: int = 1, gain: float = 2.0
) -> OrderedDict:
    """Random weights with the keys and shapes of a manifest entry.

    Drawn in the manifest's key order from one seeded CPU generator, so
    they are the same wherever they are made: convolution and linear
    weights ``N(0, gain / fan_in)``, norm scales ``1 + N(0, 0.01)``, other
    vectors ``N(0, 0.01)``, BatchNorm running means ``N(0, 0.01)`` and
    variances ``U(0.5, 1.5)``. Integer tensors (``num_batches_tracked``,
    the Swin relative position index) are taken from ``buffers``, a
    model's own state dict.

    Args:
        entry (dict): A manifest entry (``entry['state_dict']`` lists
            ``[key, shape]`` pairs).
        buffers (dict): State dict of a model of that layout.
        seed (int): Generator seed. Defaults to 1.
        gain (float): Variance of the weights times their fan-in.
            Defaults to 2.0.

    Returns:
        OrderedDict: The weights, a bare state dict like the releases.
    """
    gen = torch.Generator().manual_seed(seed)
    state = OrderedDict()
    for key, shape in manifest_shapes(entry).items():
        own = buffers[key]
        if not own.is_floating_point():
            state[key] = own.clone()
        elif key.endswith('running_var'):
            state[key] = torch.rand(shape, generator=gen) + 0.5
        elif key.endswith('running_mean'):
            state[key] = torch.randn(shape, generator=gen) * 0.1
        elif len(shape) <= 1:
            scale = 1.0 if ('bn' in key or 'norm' in key) else 0.0
            if key.endswith('bias'):
                scale = 0.0
            state[key] = torch.randn(shape, generator=gen) * 0.1 + scale
        else:
            fan_in = 1
            for s in shape[1:]:
                fan_in *= s
            state[key] = (
                torch.randn(shape, generator=gen) * (gain / fan_in) ** 0.5
            )
    return state


def seeded_clip(size: tuple, frames: int = 32, seed: int = 2) -> torch.Tensor:
    """A preprocessed clip ``[1, 3, frames, H, W]`` of ``N(0, 1)`` values."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(1, 3, frames, *size, generator=gen)
