"""Where the bytes of card files live: a ``FileStorage``, named by each content's SHA-256.

The built-in ``LocalFileStorage`` keeps them under ``CARDCRM_FILES_DIR`` (default: the data
folder's ``files/``) as ``ab/cd/<sha256>``, private like the rest of the data folder (folders
``0700``, files ``0600``). A plugin may keep them elsewhere (an object store) by answering the
``cardcrm_file_storage(settings)`` hook with its own ``FileStorage`` (docs/plugins.md).

Every content is written to a temporary file (or object) first and appears under its name only
when complete, so a reader never sees half a file and a crash leaves at most a temporary file
(removed by the orphan sweep, ``service.sweep_orphans``).
"""

from __future__ import annotations

import abc
import hashlib
import os
import re
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, BinaryIO

from cardcrm.common.config import data_dir
from cardcrm.common.private_files import FILE_MODE, private_folder
from flask import Flask, current_app

#: A content's name: its SHA-256 in lower-case hex (nothing else reaches a path).
SHA256 = re.compile(r"^[0-9a-f]{64}$")
#: How much of a stream is read at a time.
PIECE = 1024 * 1024
EXTENSION = "cardcrm_file_storage"


class FileStorage(abc.ABC):
    """The bytes of card files, by content. Implementations must be safe to call from several
    threads and processes at once; ``put`` of a content already stored is harmless."""

    @abc.abstractmethod
    def put(self, stream: IO[bytes]) -> tuple[str, int]:
        """Store what ``stream`` holds (read to its end); return its SHA-256 (hex) and size.

        The content must appear under its name whole or not at all (a temporary file, then an
        atomic rename; an object store's single upload)."""

    @abc.abstractmethod
    def open(self, sha256: str) -> BinaryIO:
        """A binary file object reading the content (``FileNotFoundError`` when missing); the
        caller reads it in pieces and closes it."""

    @abc.abstractmethod
    def delete(self, sha256: str) -> None:
        """Remove the content; nothing happens when it is not there."""

    @abc.abstractmethod
    def exists(self, sha256: str) -> bool:
        """Whether the content is stored."""

    def contents(self) -> Iterator[tuple[str, datetime]]:
        """Every stored content's SHA-256 and when it was written (UTC), for the orphan sweep.

        A storage that cannot list its contents leaves this out: the sweep then says so and
        removes nothing."""
        raise NotImplementedError

    def remove_temporary(self, older_than: datetime) -> int:
        """Remove what unfinished writes left before ``older_than``; return how many."""
        return 0


class LocalFileStorage(FileStorage):
    """Contents as files under ``root``: ``root/ab/cd/<sha256>``, temporary files in
    ``root/tmp/``, on the same file system so that the final rename is atomic."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def path_of(self, sha256: str) -> Path:
        if not SHA256.match(sha256):
            raise ValueError(f"not a SHA-256: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, stream: IO[bytes]) -> tuple[str, int]:
        temporary_folder = private_folder(private_folder(self.root) / "tmp")
        temporary = temporary_folder / f"{uuid.uuid4().hex}.part"
        digest, size = hashlib.sha256(), 0
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        try:
            with os.fdopen(descriptor, "wb") as output:
                while piece := stream.read(PIECE):
                    digest.update(piece)
                    size += len(piece)
                    output.write(piece)
                output.flush()
                os.fsync(output.fileno())
            sha256 = digest.hexdigest()
            target = self.path_of(sha256)
            private_folder(private_folder(target.parent.parent) / sha256[2:4])
            os.replace(temporary, target)  # the same bytes already there: replaced by equals
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return sha256, size

    def open(self, sha256: str) -> BinaryIO:
        return self.path_of(sha256).open("rb")

    def delete(self, sha256: str) -> None:
        self.path_of(sha256).unlink(missing_ok=True)

    def exists(self, sha256: str) -> bool:
        return self.path_of(sha256).is_file()

    def contents(self) -> Iterator[tuple[str, datetime]]:
        if not self.root.is_dir():
            return
        for first in sorted(self.root.iterdir()):
            if len(first.name) != 2 or not first.is_dir():
                continue
            for second in sorted(first.iterdir()):
                if not second.is_dir():
                    continue
                for path in sorted(second.iterdir()):
                    if SHA256.match(path.name) and path.name[:4] == first.name + second.name:
                        written = datetime.fromtimestamp(path.stat().st_mtime, UTC)
                        yield path.name, written

    def remove_temporary(self, older_than: datetime) -> int:
        folder = self.root / "tmp"
        if not folder.is_dir():
            return 0
        removed = 0
        for path in folder.iterdir():
            if datetime.fromtimestamp(path.stat().st_mtime, UTC) < older_than:
                path.unlink(missing_ok=True)
                removed += 1
        return removed


def files_dir(settings: Mapping[str, Any]) -> Path:
    """Where ``LocalFileStorage`` keeps files: ``FILES_DIR``, else the data folder's ``files/``."""
    if settings.get("FILES_DIR"):
        return Path(settings["FILES_DIR"])
    return Path(settings.get("DATA_DIR") or data_dir()) / "files"


def make_storage(app: Flask) -> FileStorage:
    """The app's storage: a plugin's (``cardcrm_file_storage``), else ``LocalFileStorage``."""
    plugins = app.extensions.get("cardcrm_plugins")
    chosen = plugins.hook.cardcrm_file_storage(settings=app.config) if plugins else None
    if chosen is None:
        return LocalFileStorage(files_dir(app.config))
    if not isinstance(chosen, FileStorage):
        raise TypeError(f"cardcrm_file_storage returned {chosen!r}, not a FileStorage")
    return chosen


def get_storage(app: Flask | None = None) -> FileStorage:
    """The storage of ``app`` (default: the current app), made on first use."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    storage = app.extensions.get(EXTENSION)
    if storage is None:
        storage = app.extensions[EXTENSION] = make_storage(app)
    return storage
