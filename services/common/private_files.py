"""Files only their owner may read: the data folder, SQLite databases, generated keys.

The data folder holds every user's data and the keys that sign sessions, so what cardcrm
creates there is made private from the first byte: folders ``0700``, files ``0600``. The
files are created with that mode (``os.open``) rather than changed afterwards, so no other
user can open them in between. SQLite gives its ``-wal`` and ``-shm`` files the mode of their
database, so creating the database file first is enough for them too. Folders and files that
already exist are left as their owner set them (an operator may have reasons, e.g. a backup
group); the docs say how to tighten them.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

FOLDER_MODE = 0o700
FILE_MODE = 0o600


def private_folder(folder: Path) -> Path:
    """Create ``folder`` (and missing parents) if it is missing; the folder itself ``0700``."""
    if not folder.exists():
        folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
        folder.chmod(FOLDER_MODE)  # mkdir's mode went through the umask; chmod's does not
    return folder


def private_file(path: Path) -> Path:
    """Create ``path`` empty with mode ``0600`` if it is missing (its folder private too)."""
    if not path.exists():
        private_folder(path.parent)
        with contextlib.suppress(FileExistsError):  # another process made it just now
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    return path


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to a new file ``path`` that only its owner may read."""
    private_folder(path.parent)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)
    path.chmod(FILE_MODE)  # a file that was there before keeps its mode through O_TRUNC
