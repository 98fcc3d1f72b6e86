"""The checkpoint files of a work dir: partial writes and what to resume.

Checkpoints are written as a hidden partial file, unique to its writer
(``.iter_8.pth.<pid>-<random>.part``), and renamed to their final name
only once complete, so a final name always holds a whole checkpoint. A
resume takes the newest checkpoint that loads: the one
``last_checkpoint`` names, else the ``iter_<n>.pth`` / ``epoch_<n>.pth``
files from the highest ``n`` down; it is refused, saying what the file
holds, when it is not a training checkpoint of the same members
(:func:`check_resumable`).
"""

import glob
import logging
import os
import os.path as osp
import re
import secrets

from mmengine.logging import print_log

from bikd_mm.utils.checkpoint import (
    UnsafeCheckpointError,
    extract_state_dict,
    load_checkpoint_file,
    match_state_dict,
)
from bikd_mm.utils.export import MEMBER_PREFIX, member_names_in

PART_SUFFIX = '.part'
LAST_CHECKPOINT = 'last_checkpoint'
_NUMBERED = re.compile(r'^(?:iter|epoch)_(\d+)\.pth$')


def partial_name(filename: str) -> str:
    """The hidden name a checkpoint is written under until it is complete.

    The name is unique to the writer (its process id and a random part),
    so two processes saving the same checkpoint never share, rename or
    delete each other's partial file.

    Args:
        filename (str): The checkpoint's final file name (no folder).

    Returns:
        str: ``.<filename>.<pid>-<random>.part``.
    """
    return f'.{filename}.{os.getpid()}-{secrets.token_hex(4)}{PART_SUFFIX}'


def remove_partial_checkpoints(directory: str) -> list[str]:
    """Delete partial checkpoints left by an interrupted run.

    Args:
        directory (str): A checkpoint folder.

    Returns:
        list[str]: The removed files.
    """
    removed = sorted(
        glob.glob(osp.join(glob.escape(directory), f'.*.pth*{PART_SUFFIX}'))
    )
    for path in removed:
        os.remove(path)
        print_log(
            f'removed the partial checkpoint {path} of an interrupted run',
            logger='current',
            level=logging.WARNING,
        )
    return removed


def _named_by_last_checkpoint(work_dir: str) -> str | None:
    try:
        with open(osp.join(work_dir, LAST_CHECKPOINT)) as f:
            named = f.read().strip()
    except OSError:
        return None
    return named or None


def resume_candidates(work_dir: str) -> list[str]:
    """Checkpoints a resume may start from, newest first.

    Args:
        work_dir (str): The run's work dir.

    Returns:
        list[str]: The file ``last_checkpoint`` names (even if it is
        missing), then the numbered checkpoints of the work dir and of the
        folder of that file, highest number first.
    """
    named = _named_by_last_checkpoint(work_dir)
    folders = {osp.abspath(work_dir)}
    if named is not None:
        folders.add(osp.dirname(osp.abspath(named)))
    numbered = []
    for folder in folders:
        for path in glob.glob(osp.join(glob.escape(folder), '*.pth')):
            match = _NUMBERED.match(osp.basename(path))
            if match:
                numbered.append((int(match.group(1)), path))
    ordered = [p for _, p in sorted(numbered, reverse=True)]
    if named is not None:
        ordered = [named] + [
            p for p in ordered if osp.abspath(p) != osp.abspath(named)
        ]
    return ordered


