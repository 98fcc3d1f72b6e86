"""Atomic writes of result files."""

import json
import os
import os.path as osp
import tempfile


def write_text_atomic(text: str, filename: str) -> None:
    """Write ``text`` to a temporary sibling, then rename into place."""
    directory = osp.dirname(osp.abspath(filename))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix='.tmp-')
    try:
        with os.fdopen(fd, 'w') as f:
            f.write(text)
        os.replace(tmp, filename)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def dump_json_atomic(obj, filename: str) -> None:
    """Dump ``obj`` as indented JSON, atomically."""
    write_text_atomic(
        json.dumps(obj, indent=2, default=float) + '\n', filename
    )
