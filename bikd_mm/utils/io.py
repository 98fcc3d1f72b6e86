"""Atomic writes of result files."""

import contextlib
import json
import os
import os.path as osp
import shutil
import tempfile
from collections.abc import Iterator


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


@contextlib.contextmanager
def atomic_path(filename: str, suffix: str = '') -> Iterator[str]:
    """A temporary sibling of ``filename`` to write; committed on success.

    The caller writes the whole file to the yielded path. When the block
    ends normally the file is committed into place (:func:`commit_file`);
    when it raises, the temporary file is removed and ``filename`` is left
    as it was.

    Args:
        filename (str): The final file; its folder is created if needed.
        suffix (str): Suffix of the temporary name (some writers choose
            the format by it, e.g. ``'.png'``).

    Yields:
        str: The temporary path.
    """
    directory = osp.dirname(osp.abspath(filename))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix='.tmp-', suffix=suffix)
    os.close(fd)
    try:
        yield tmp
        commit_file(tmp, filename)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def write_text_atomic(text: str, filename: str) -> None:
    """Write ``text`` to a temporary sibling, then rename into place."""
    with atomic_path(filename) as tmp, open(tmp, 'w') as f:
        f.write(text)


def dump_json_atomic(obj, filename: str) -> None:
    """Dump ``obj`` as indented JSON, atomically."""
    write_text_atomic(
        json.dumps(obj, indent=2, default=float) + '\n', filename
    )


def copy_atomic(src: str, filename: str) -> None:
    """Copy ``src`` to a temporary sibling of ``filename``, then rename.

    Skipped when ``filename`` already holds the same bytes.
    """
    if osp.isfile(filename) and _same_bytes(src, filename):
        return
    with atomic_path(filename) as tmp:
        shutil.copyfile(src, tmp)


def _same_bytes(a: str, b: str, chunk: int = 1 << 20) -> bool:
    if osp.getsize(a) != osp.getsize(b):
        return False
    with open(a, 'rb') as fa, open(b, 'rb') as fb:
        while True:
            x, y = fa.read(chunk), fb.read(chunk)
            if x != y:
                return False
            if not x:
                return True
