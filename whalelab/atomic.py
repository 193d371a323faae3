"""Atomic writes: a temporary file beside the target, then a rename; output folders.

An interrupted run never leaves a half-written checkpoint, table or report behind:
readers see either the old file or the new one. A write the operating system refuses
(a full disk, a read-only folder) raises one :class:`~whalelab.errors.StorageError`
naming the file and the cause; the old file stays and the temporary is removed.

A command that writes a folder of outputs (``synth``, ``detect``, ``train``) first opens
it with :func:`output_folder`: a file where the folder should be, a folder it cannot
write in, and a folder that holds files but no record of whalelab's own are refused
before anything is written, so that whalelab never writes into data it did not make
unless asked to (and then never over a file it did not record as its own).

Examples
--------
>>> import errno, tempfile
>>> path = Path(tempfile.mkdtemp()) / "notes.txt"
>>> _ = write_text(path, "first")
>>> def full_disk(temporary):
...     raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
>>> try:
...     atomic_write(path, full_disk)
... except StorageError as error:
...     print(str(error).replace(str(path), "notes.txt"))
no space left on device while writing notes.txt
>>> path.read_text()
'first'
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from whalelab.errors import StorageError


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(temporary_path)``, then rename the temporary file onto ``path``.

    Raises
    ------
    StorageError
        The folder could not be made, or the write or the rename raised an
        :class:`OSError` (no space left, permission denied...): the message names
        ``path`` and the cause. ``path`` keeps its old contents.
    """
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(temporary)
        os.replace(temporary, path)
    except OSError as error:
        raise storage_error(error, path) from None
    finally:
        with contextlib.suppress(OSError):  # never hide the error that brought us here
            temporary.unlink(missing_ok=True)
    return path


def storage_error(error: OSError, path: str | Path, *, where: str = "writing") -> StorageError:
    """The one-line :class:`StorageError` for ``error`` raised while ``where`` ``path``.

    Examples
    --------
    >>> import errno
    >>> print(storage_error(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), "a.pt"))
    no space left on device while writing a.pt
    """
    reason = error.strerror or str(error) or type(error).__name__
    return StorageError(f"{reason[:1].lower() + reason[1:]} while {where} {path}")


#: a file whose name starts so is whalelab's own bookkeeping (a lock), never a user's
OWN_PREFIX = ".whalelab-"


def output_folder(path: str | Path, *, records: Sequence[str], force: bool = False,
                  flag: str | None = "--force") -> Path:
    """``path`` as a folder a command may write its outputs into, made where missing.

    A folder that holds files but none of ``records`` (the names of the files, or
    folders, that a command records what it wrote in) holds data whalelab did not make:
    it is refused unless ``force``, with which the command writes beside those files
    (and must then never delete or overwrite one it did not record). Files named
    ``.whalelab-*`` (a lock) do not count.

    Parameters
    ----------
    path : path
        The output folder (``--out``).
    records : sequence of str
        Names inside ``path`` whose presence says whalelab made it.
    force : bool
        Accept a folder of someone else's files.
    flag : str or None
        The command-line flag that sets ``force``, named in the refusal (None: the
        command has none).

    Raises
    ------
    StorageError
        ``path`` is a file; the folder cannot be made or written in (read-only,
        permission denied, full disk); or it holds other files and not ``force``.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = write_text(folder / "notes.txt", "mine")
    >>> try:
    ...     output_folder(folder, records=["detection.json"])
    ... except StorageError as error:
    ...     print(str(error).replace(str(folder), "OUT")[:58])
    OUT: holds files that whalelab has no record of writing (n
    >>> output_folder(folder, records=["detection.json"], force=True) == folder
    True
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise StorageError(f"{path}: is a file, not a folder; give --out a folder (new or one "
                           f"whalelab wrote)")
    if not force and path.is_dir() and not any((path / name).exists() for name in records) \
            and any(not entry.name.startswith(OWN_PREFIX) for entry in path.iterdir()):
        remedy = f", or pass {flag} to write beside them (whalelab then deletes or " \
                 f"overwrites none of them)" if flag else ""
        raise StorageError(f"{path}: holds files that whalelab has no record of writing (no "
                           f"{' or '.join(records)}); write into a new or empty folder{remedy}")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):  # a read-only folder or a full disk says so now
            pass
    except OSError as error:
        raise storage_error(error, path, where="writing in") from None
    return path


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically."""
    return atomic_write(path, lambda temporary: temporary.write_text(text))


def write_json(path: str | Path, value: Any) -> Path:
    """Write ``value`` as indented JSON to ``path`` atomically."""
    return write_text(path, json.dumps(value, indent=2, sort_keys=False) + "\n")
