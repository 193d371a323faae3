"""Atomic writes: a temporary file beside the target, then a rename.

An interrupted run never leaves a half-written checkpoint, table or report behind:
readers see either the old file or the new one. A write the operating system refuses
(a full disk, a read-only folder) raises one :class:`~whalelab.errors.StorageError`
naming the file and the cause; the old file stays and the temporary is removed.

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
from collections.abc import Callable
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
        raise StorageError(f"{_cause(error)} while writing {path}") from None
    finally:
        with contextlib.suppress(OSError):  # never hide the error that brought us here
            temporary.unlink(missing_ok=True)
    return path


def _cause(error: OSError) -> str:
    """``No space left on device`` -> ``no space left on device``; the message otherwise."""
    reason = error.strerror or str(error) or type(error).__name__
    return reason[:1].lower() + reason[1:]


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically."""
    return atomic_write(path, lambda temporary: temporary.write_text(text))


def write_json(path: str | Path, value: Any) -> Path:
    """Write ``value`` as indented JSON to ``path`` atomically."""
    return write_text(path, json.dumps(value, indent=2, sort_keys=False) + "\n")
