"""Checksum lists as sha256sum writes them, against hashlib on the bytes."""

import hashlib
import os.path as osp

import pytest

from bikd_mm.utils.checksums import (
    read_sha256sums,
    sha256_file,
    verify_sha256sums,
    write_sha256sums,
)

from ..conftest import REPO

# The digest of b'abc' (FIPS 180-2, appendix B.1).
ABC = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'


def write_list(tmp_path, files: dict, sums: dict | None = None):
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    sums = sums or {n: hashlib.sha256(d).hexdigest() for n, d in files.items()}
    lines = [f'{d}  {n}' for n, d in sums.items()]
    path = tmp_path / 'SHA256SUMS'
    path.write_text('\n'.join(lines) + '\n')
    return str(path)


def test_digest_of_a_known_text(tmp_path):
    (tmp_path / 'abc').write_bytes(b'abc')
    assert sha256_file(str(tmp_path / 'abc'), chunk_size=2) == ABC


def test_matching_files_pass(tmp_path):
    path = write_list(tmp_path, {'a.pth': b'abc', 'b.pth': b'x' * 3000})
    checked = verify_sha256sums(path, ['a.pth'])
    assert checked == {'a.pth': str(tmp_path / 'a.pth')}
    assert set(verify_sha256sums(path)) == {'a.pth', 'b.pth'}
    assert read_sha256sums(path)['a.pth'] == ABC


def test_a_changed_file_is_named_with_both_digests(tmp_path):
    path = write_list(tmp_path, {'a.pth': b'abc'})
    (tmp_path / 'a.pth').write_bytes(b'abd')
    with pytest.raises(ValueError, match=r"a\.pth' does not match") as e:
        verify_sha256sums(path)
    assert ABC in str(e.value)
    assert hashlib.sha256(b'abd').hexdigest() in str(e.value)


def test_unlisted_missing_and_malformed(tmp_path):
    path = write_list(tmp_path, {'a.pth': b'abc'})
    with pytest.raises(ValueError, match="'c.pth' has no checksum"):
        verify_sha256sums(path, ['c.pth'])
    (tmp_path / 'a.pth').unlink()
    with pytest.raises(FileNotFoundError, match='a.pth'):
        verify_sha256sums(path)
    (tmp_path / 'SHA256SUMS').write_text(f'{ABC}  a.pth\nnot a checksum\n')
    with pytest.raises(ValueError, match='line 2'):
        read_sha256sums(str(tmp_path / 'SHA256SUMS'))


@pytest.mark.parametrize(
    'folder, names',
    [
        ('fashion_mnist_cls', {'cnn.pth', 'vit.pth'}),
        ('fashion_scenes_seg', {'cnn.pth', 'mit.pth'}),
    ],
)
def test_the_committed_demo_checkpoints_match_their_checksums(folder, names):
    folder = osp.join(REPO, 'checkpoints', 'demo', folder)
    checked = verify_sha256sums(osp.join(folder, 'SHA256SUMS'))
    assert set(checked) == names


def test_written_list_is_what_sha256sum_writes(tmp_path):
    import subprocess

    (tmp_path / 'b.pth').write_bytes(b'second')
    (tmp_path / 'a.pth').write_bytes(b'abc')
    path = str(tmp_path / 'SHA256SUMS')
    write_sha256sums(
        {n: sha256_file(str(tmp_path / n)) for n in ('b.pth', 'a.pth')}, path
    )
    expected = subprocess.run(
        ['sha256sum', 'a.pth', 'b.pth'],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert open(path).read() == expected
    assert read_sha256sums(path)['a.pth'] == ABC
    assert sorted(verify_sha256sums(path)) == ['a.pth', 'b.pth']
