"""One live training run per work dir.

Two runs writing the same work dir would overwrite each other's
checkpoints and ``last_checkpoint``, and one's resume would delete the
other's partial files. A run therefore holds an exclusive ``flock``
on ``<work_dir>/.bikd_run.lock`` (which also records its process id) from
its start until it has trained (or tested). The operating system releases
the lock when the process ends, however it ends, so a killed run leaves no
stale lock: the file may remain, but only a live holder's lock counts.
"""

import os
import os.path as osp

try:
    import fcntl
except ImportError:  # not on POSIX: no lock
    fcntl = None

LOCK_FILE = '.bikd_run.lock'


class WorkDirInUseError(RuntimeError):
    """Another live run holds the work dir."""


# {lock file (real path): [file descriptor, holders]} of this process.
_HELD: dict = {}


class WorkDirLock:
    """An exclusive lock on a work dir, held by a live process.

    Runners of one process share it (each holds a count); another process
    is refused while any of them holds it.

    Args:
        work_dir (str): The folder (created if needed).
    """

    def __init__(self, work_dir: str):
        self.work_dir = work_dir
        self.path = osp.join(work_dir, LOCK_FILE)
        self._key: str | None = None

    @property
    def held(self) -> bool:
        return self._key is not None

    def acquire(self) -> 'WorkDirLock':
        """Take the lock, or refuse with the holder's process id.

        Raises:
            WorkDirInUseError: If another live process holds the lock.
        """
        if fcntl is None or self.held:
            return self
        os.makedirs(self.work_dir, exist_ok=True)
        key = osp.realpath(self.path)
        if key in _HELD:
            _HELD[key][1] += 1
            self._key = key
            return self
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 64).decode(errors='replace').strip()
            os.close(fd)
            raise WorkDirInUseError(
                f'work_dir {self.work_dir} is in use by a live training run '
                f'(pid {holder or "unknown"}, lock {self.path}); a second '
                'run would overwrite its checkpoints and config. Wait for '
                'it to end or stop it, or give this run another work_dir '
                '(--work-dir)'
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f'{os.getpid()}\n'.encode())
        os.fsync(fd)
        _HELD[key] = [fd, 1]
        self._key = key
        return self

    def release(self) -> None:
        """Release this holder's share; the last one unlocks (the file
        stays, unlocked)."""
        if self._key is None:
            return
        key, self._key = self._key, None
        entry = _HELD.get(key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] > 0:
            return
        del _HELD[key]
        try:
            fcntl.flock(entry[0], fcntl.LOCK_UN)
        finally:
            os.close(entry[0])
