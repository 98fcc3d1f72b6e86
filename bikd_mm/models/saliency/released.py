"""Checkpoints in the layout of the published saliency models' releases.

The releases of TMFI-Net, ViNet-A and ViNet-S are bare state dicts (no
``state_dict`` / ``meta`` wrapper) whose keys are the model's own:
``backbone.*``, ``neck.*`` (ViNet-A) and ``decoder.*``. :class:`TMFINet`,
:class:`ViNetA` and :class:`ViNetS` have exactly those keys, so no key
conversion is needed in either direction: a member of a Bi-KD pair loads a
release through its ``checkpoint=``, and :func:`export_released` writes a
trained member back as a file the authors' code loads with
``model.load_state_dict(torch.load(path))``.
"""

from collections import OrderedDict

from bikd_mm.utils.checkpoint import (
    extract_state_dict,
    load_checkpoint_file,
    save_atomic,
)
from bikd_mm.utils.export import MEMBER_PREFIX, member_names_in


def export_released(
    pair_checkpoint: str,
    member: str,
    out: str,
    allow_unsafe: bool | None = None,
) -> OrderedDict:
    """Write member ``member`` of a Bi-KD checkpoint as a bare state dict.

    The file is written atomically (an interrupted export leaves no
    partial ``out``).

    Args:
        pair_checkpoint (str): Checkpoint of a :class:`BiKDSaliency` run
            (path or URL).
        member (str): Member name, e.g. ``'tmfi_net'``.
        out (str): Output file.
        allow_unsafe (bool, optional): See
            :func:`bikd_mm.utils.checkpoint.load_checkpoint_file`.

    Returns:
        OrderedDict: The written state dict.

    Raises:
        KeyError: If the checkpoint holds no Bi-KD members, or none named
            ``member`` (the message lists those it has).
    """
    checkpoint = load_checkpoint_file(
        pair_checkpoint, allow_unsafe, owner='export_released'
    )
    state = extract_state_dict(checkpoint)
    names = member_names_in(state)
    if not names:
        raise KeyError(
            f'{pair_checkpoint} is not a Bi-KD checkpoint: no '
            f'"{MEMBER_PREFIX}<name>." keys'
        )
    if member not in names:
        raise KeyError(
            f'no member {member!r} in {pair_checkpoint}; members: {names}'
        )
    prefix = f'{MEMBER_PREFIX}{member}.'
    released = OrderedDict(
        (k[len(prefix) :], v) for k, v in state.items() if k.startswith(prefix)
    )
    save_atomic(released, out)
    return released
