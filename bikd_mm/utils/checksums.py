"""SHA-256 checksums of files, as ``sha256sum`` writes and checks them."""

import hashlib
import os.path as osp

from bikd_mm.utils.io import write_text_atomic


def sha256_file(path: str, chunk_size: int = 1 << 20) -> str:
    """The hex SHA-256 digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(chunk_size), b''):
            digest.update(chunk)
    return digest.hexdigest()


def read_sha256sums(path: str) -> dict:
    """Read a ``sha256sum`` list: ``{file name: hex digest}``.

    Args:
        path (str): A file of ``<64 hex digits>  <name>`` lines (``*`` before
            the name, binary mode, is accepted).

    Returns:
        dict: The digests by file name, as written in the list.

    Raises:
        ValueError: A line that is not a checksum line, named by number.
    """
    sums = {}
    with open(path) as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip('\n')
            if not line.strip():
                continue
            digest, _, name = line.partition(' ')
            name = name.lstrip(' *')
            if len(digest) != 64 or not name or _not_hex(digest):
                raise ValueError(
                    f"{path}, line {number}: expected '<sha256>  <file>', "
                    f'got {line!r}'
                )
            sums[name] = digest.lower()
    return sums


def write_sha256sums(sums: dict, path: str) -> None:
    """Write a ``sha256sum`` list that :func:`read_sha256sums` reads back.

    Args:
        sums (dict): ``{file name: hex digest}``; written sorted by name.
        path (str): The list; written atomically.
    """
    write_text_atomic(
        ''.join(f'{sums[name]}  {name}\n' for name in sorted(sums)), path
    )


def _not_hex(text: str) -> bool:
    return any(c not in '0123456789abcdefABCDEF' for c in text)


def verify_sha256sums(path: str, names: list | None = None) -> dict:
    """Check files against the ``sha256sum`` list beside them.

    Args:
        path (str): The list; the files it names are in its folder.
        names (list[str], optional): The files that must be listed and
            match. Defaults to every file in the list.

    Returns:
        dict: ``{name: absolute path}`` of the checked files.

    Raises:
        FileNotFoundError: The list or a file is missing.
        ValueError: A file is not in the list, or its bytes differ from its
            checksum (the error names the file and both digests).
    """
    sums = read_sha256sums(path)
    folder = osp.dirname(osp.abspath(path))
    checked = {}
    for name in sums if names is None else names:
        if name not in sums:
            raise ValueError(f"'{name}' has no checksum in {path}")
        file = osp.join(folder, name)
        if not osp.isfile(file):
            raise FileNotFoundError(f"'{file}', listed in {path}, is missing")
        actual = sha256_file(file)
        if actual != sums[name]:
            raise ValueError(
                f"'{file}' does not match its checksum in {path}: "
                f'expected {sums[name]}, got {actual} (a partial download '
                'or an edited file; restore it, e.g. git checkout -- '
                f"'{file}')"
            )
        checked[name] = file
    return checked