def find_resumable_checkpoint(
    work_dir: str, allow_unsafe: bool | None = None
) -> tuple[str, dict] | None:
    """Load the newest complete checkpoint of ``work_dir``.

    A candidate that is missing, unreadable or not a training checkpoint
    (no ``meta`` or ``state_dict``) is skipped with a warning. A file that
    only full unpickling could load is never skipped silently: the
    :class:`UnsafeCheckpointError` is raised.

    Args:
        work_dir (str): The run's work dir.
        allow_unsafe (bool, optional): See
            :func:`bikd_mm.utils.checkpoint.load_checkpoint_file`.

    Returns:
        tuple[str, dict] | None: The file and its content, or None when
        the work dir holds no checkpoint at all.

    Raises:
        RuntimeError: If there are candidates but none of them loads.
    """
    candidates = resume_candidates(work_dir)
    skipped = []
    for path in candidates:
        try:
            checkpoint = load_checkpoint_file(path, allow_unsafe, 'resume')
        except UnsafeCheckpointError:
            raise
        except (RuntimeError, FileNotFoundError) as err:
            problem = str(err)
        else:
            if (
                isinstance(checkpoint, dict)
                and isinstance(checkpoint.get('meta'), dict)
                and 'state_dict' in checkpoint
            ):
                return path, checkpoint
            problem = 'not a training checkpoint (no meta or state_dict)'
        skipped.append(f'{path}: {problem}')
        print_log(
            f'cannot resume from {path}, trying an older checkpoint: '
            f'{problem}',
            logger='current',
            level=logging.WARNING,
        )
    if skipped:
        raise RuntimeError(
            f'resume: no complete checkpoint in {work_dir}; skipped '
            + '; '.join(skipped)
            + '. Remove these files to start from the beginning.'
        )
    return None


_ACTIONS = (
    'To start a new run from the weights of a pair checkpoint, set '
    'load_from to it without resume (weights only, members matched by '
    "name); to start a member from a single model's checkpoint, give it as "
    "that member's checkpoint (model.members[i].checkpoint)."
)


def describe_checkpoint(checkpoint) -> tuple[str, list[str], bool]:
    """What a loaded checkpoint holds.

    Args:
        checkpoint: A loaded checkpoint file.

    Returns:
        tuple: A description (``'a pair training checkpoint with members
        ['cnn', 'swin'] (in this order)'``, ``'a single-model training
        checkpoint ...'``, ``'a member exported from a pair ...'``, ...),
        the pair member names it holds in order (empty if none) and
        whether it holds the training state a resume needs (``meta`` with
        the iteration, ``message_hub``).
    """
    if not isinstance(checkpoint, dict):
        return f'not a checkpoint (a {type(checkpoint).__name__})', [], False
    try:
        state = extract_state_dict(checkpoint)
    except RuntimeError:
        return 'not a model checkpoint (no state dict)', [], False
    names = member_names_in(state)
    meta = checkpoint.get('meta')
    training = (
        isinstance(meta, dict)
        and 'iter' in meta
        and 'epoch' in meta
        and 'message_hub' in checkpoint
        and 'state_dict' in checkpoint
    )
    if isinstance(meta, dict) and meta.get('bikd_member'):
        return (
            f'a member exported from a pair (member '
            f'{meta["bikd_member"]!r} of {meta.get("bikd_source", "?")}), '
            'model weights only',
            [],
            False,
        )
    if names:
        if training:
            return (
                f'a pair training checkpoint with members {names} (in this '
                'order)',
                names,
                True,
            )
        return (
            f'the weights of a pair with members {names}, without the '
            'training state (meta, message_hub)',
            names,
            False,
        )
    if training:
        return (
            'a single-model training checkpoint (a run of one model, not a '
            'Bi-KD pair)',
            [],
            True,
        )
    return (
        'the weights of a single model (a member checkpoint), without '
        'training state',
        [],
        False,
    )


def _member_difference(held: list, declared: list) -> str:
    gone = [n for n in held if n not in declared]
    new = [n for n in declared if n not in held]
    parts = []
    if gone:
        parts.append(f'{gone} not in the config')
    if new:
        parts.append(f'{new} not in the checkpoint')
    if not parts:
        parts.append('the same members in another order')
    return ', '.join(parts)


