"""The checkpoint files of a work dir: partial writes and what to resume.

Checkpoints are written as a hidden partial file (``.iter_8.pth.part``)
and renamed to their final name only once complete, so a final name always
holds a whole checkpoint. A resume takes the newest checkpoint that loads:
the one ``last_checkpoint`` names, else the ``iter_<n>.pth`` /
``epoch_<n>.pth`` files from the highest ``n`` down.
"""

import glob
import logging
import os
import os.path as osp
import re

from mmengine.logging import print_log

from bikd_mm.utils.checkpoint import (
    UnsafeCheckpointError,
    load_checkpoint_file,
)

PART_SUFFIX = '.part'
LAST_CHECKPOINT = 'last_checkpoint'
_NUMBERED = re.compile(r'^(?:iter|epoch)_(\d+)\.pth$')


def partial_name(filename: str) -> str:
    """The hidden name a checkpoint is written under until it is complete.

    Args:
        filename (str): The checkpoint's final file name (no folder).

    Returns:
        str: ``.<filename>.part``.
    """
    return f'.{filename}{PART_SUFFIX}'


def remove_partial_checkpoints(directory: str) -> list[str]:
    """Delete partial checkpoints left by an interrupted run.

    Args:
        directory (str): A checkpoint folder.

    Returns:
        list[str]: The removed files.
    """
    removed = sorted(
        glob.glob(osp.join(glob.escape(directory), f'.*.pth{PART_SUFFIX}'))
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
