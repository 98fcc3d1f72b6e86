"""Cache locations and atomic publication of generated datasets.

Only the standard library is used here, so the generators stay free of any
OpenMMLab import.
"""

import hashlib
import json
import os
import os.path as osp
import re
import shutil
import uuid
from collections.abc import Callable

#: Environment variable naming a folder that holds the generated datasets.
DATA_ROOT_ENV = 'BIKD_DATA_ROOT'

#: Name of the metadata file at the root of every generated dataset.
META_FILE = 'meta.json'


def default_root(
    name: str, version: int, options: dict, defaults: dict
) -> str:
    """Return the cache folder of a generated dataset.

    ``$BIKD_DATA_ROOT/<name>`` when the variable is set, else
    ``~/.cache/bikd_mm/data/<name>_v<version>``. Options that differ from
    the defaults add a short hash of themselves to the folder name, so a
    non-default dataset never lands in (or is mistaken for) the default one.

    Args:
        name (str): Dataset name, e.g. ``'digits_seg'``.
        version (int): Generator version.
        options (dict): Generation options.
        defaults (dict): Default generation options.

    Returns:
        str: Absolute path of the cache folder.
    """
    env_root = os.environ.get(DATA_ROOT_ENV)
    if env_root:
        folder = osp.join(env_root, name)
    else:
        folder = osp.join(
            osp.expanduser('~'),
            '.cache',
            'bikd_mm',
            'data',
            f'{name}_v{version}',
        )
    changed = {k: v for k, v in options.items() if defaults.get(k) != v}
    if changed:
        digest = hashlib.sha1(
            json.dumps(changed, sort_keys=True).encode()
        ).hexdigest()
        folder = f'{folder}-{digest[:8]}'
    return osp.abspath(folder)


def is_empty_dir(path: str) -> bool:
    """Whether ``path`` is an existing folder without entries."""
    return osp.isdir(path) and not os.listdir(path)


def read_meta(root: str) -> dict | None:
    """Return the parsed metadata of ``root``, or None when unreadable."""
    try:
        with open(osp.join(root, META_FILE), encoding='utf-8') as f:
            meta = json.load(f)
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def dump_meta(meta: dict, root: str) -> None:
    """Write ``meta`` to ``root`` as stable, readable JSON.

    Keys are sorted so equal metadata gives equal bytes; lists of integers
    stay on one line each so per-image records remain one line per image.
    """
    text = json.dumps(meta, indent=2, sort_keys=True)
    text = re.sub(
        r'\[\s+([-\d,\s]+?)\s+\]',
        lambda m: '[' + ' '.join(m.group(1).split()) + ']',
        text,
    )
    with open(
        osp.join(root, META_FILE), 'w', encoding='utf-8', newline='\n'
    ) as f:
        f.write(text + '\n')


def count_files(folder: str, suffix: str) -> int:
    """Count files ending with ``suffix`` directly inside ``folder``."""
    if not osp.isdir(folder):
        return -1
    return sum(
        1
        for entry in os.scandir(folder)
        if entry.is_file() and entry.name.endswith(suffix)
    )


def publish_atomically(
    root: str, build: Callable[[str], None], is_complete: Callable[[str], bool]
) -> str:
    """Build a folder privately, then move it to ``root`` in one rename.

    ``build`` fills a hidden sibling folder of ``root``; one ``os.replace``
    then makes it visible, so readers see either no dataset or a complete
    one. Concurrent callers each build their own copy and the first rename
    wins: later renames fail because ``root`` is no longer empty, and those
    callers discard their copy once ``is_complete(root)`` confirms the
    winner. A failed build removes its private folder; a killed process may
    leave a ``.<name>.tmp-*`` sibling behind, which nothing ever reads.

    Args:
        root (str): Final location. It may be missing or an empty folder.
        build (Callable[[str], None]): Fills the folder it is given.
        is_complete (Callable[[str], bool]): Checks a published folder.

    Returns:
        str: Absolute path of ``root``.
    """
    root = osp.abspath(root)
    parent, name = osp.split(root)
    os.makedirs(parent, exist_ok=True)
    # A private name per call (not ``mkdtemp``, whose 0o700 mode would be
    # published with the folder and hide a shared cache from other users).
    tmp = osp.join(parent, f'.{name}.tmp-{os.getpid()}-{uuid.uuid4().hex}')
    os.makedirs(tmp)
    try:
        build(tmp)
        try:
            os.replace(tmp, root)
        except OSError:
            if not is_complete(root):
                raise
    finally:
        if osp.exists(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    return root
