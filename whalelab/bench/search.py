"""How well "more like this" finds a clip's own class: precision@k on labelled clips.

``python -m whalelab.bench.search --store-data TRAIN.csv --query-data TEST.csv --model
birdnet [--speed S] --out DIR`` embeds the store clips into ``DIR/store`` (``whalelab
embed``: every window of each file; a file embedded before is skipped), embeds each
query clip whole (:func:`whalelab.search.embed_span`), finds its ``k`` nearest windows
and prints precision@k: the share of them cut from a file of the query's label, averaged
over the queries. Both CSVs are manifests with ``path`` and ``label`` columns (paths
relative to the CSV), as ``whalelab train`` reads; the store is the train split, the
queries the held-out one.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from whalelab.bench.result import save_result
from whalelab.embeddings import embed_files, load_embedder
from whalelab.errors import DataError
from whalelab.runtime import progress_bar
from whalelab.search import embed_span, nearest, precision_at_k


def _manifest(path: Path) -> pd.DataFrame:
    """``path, label`` of a manifest CSV, paths resolved against its folder."""
    if not path.is_file():
        raise DataError(f"{path}: no such manifest CSV")
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = {"path", "label"} - set(table.columns)
    if missing:
        raise DataError(f"{path}: lacks the column(s) {', '.join(sorted(missing))}")
    table["path"] = [str((path.parent / name).resolve()) for name in table["path"]]
    return table[["path", "label"]]


def search_precision(store_data: str | Path, query_data: str | Path, out: str | Path, *,
                     model: str = "birdnet", speed: float = 1.0, k: int = 10,
                     progress: bool | None = None) -> dict[str, float | int | str]:
    """Precision@``k`` of the query clips' nearest store windows (see the module's notes),
    with the counts and seconds taken."""
    stored, queried = _manifest(Path(store_data)), _manifest(Path(query_data))
    embedder = load_embedder(model, speed=speed)
    started = time.perf_counter()
    store = embed_files(embedder, list(stored["path"]), Path(out) / "store", progress=progress)
    embedded_s = time.perf_counter() - started
    files = store.files()
    label_of = dict(zip(stored["path"], stored["label"], strict=True))
    label_of_file = {file: label_of[resolved]
                     for file, resolved in zip(files["file"], files["resolved"], strict=True)}
    started = time.perf_counter()
    queries = [embed_span(embedder, path) for path in
               progress_bar(queried["path"], progress=progress, desc="queries", unit="clip")]
    found = nearest(store, queries, k=k)
    searched_s = time.perf_counter() - started
    return {"model": f"{embedder.name} {embedder.version}", "speed": speed, "k": k,
            "precision_at_k": precision_at_k(found, list(queried["label"]), label_of_file),
            "store_windows": int(files["windows"].sum()), "store_files": len(files),
            "queries": len(queried), "embed_store_s": round(embedded_s, 1),
            "queries_s": round(searched_s, 1)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store-data", required=True, help="manifest CSV of the store's clips")
    parser.add_argument("--query-data", required=True, help="manifest CSV of the queries")
    parser.add_argument("--out", required=True, help="folder for the store and result.json")
    parser.add_argument("--model", default="birdnet", help="birdnet or a run folder")
    parser.add_argument("--speed", type=float, default=1.0, help="speed factor (birdnet)")
    parser.add_argument("-k", type=int, default=10, help="neighbours per query (default 10)")
    args = parser.parse_args(argv)
    return save_result(args.out, lambda: search_precision(
        args.store_data, args.query_data, args.out, model=args.model, speed=args.speed,
        k=args.k))

if __name__ == "__main__":
    sys.exit(main())
