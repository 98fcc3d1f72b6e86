"""Atomic writes of result files."""

import json
import os
import os.path as osp
import tempfile


def fsync_dir(directory: str) -> None:
    """Flush a folder's entries (a rename in it) to disk, where supported."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def commit_file(tmp: str, filename: str) -> None:
    """Flush ``tmp`` to disk and rename it to ``filename`` in one step.

    Readers see either the old ``filename`` or the complete new one, also
    after a crash or a power loss, never a partial file.

    Args:
        tmp (str): A complete file in the same folder as ``filename``.
        filename (str): The final name.
    """
    with open(tmp, 'rb+') as f:
        os.fsync(f.fileno())
    os.replace(tmp, filename)
    fsync_dir(osp.dirname(osp.abspath(filename)))


def write_text_atomic(text: str, filename: str) -> None:
    """Write ``text`` to a temporary sibling, then rename into place."""
    directory = osp.dirname(osp.abspath(filename))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix='.tmp-')
    try:
        with os.fdopen(fd, 'w') as f:
            f.write(text)
        commit_file(tmp, filename)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def dump_json_atomic(obj, filename: str) -> None:
    """Dump ``obj`` as indented JSON, atomically."""
    write_text_atomic(
        json.dumps(obj, indent=2, default=float) + '\n', filename
    )
