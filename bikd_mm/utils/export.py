"""Export one member of a Bi-KD checkpoint as a plain model checkpoint."""

from collections import OrderedDict

from bikd_mm.utils.checkpoint import (
    extract_state_dict,
    load_checkpoint_file,
    save_atomic,
)

MEMBER_PREFIX = 'members.'


def member_names_in(state_dict: dict) -> list[str]:
    """Member names found in a Bi-KD state dict, in order of appearance."""
    names = []
    for key in state_dict:
        if key.startswith(MEMBER_PREFIX):
            name = key[len(MEMBER_PREFIX) :].split('.', 1)[0]
            if name not in names:
                names.append(name)
    return names


def export_member(
    pair_checkpoint: str,
    member: str,
    out: str,
    allow_unsafe: bool | None = None,
) -> dict:
    """Write member ``member`` of ``pair_checkpoint`` as a stock checkpoint.

    The output holds ``state_dict`` (the member's own keys, as the stock
    model names them) and ``meta``, so ``mmseg.apis.init_model`` and
    ``mmpretrain.apis.get_model`` load it directly. It is written
    atomically: an interrupted export never leaves a partial ``out``.

    Args:
        pair_checkpoint (str): Checkpoint of a Bi-KD model (path or URL).
        member (str): Member name.
        out (str): Output file.
        allow_unsafe (bool, optional): See
            :func:`bikd_mm.utils.checkpoint.load_checkpoint_file`.

    Returns:
        dict: The written checkpoint.

    Raises:
        KeyError: If the checkpoint has no member of that name, listing the
            members it has.
    """
    checkpoint = load_checkpoint_file(
        pair_checkpoint, allow_unsafe, owner='export'
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
    member_state = OrderedDict(
        (k[len(prefix) :], v) for k, v in state.items() if k.startswith(prefix)
    )
    meta = (
        dict(checkpoint.get('meta', {}) or {})
        if isinstance(checkpoint, dict)
        else {}
    )
    meta = {
        k: v
        for k, v in meta.items()
        if k
        in (
            'dataset_meta',
            'epoch',
            'iter',
            'seed',
            'mmengine_version',
            'time',
        )
    }
    meta.update(bikd_member=member, bikd_source=str(pair_checkpoint))
    result = dict(state_dict=member_state, meta=meta)
    save_atomic(result, out)
    return result
