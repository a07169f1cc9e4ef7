"""The work folder of a restore: `.<target name>.restoring/` beside the target, holding the
copy being checked (and its evidence) until it is linked into place. A lock file inside is held
(flock) while a restore runs, so that a restore cut short — killed, power lost — is told apart
from one still running: its folder is removed by the next restore into that folder or the next
`open_database` there (`clean_interrupted`)."""
from __future__ import annotations

import fcntl
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

SUFFIX = ".restoring"
LOCK = "lock"


def work_folder(target: Path) -> Path:
    """The work folder of a restore into `target`."""
    target = Path(target)
    return target.parent / f".{target.name}{SUFFIX}"


@contextmanager
def restore_work(target: Path) -> Iterator[Path]:
    """Create and lock the work folder of a restore into `target`; removed on exit, whatever
    happens inside."""
    folder = work_folder(target)
    if folder.exists():
        clean_interrupted(folder.parent)
    folder.mkdir()
    fd = os.open(folder / LOCK, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        os.close(fd)


def clean_interrupted(folder: Path) -> list[Path]:
    """Remove the work folders in `folder` that no running restore holds; returns them."""
    removed = []
    try:
        entries = [e for e in os.scandir(folder)
                   if e.name.startswith(".") and e.name.endswith(SUFFIX) and e.is_dir()]
    except OSError:
        return removed
    for entry in entries:
        path = Path(entry.path)
        try:
            fd = os.open(path / LOCK, os.O_WRONLY | os.O_CREAT, 0o600)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:       # a restore is running there
            os.close(fd)
            continue
        shutil.rmtree(path, ignore_errors=True)
        os.close(fd)
        removed.append(path)
    return removed
