"""What made a report: the code's git state, the data's fingerprint, package versions, device.

Pure functions that look and never change anything; :mod:`whalelab.report` puts their
answers into ``provenance.json`` and ``index.html``. Whatever cannot be known (no
``git``, a checkout that is not a repository, a package that is not installed) is said
so in the answer instead of raising.

Examples
--------
>>> list(package_versions())[:3]
['python', 'whalelab', 'torch']
>>> device_description(torch.device("cpu")).startswith("cpu")
True
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import torch

import whalelab
from whalelab.errors import DataError
from whalelab.runtime import available_cpus, progress_bar

UNKNOWN = "unknown"
#: distributions whose versions a report names, besides Python and whalelab itself
PACKAGES = ("torch", "torchvision", "numpy", "librosa", "scipy", "scikit-learn", "pandas",
            "papermill")
CHUNK_BYTES = 1 << 20
#: data sets from this size on show a progress bar while they are hashed
BAR_FROM_BYTES = 256 << 20


def git_state(path: str | Path) -> dict[str, str | bool]:
    """The commit checked out at ``path`` and whether the work tree differs from it.

    Parameters
    ----------
    path : path
        Any folder inside the checkout.

    Returns
    -------
    dict
        ``commit``: the full hash of ``HEAD``; ``dirty``: True when ``git status`` lists
        anything (changes, staged or not, and untracked files). Both are ``"unknown"``
        when ``git`` is missing, ``path`` is not in a repository or it has no commit yet.
    """
    def git(*args: str) -> str:
        # no optional locks: looking must not take the index lock from someone editing
        return subprocess.run(["git", "-C", str(path), *args], capture_output=True,
                              text=True, check=True, timeout=60,
                              env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"}).stdout

    try:
        return {"commit": git("rev-parse", "--verify", "HEAD").strip(),
                "dirty": bool(git("status", "--porcelain").strip())}
    except (OSError, subprocess.SubprocessError):
        return {"commit": UNKNOWN, "dirty": UNKNOWN}


def _file_sha256(path: Path, bar: Any) -> str:
    """SHA-256 of a file read in chunks, each counted on ``bar``."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(CHUNK_BYTES):
            digest.update(chunk)
            bar.update(len(chunk))
    return digest.hexdigest()


def data_fingerprint(path: str | Path, *, progress: bool | None = None) -> dict[str, Any]:
    """Number, total size and one SHA-256 of every file of a data set.

    The hash is over the sorted list of (path relative to the folder, size, SHA-256 of
    the content), one JSON line each: it changes when a byte, a name or a file changes,
    and not when files are only touched or copied elsewhere.

    Parameters
    ----------
    path : path
        A data folder, or a manifest CSV (then every file under its folder counts).
    progress : bool or None
        A bar over the bytes hashed, shown for sets of :data:`BAR_FROM_BYTES` or more
        (None: only on a terminal or in a notebook).

    Returns
    -------
    dict
        ``path`` (the folder, absolute), ``files``, ``bytes``, ``sha256``.

    Raises
    ------
    DataError
        ``path`` does not exist.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     _ = (Path(folder) / "a.wav").write_bytes(b"RIFF")
    ...     print({k: v for k, v in data_fingerprint(folder).items() if k != "path"})
    {'files': 1, 'bytes': 4, 'sha256': '10e412480e7d4f6f7cf4dc619e9d53aa662c70bbb3af86940192945992e392e5'}
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such data folder or manifest to fingerprint")
    folder = (path if path.is_dir() else path.parent).resolve()
    files = sorted((file.relative_to(folder).as_posix(), file)
                   for file in folder.rglob("*") if file.is_file())
    sizes = [file.stat().st_size for _, file in files]
    total = sum(sizes)
    digest = hashlib.sha256()
    with progress_bar(total=total, unit="B", unit_scale=True, desc="data fingerprint",
                      progress=progress if total >= BAR_FROM_BYTES else False) as bar:
        for (name, file), size in zip(files, sizes, strict=True):
            digest.update((json.dumps([name, size, _file_sha256(file, bar)]) + "\n").encode())
    return {"path": str(folder), "files": len(files), "bytes": total,
            "sha256": digest.hexdigest()}


def package_versions() -> dict[str, str]:
    """Versions of Python, whalelab and :data:`PACKAGES`; ``"not installed"`` for a missing one."""
    versions = {"python": platform.python_version(), "whalelab": whalelab.__version__}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def device_description(device: torch.device) -> str:
    """The hardware behind a torch device, in words.

    ``cuda:0: NVIDIA H200, 139 GiB, CUDA 12.8`` or ``cpu: x86_64, 2 CPUs, 2 torch threads``.
    """
    if device.type == "cuda":
        properties = torch.cuda.get_device_properties(device)
        return (f"{device}: {properties.name}, {properties.total_memory / 2**30:.0f} GiB, "
                f"CUDA {torch.version.cuda}")
    return (f"{device}: {platform.machine() or UNKNOWN}, {available_cpus()} CPUs, "
            f"{torch.get_num_threads()} torch threads")