def check_resumable(
    filename: str, checkpoint, names: list, model_state: dict
) -> None:
    """Refuse to resume a pair from a checkpoint of another run.

    A resume continues the run that wrote ``filename``: the checkpoint
    must be a pair training checkpoint with the config's members, in the
    same order (the order decides ties and which member stock metrics
    report), each with exactly the model's tensors, and an optimizer and
    schedulers state per member.

    Args:
        filename (str): The checkpoint, for the message.
        checkpoint: Its content.
        names (list[str]): The members the config declares, in order.
        model_state (dict): The pair's state dict.

    Raises:
        RuntimeError: Saying what the checkpoint holds, against what the
            config declares, and what to do.
    """
    kind, held, training = describe_checkpoint(checkpoint)
    if not held or not training:
        raise RuntimeError(
            f'resume: {filename} is {kind}, not a training checkpoint of a '
            f'Bi-KD pair; the config declares the members {names}. A '
            f'resume continues the run that wrote the checkpoint. {_ACTIONS}'
        )
    if held != names:
        raise RuntimeError(
            f'resume: {filename} is {kind}; the config declares {names} '
            f'({_member_difference(held, names)}). A resume needs the '
            'same members in the same order (the order decides ties and '
            'which member stock metrics report): restore them, or start a '
            f'new run. {_ACTIONS}'
        )
    for key in ('optimizer', 'param_schedulers'):
        part = checkpoint.get(key)
        if isinstance(part, dict) and sorted(part) != sorted(names):
            raise RuntimeError(
                f'resume: {filename}: its {key} state is for {list(part)}, '
                f'the members are {names}. {_ACTIONS}'
            )
    state = extract_state_dict(checkpoint)
    for name in names:
        prefix = f'{MEMBER_PREFIX}{name}.'
        match = match_state_dict(
            {k: v for k, v in model_state.items() if k.startswith(prefix)},
            {k: v for k, v in state.items() if k.startswith(prefix)},
        )
        if not match.exact:
            raise RuntimeError(
                f'resume: member {name!r} of {filename} does not match the '
                f"config's model {name!r} (its architecture changed since "
                f'the checkpoint was written?): {match.counts()}; '
                f'{match.details()}. {_ACTIONS}'
            )


def check_load_from(
    filename: str,
    checkpoint,
    names: list,
    model_state: dict,
    min_loaded: float,
) -> str:
    """Refuse a ``load_from`` file that gives a member few of its tensors.

    Args:
        filename (str): The file, for the message.
        checkpoint: Its content.
        names (list[str]): The pair's members.
        model_state (dict): The pair's state dict.
        min_loaded (float): The least share of each member's tensors the
            file must provide (``load_from_min_loaded``).

    Returns:
        str: The per-member report, ``"cnn: loaded 10 of 10 tensors; ..."``.

    Raises:
        RuntimeError: Saying what the file holds and which members get
            less than ``min_loaded`` of their tensors.
    """
    kind, held, _ = describe_checkpoint(checkpoint)
    state = extract_state_dict(checkpoint)
    matches = {}
    for name in names:
        prefix = f'{MEMBER_PREFIX}{name}.'
        matches[name] = match_state_dict(
            {k: v for k, v in model_state.items() if k.startswith(prefix)},
            {k: v for k, v in state.items() if k.startswith(prefix)},
        )
    report = '; '.join(f'{n}: {m.counts()}' for n, m in matches.items())
    low = [n for n, m in matches.items() if m.share < min_loaded]
    if low:
        hint = (
            f'Members are matched by name; it holds {held}.'
            if held
            else "To start a member from a single model's checkpoint, give "
            "it as that member's checkpoint (model.members[i].checkpoint)."
        )
        raise RuntimeError(
            f'load_from: {filename} is {kind}; members {low} get less than '
            f'load_from_min_loaded={min_loaded:g} of their tensors '
            f'({report}). {hint} Set load_from_min_loaded lower to accept '
            'it.'
        )
    return report
