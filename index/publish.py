"""Publishing an index version atomically, one writer at a time.

Every build, ``add`` and ``remove`` writes a complete new version into a hidden
``.DIR.<build id>.partial`` directory, fsyncs every file and the directory, renames it to
``DIR.<build id>``, then points ``DIR`` at it by creating a temporary symlink and
``os.replace``-ing it over ``DIR`` (a single ``rename(2)``, which is atomic). A process killed at
any moment leaves ``DIR`` pointing at the previous, complete version; the next build removes
the leftovers. Writers take an exclusive ``flock`` on ``.DIR.lock`` (released by the kernel when
a writer dies). The names are those of :class:`index.layout.Layout`.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

from index.errors import IndexDiskFullError
from index.layout import Layout
from index.manifest import Manifest

logger = logging.getLogger(__name__)

# No space left, or the user's disk quota reached.
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


class IndexLockedError(RuntimeError):
    """Another process is building or updating the same index directory."""


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(directory: Path) -> None:
    """fsync every file, then every directory bottom-up, so renames publish durable data."""
    for root, _dirs, files in os.walk(directory, topdown=False):
        for name in files:
            _fsync_path(Path(root) / name)
        _fsync_path(Path(root))


@contextlib.contextmanager
def writer_lock(layout: Layout) -> Iterator[None]:
    """Hold the exclusive writer lock of ``layout.link``.

    Raises:
        IndexLockedError: another process holds it.
    """
    try:
        layout.parent.mkdir(parents=True, exist_ok=True)
        lock = layout.lock.open("a")
    except OSError as error:
        if error.errno in _DISK_FULL:
            raise _disk_full(error, layout.lock, layout) from error
        raise
    with lock as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno in (errno.EAGAIN, errno.EACCES):
                raise IndexLockedError(
                    f"another process is writing {layout.link} (lock {layout.lock})"
                ) from None
            raise
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _disk_full(error: OSError, path: Path, layout: Layout) -> IndexDiskFullError:
    """The one-line error for a full disk, naming the file (else ``path``)."""
    return IndexDiskFullError(
        f"disk full: no space left on device to write {error.filename or path}; "
        f"{layout.link} is unchanged"
    )


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.is_dir():
        shutil.rmtree(path, ignore_errors=True)


def _clean_leftovers(layout: Layout, keep: Path | None = None) -> None:
    for path in layout.leftovers():
        if path != keep:
            logger.info("removing leftover %s", path)
            _remove(path)


def _check_link_target(layout: Layout) -> None:
    link = layout.link
    if link.is_symlink() or not link.exists():
        return
    if link.is_dir() and not any(link.iterdir()):
        link.rmdir()  # an empty directory (say, made by mkdir -p) can become the link
        return
    raise FileExistsError(
        f"{link} exists and is not an index link made by `followup index build`; "
        "remove it or choose another --out"
    )


def publish(
    layout: Layout, build_id: str, write: Callable[[Path], Manifest], *, resumable: bool = False
) -> Manifest:
    """Write a version with ``write(partial_dir)``, then switch ``DIR`` to it atomically.

    Must be called with the writer lock held. With ``resumable``, a partial directory of
    ``build_id`` left by an interrupted run is written into again, and one left by a failing
    ``write`` is kept for the next resumed run (other writers still delete it as a leftover).

    Raises:
        IndexDiskFullError: the disk filled before the switch; ``DIR`` is unchanged.
    """
    _check_link_target(layout)
    previous = layout.current()
    partial = layout.partial(build_id)
    _clean_leftovers(layout, keep=partial if resumable else None)
    version = layout.version(build_id)
    temp_link = layout.temp_link(build_id)
    try:
        partial.mkdir(parents=True, exist_ok=resumable)
        manifest = write(partial)
        _fsync_tree(partial)
        os.rename(partial, version)
        _fsync_path(layout.parent)
        temp_link.symlink_to(version.name)  # relative: the parent folder can move as a whole
        os.replace(temp_link, layout.link)  # the atomic switch
    except BaseException as error:
        # A killed process cannot get here; the next writer cleans up then.
        if layout.current() != version:
            for path in (version, temp_link) if resumable else (partial, version, temp_link):
                _remove(path)
        if isinstance(error, OSError) and error.errno in _DISK_FULL:
            raise _disk_full(error, partial, layout) from error
        raise
    _fsync_path(layout.parent)
    logger.info("%s now points to %s", layout.link, version.name)
    if previous is not None and previous != version:
        _remove(previous)
    return manifest
