"""Recordings where they live: fsspec URLs (``s3://``, ``gs://``, ``https://``...) read in
ranges, never downloaded whole.

A URL given where whalelab takes an audio file becomes a :class:`RemoteFile`, which
:mod:`whalelab.audio.files` opens through fsspec as a seekable file: each read fetches
the bytes asked for and :data:`READ_AHEAD_BYTES` more (fsspec's read-ahead cache), so a
5-s excerpt of a 2-hour file costs its own bytes and the header's, and a file streamed
from start to end is fetched once. ``s3://`` and ``gs://`` are opened anonymously (public
buckets, e.g. NOAA's passive acoustic archive) unless fsspec's configuration says
otherwise (``FSSPEC_S3_ANON=false``, ``FSSPEC_GS_TOKEN=...`` or
``~/.config/fsspec/conf.json``). The file systems themselves come with the optional extra
``pip install 'whalelab[cloud]'`` (aiohttp for HTTP, s3fs, gcsfs); ``memory://`` and
``file://`` need nothing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import posixpath
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from whalelab.errors import AudioError

#: bytes fetched beyond each read of a remote file (one range request covers both)
READ_AHEAD_BYTES = 64 * 1024
#: what ``s3://`` and ``gs://`` are opened with, unless fsspec's configuration sets it
ANONYMOUS = {"s3": {"anon": True}, "s3a": {"anon": True}, "gs": {"token": "anon"},
             "gcs": {"token": "anon"}}
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_INSTALL = "pip install 'whalelab[cloud]'"


def is_url(text: str | Path) -> bool:
    """True for ``scheme://...`` (``file://`` included), False for a local path.

    Examples
    --------
    >>> [is_url(text) for text in ("s3://bucket/a.wav", "day/a.wav", "C:\\\\a.wav")]
    [True, False, False]
    """
    return isinstance(text, str) and bool(_URL.match(text))


@dataclasses.dataclass(frozen=True)
class RemoteFile:
    """An audio file named by an fsspec URL; what of :class:`pathlib.Path` whalelab uses
    of a recording (``name``, ``stem``, ``suffix``, ``resolve``), and :meth:`open`."""

    url: str

    def __str__(self) -> str:
        return self.url

    @property
    def name(self) -> str:
        """The URL's last part, e.g. ``a.wav``."""
        return posixpath.basename(self.url.split("?", 1)[0].rstrip("/"))

    @property
    def stem(self) -> str:
        return posixpath.splitext(self.name)[0]

    @property
    def suffix(self) -> str:
        return posixpath.splitext(self.name)[1]

    def resolve(self) -> RemoteFile:
        """Itself: a URL is already absolute."""
        return self

    def _file_system(self) -> tuple[Any, str]:
        """``(fsspec file system, path within it)``."""
        try:
            import fsspec
            from fsspec.core import url_to_fs
        except ImportError:  # pragma: no cover - fsspec comes with dask
            raise AudioError(f"{self}: reading URLs needs fsspec; {_INSTALL}") from None
        protocol = self.url.split("://", 1)[0].lower()
        configured = fsspec.config.conf.get(protocol, {})
        options = {key: value for key, value in ANONYMOUS.get(protocol, {}).items()
                   if key not in configured}
        try:
            return url_to_fs(self.url, **options)
        except ImportError as error:
            raise AudioError(f"{self}: reading {protocol}:// URLs needs the cloud extra "
                             f"({_INSTALL}): {error}") from None
        except ValueError as error:
            raise AudioError(f"{self}: not a URL whalelab can read ({error})") from None

    def details(self) -> dict[str, Any]:
        """``{"size": bytes, "version": ETag or last modified time, or None}``.

        Raises
        ------
        AudioError
            No such file, a folder, or the store cannot be reached.
        """
        file_system, path = self._file_system()
        with _remote_errors(self):
            info = file_system.info(path)
        if info.get("type") == "directory":
            raise AudioError(f"{self}: a folder, not an audio file")
        version = next((str(info[key]) for key in ("ETag", "etag", "md5Hash", "generation",
                                                    "LastModified", "Last-Modified", "mtime",
                                                    "updated") if info.get(key)), None)
        return {"size": info.get("size"), "version": version}

    @contextlib.contextmanager
    def open(self) -> Iterator[IO[bytes]]:
        """The file as a seekable binary file read in ranges (read-ahead
        :data:`READ_AHEAD_BYTES`)."""
        file_system, path = self._file_system()
        with _remote_errors(self):
            handle = file_system.open(path, "rb", block_size=READ_AHEAD_BYTES,
                                      cache_type="readahead")
        if not handle.seekable():
            handle.close()
            raise AudioError(f"{self}: the server gives neither the file's length nor parts "
                             f"of it (HTTP range requests), so it cannot be read in ranges")
        with handle:
            yield handle

    def files_below(self) -> list[RemoteFile] | None:
        """Every file under this URL as a folder (a bucket prefix, an HTML index),
        searched recursively in sorted order, hidden ones aside; None when it names no
        folder. (Over HTTP, finding out fetches the URL: not for a file's URL.)"""
        file_system, path = self._file_system()
        with _remote_errors(self):
            if not file_system.isdir(path):
                return None
            found = sorted(posixpath.relpath(item, path) for item in file_system.find(path))
        return [RemoteFile(f"{self.url.rstrip('/')}/{item}") for item in found
                if not posixpath.basename(item).startswith(".")]

    def relative_to(self, folder: RemoteFile) -> str:
        """This file's path under ``folder`` (a URL this one starts with), POSIX."""
        return self.url[len(folder.url.rstrip("/")):].lstrip("/")


@contextlib.contextmanager
def _remote_errors(remote: RemoteFile) -> Iterator[None]:
    """Turn a store's errors into one :class:`AudioError` line naming the URL."""
    try:
        yield
    except AudioError:
        raise
    except FileNotFoundError as error:
        reason = error.__cause__ or error.__context__  # fsspec's HTTP: any failed request
        raise AudioError(f"{remote}: no such audio file" + (
            f", or the server cannot be reached ({type(reason).__name__}: {reason})"
            if reason else "")) from None
    except IsADirectoryError:
        raise AudioError(f"{remote}: a folder, not an audio file") from None
    except PermissionError as error:
        raise AudioError(f"{remote}: access refused ({error}); for a private bucket set "
                         f"fsspec's credentials (e.g. FSSPEC_S3_ANON=false)") from None
    except (OSError, ValueError, RuntimeError) as error:
        raise AudioError(f"{remote}: could not be read ({type(error).__name__}: "
                         f"{error})") from None
    except Exception as error:  # aiohttp's and botocore's own errors
        if type(error).__module__.split(".")[0] in ("aiohttp", "botocore", "aiobotocore",
                                                      "google", "gcsfs", "s3fs", "fsspec"):
            raise AudioError(f"{remote}: could not be read ({type(error).__name__}: "
                             f"{error})") from None
        raise


AudioSource = Path | RemoteFile


def audio_source(item: str | Path | RemoteFile) -> AudioSource:
    """A local path as a :class:`Path`, a URL as a :class:`RemoteFile` (``file://``
    URLs are local paths)."""
    if isinstance(item, (Path, RemoteFile)):
        return item
    if is_url(item):
        if item.lower().startswith("file://"):
            return Path(item[len("file://"):])
        return RemoteFile(item)
    return Path(item)
