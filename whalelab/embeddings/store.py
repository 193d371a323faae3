"""An embedding store: every window's file, start, end (and scores) in SQLite, its vector
in one float32 ``.npy`` matrix.

A store is a folder:

- ``embeddings.sqlite``: table ``meta`` (``key``, ``value``: the embedder's name,
  version, model SHA-256, settings and licence, whalelab's version, the classes of the
  scores), table ``files`` (``id``, ``file`` as given, ``resolved``, ``size``,
  ``mtime_ns``, ``duration_s``, ``windows``) and table ``windows`` (``id``, ``file_id``,
  ``file``, ``start_s``, ``end_s``, and one column per class scored, named
  ``score:<class>``, where the embedder is a trained run);
- ``vectors.npy``: float32 ``(rows, dim)``; row ``i`` is the vector of window ``id = i``
  (read with ``np.load(path, mmap_mode="r")``: nothing is read until used).

**Why not perch-hoplite's database.** ``perch-hoplite`` 1.0.2 is on PyPI and its SQLite +
USearch database needs neither TensorFlow nor JAX, but its core requires, besides
``usearch``, ``huggingface-hub``, ``kagglehub``, ``pandas[gcp]`` (Google Cloud's
BigQuery clients), ``notebook``, ``absl-py``, ``etils``, ``ml-collections`` and
``imageio``: a dozen packages and their own trees for a table and a matrix. The standard
library's ``sqlite3`` and a ``.npy`` add none, and an exact search by one matrix product
over a memory-mapped matrix is fast below about a million windows (1024 numbers each:
4 GB); an approximate index can come with the review loop that needs it.

**Writing.** Each file's vectors are first written, atomically, to ``parts/<row>.npy``
and then its rows are committed to SQLite in one transaction (a file embedded again
after it changed replaces its rows; the old rows' vectors stay unused). :meth:`finish`
appends the parts to ``vectors.npy`` (written to a temporary file and renamed), then
deletes them. A run stopped at any point leaves a store that the next run finishes:
files already committed are skipped, an uncommitted part is dropped.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import whalelab
from whalelab.atomic import atomic_write, output_folder, storage_error
from whalelab.embeddings.base import FileEmbeddings
from whalelab.errors import StorageError

DATABASE, VECTORS, PARTS = "embeddings.sqlite", "vectors.npy", "parts"
SCORE_PREFIX = "score:"


def _quoted(name: str) -> str:
    """An SQL identifier: ``name`` in double quotes, its own doubled."""
    return '"' + name.replace('"', '""') + '"'


class EmbeddingStore:
    """A store folder (see the module's notes), opened for reading or for adding files.

    Parameters
    ----------
    folder : path
        The store.

    Raises
    ------
    StorageError
        ``folder`` holds no store.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        if not (self.folder / DATABASE).is_file():
            raise StorageError(f"{self.folder}: no embedding store ({DATABASE}); make one with "
                               f"whalelab embed MODEL AUDIO... --out {self.folder}")

    @classmethod
    def create(cls, folder: str | Path, *, meta: dict[str, Any], force: bool = False
               ) -> EmbeddingStore:
        """Open ``folder`` to add windows of the embedder ``meta`` describes, making the
        store where there is none.

        ``meta`` holds ``settings`` (what the embeddings depend on: a store holds one
        embedder's, at one set of settings), ``dim``, ``classes``, ``licence``.

        Raises
        ------
        StorageError
            The folder holds other files (unless ``force``), or a store made with other
            settings (naming them): embed into another folder.
        """
        folder = output_folder(folder, records=[DATABASE], force=force)
        with contextlib.closing(sqlite3.connect(folder / DATABASE)) as connection, connection:
            connection.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, "
                               "value TEXT NOT NULL)")
            known = dict(connection.execute("SELECT key, value FROM meta"))
            if not known:
                scores = "".join(f", {_quoted(SCORE_PREFIX + name)} REAL"
                                 for name in meta["classes"])
                connection.execute("CREATE TABLE files (id INTEGER PRIMARY KEY, file TEXT, "
                                   "resolved TEXT UNIQUE, size INTEGER, mtime_ns INTEGER, "
                                   "duration_s REAL, windows INTEGER)")
                connection.execute(f"CREATE TABLE windows (id INTEGER PRIMARY KEY, file_id "
                                   f"INTEGER, file TEXT, start_s REAL, end_s REAL{scores})")
                connection.execute("CREATE INDEX windows_file ON windows (file_id)")
                connection.executemany("INSERT INTO meta VALUES (?, ?)", [
                    (key, json.dumps(value)) for key, value in
                    {**meta, "whalelab": whalelab.__version__, "rows": 0}.items()])
            elif json.loads(known["settings"]) != meta["settings"]:
                earlier = json.loads(known["settings"])
                differences = [f"{key} {earlier.get(key)!r} there, {value!r} now"
                               for key, value in meta["settings"].items()
                               if earlier.get(key) != value]
                raise StorageError(f"{folder}: holds embeddings made otherwise "
                                   f"({'; '.join(differences)}); embed into another --out")
        store = cls(folder)
        store.finish()
        return store

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            with contextlib.closing(sqlite3.connect(self.folder / DATABASE)) as connection, \
                    connection:
                yield connection
        except sqlite3.DatabaseError as error:
            raise StorageError(f"{self.folder / DATABASE}: {error}") from None

    @property
    def meta(self) -> dict[str, Any]:
        """What made the store: ``settings`` (name, version, model_sha256, window_s,
        hop_s, speed, channel...), ``dim``, ``classes``, ``licence``, ``whalelab``."""
        with self._connect() as connection:
            return {key: json.loads(value)
                    for key, value in connection.execute("SELECT key, value FROM meta")}

    def files(self) -> pd.DataFrame:
        """The files embedded: ``id, file, resolved, size, mtime_ns, duration_s, windows``."""
        with self._connect() as connection:
            return pd.read_sql_query("SELECT * FROM files ORDER BY id", connection)

    def windows(self) -> pd.DataFrame:
        """Every window: ``id`` (its row of :meth:`vectors`), ``file_id, file, start_s,
        end_s`` and, for a run's store, one column per class (its score)."""
        with self._connect() as connection:
            table = pd.read_sql_query("SELECT * FROM windows ORDER BY id", connection)
        return table.rename(columns=lambda name: name.removeprefix(SCORE_PREFIX))

    def vectors(self) -> np.ndarray:
        """float32 ``(rows, dim)``, memory-mapped; row ``i`` belongs to window ``id = i``.

        Raises
        ------
        StorageError
            A run into the store was stopped before it finished (rerun it to finish).
        """
        vectors = np.load(self.folder / VECTORS, mmap_mode="r", allow_pickle=False)
        if len(vectors) < self.meta["rows"]:
            raise StorageError(f"{self.folder}: a run into this store stopped before it "
                               f"finished; run whalelab embed into it again to finish it")
        return vectors

    def known(self, source: dict[str, Any]) -> bool:
        """Whether the file ``source`` describes (``resolved``, ``size``, ``mtime_ns``) is
        in the store as it is now (a URL, which has no ``mtime_ns``: by address and size)."""
        with self._connect() as connection:
            return connection.execute(
                "SELECT 1 FROM files WHERE resolved = ? AND size = ? AND mtime_ns IS ?",
                (source["resolved"], source["size"], source.get("mtime_ns"))
            ).fetchone() is not None

    def add(self, source: dict[str, Any], embedded: FileEmbeddings, *,
            duration_s: float) -> None:
        """Add one file's windows (replacing an earlier version of the same file): its
        vectors as a part, then its rows in one transaction."""
        meta = self.meta
        first = meta["rows"]
        if embedded.vectors.shape[1:] != (meta["dim"],):
            raise StorageError(f"{self.folder}: vectors of {embedded.vectors.shape[1:]} do "
                               f"not fit the store's dim {meta['dim']}")
        atomic_write(self._part(first), lambda temporary: _save(temporary, embedded.vectors))
        classes = meta["classes"]
        columns = ", ".join(_quoted(SCORE_PREFIX + name) for name in classes)
        with self._connect() as connection:
            old = connection.execute("SELECT id FROM files WHERE resolved = ?",
                                     (source["resolved"],)).fetchone()
            if old:
                connection.execute("DELETE FROM windows WHERE file_id = ?", old)
                connection.execute("DELETE FROM files WHERE id = ?", old)
            file_id = connection.execute(
                "INSERT INTO files (file, resolved, size, mtime_ns, duration_s, windows) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (source["file"], source["resolved"], source["size"], source.get("mtime_ns"),
                 duration_s, len(embedded))).lastrowid
            rows = [(first + i, file_id, source["file"], float(start), float(end),
                     *map(float, scores)) for i, (start, end, scores) in enumerate(zip(
                         embedded.starts_s, embedded.ends_s, embedded.scores, strict=True))]
            marks = ", ".join("?" * (5 + len(classes)))
            connection.executemany(f"INSERT INTO windows (id, file_id, file, start_s, end_s"
                                   f"{', ' + columns if classes else ''}) VALUES ({marks})",
                                   rows)
            connection.execute("UPDATE meta SET value = ? WHERE key = 'rows'",
                               (json.dumps(first + len(embedded)),))

    def _part(self, row: int) -> Path:
        return self.folder / PARTS / f"{row:012d}.npy"

    def finish(self) -> None:
        """Append the committed parts to ``vectors.npy``; drop the parts of nothing."""
        meta = self.meta
        rows, path = meta["rows"], self.folder / VECTORS
        done = len(np.load(path, mmap_mode="r")) if path.is_file() else 0
        parts = sorted((self.folder / PARTS).glob("*.npy")) \
            if (self.folder / PARTS).is_dir() else []
        wanted = [part for part in parts if done <= int(part.stem) < rows]
        if wanted or not path.is_file():
            def write(temporary: Path) -> None:
                matrix = np.lib.format.open_memmap(temporary, mode="w+", dtype=np.float32,
                                                   shape=(rows, meta["dim"]))
                if done:
                    matrix[:done] = np.load(path, mmap_mode="r")[:done]
                for part in wanted:
                    start = int(part.stem)
                    vectors = np.load(part, allow_pickle=False)
                    matrix[start:start + len(vectors)] = vectors
                matrix.flush()
                del matrix
            atomic_write(path, write)
        for part in parts:
            try:
                part.unlink()
            except OSError as error:
                raise storage_error(error, part, where="deleting") from None


def _save(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as handle:
        np.save(handle, array)
