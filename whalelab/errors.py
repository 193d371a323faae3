"""The errors a user can cause, and what a run does with a file that raises one.

Every problem with the user's files, parameters or data raises a
:class:`WhaleLabError` (or a subclass) whose message names the file or the
parameter at fault. The command line prints that one line and exits non-zero.

A run over many files (reading a data set, predicting, detecting) follows one policy,
``on_error`` (:class:`OnError`): stop at the first file that cannot be used, or warn,
leave it out, and say at the end how many were left out.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any


class WhaleLabError(Exception):
    """A problem the user can fix: a bad file, parameter or data set."""


class AudioError(WhaleLabError):
    """An audio file is missing, unreadable, empty, corrupt or holds NaN/inf."""


class DataError(WhaleLabError):
    """A data set, manifest or label file is malformed or inconsistent."""


class ConfigError(WhaleLabError):
    """A configuration value or profile name is invalid."""


class CheckpointError(WhaleLabError):
    """A run folder or checkpoint is missing, incomplete or does not fit the model."""


class StorageError(WhaleLabError):
    """A file could not be written: the disk is full, a folder is read-only, and so on."""


#: what a file that cannot be used does: stop the run, or warn, skip it and count it
ON_ERROR = ("raise", "skip")


class OnError:
    """What a run does with a file (or a data set's row) that cannot be used.

    With ``on_error="raise"``, :meth:`fail` raises the error, which names the file, and
    the run stops. With ``"skip"``, it warns with that one line (``skipped <error>``),
    the file is left out and its message kept in :attr:`skipped`; :meth:`summary` then
    warns once with how many were left out.

    Parameters
    ----------
    on_error : {"raise", "skip"}
        The policy (:data:`ON_ERROR`).

    Attributes
    ----------
    skipped : list of str
        The messages of the errors skipped, in order.

    Raises
    ------
    ConfigError
        ``on_error`` is not one of :data:`ON_ERROR`.

    Examples
    --------
    >>> policy = OnError("skip")
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     policy.fail(AudioError("a.wav: no such audio file"))
    ...     policy.summary(total=3)
    >>> for warning in caught:
    ...     print(warning.message)
    skipped a.wav: no such audio file
    1 of 3 file(s) could not be used and were skipped; first: a.wav: no such audio file
    >>> OnError("raise").fail(AudioError("a.wav: no such audio file"))
    Traceback (most recent call last):
    ...
    whalelab.errors.AudioError: a.wav: no such audio file
    """

    def __init__(self, on_error: str) -> None:
        if on_error not in ON_ERROR:
            raise ConfigError(f"on_error must be 'raise' or 'skip', not {on_error!r}")
        self.on_error = on_error
        self.skipped: list[str] = []

    def fail(self, error: WhaleLabError) -> None:
        """Raise ``error``, or (``skip``) warn with it and count it."""
        if self.on_error == "raise":
            raise error
        warnings.warn(f"skipped {error}", stacklevel=3)
        self.skipped.append(str(error))

    def attempt(self, action: Callable[[], Any]) -> Any | None:
        """``action()``, or None when it raised a :class:`WhaleLabError` being skipped."""
        try:
            return action()
        except WhaleLabError as error:
            self.fail(error)
            return None

    def summary(self, *, total: int | None = None, source: object = None,
                what: str = "file(s)") -> None:
        """Warn once, when anything was skipped: how many ``what`` (of ``total``, where
        known; ``source``: the data set they belong to), and the first message."""
        if not self.skipped:
            return
        count = len(self.skipped) if total is None else f"{len(self.skipped)} of {total}"
        prefix = "" if source is None else f"{source}: "
        warnings.warn(f"{prefix}{count} {what} could not be used and were skipped; "
                      f"first: {self.skipped[0]}", stacklevel=3)
