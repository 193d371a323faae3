"""The errors a user can cause, and nothing else.

Every problem with the user's files, parameters or data raises a
:class:`WhaleLabError` (or a subclass) whose message names the file or the
parameter at fault. The command line prints that one line and exits non-zero.
"""


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


def check_on_error(on_error: str) -> None:
    """Raise :class:`ConfigError` unless ``on_error`` is one of :data:`ON_ERROR`."""
    if on_error not in ON_ERROR:
        raise ConfigError(f"on_error must be 'raise' or 'skip', not {on_error!r}")
