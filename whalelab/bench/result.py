"""The end of a measurement script (``python -m whalelab.bench.search``, ``.calibration``):
run the measurement, keep its result as ``OUT/result.json``, print it."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from whalelab.atomic import atomic_write
from whalelab.errors import WhaleLabError


def save_result(out: str | Path, measure: Callable[[], dict[str, Any]],
                show: Callable[[dict[str, Any]], str] = json.dumps) -> int:
    """Run ``measure``; its :class:`WhaleLabError` is one line on stderr (exit status 2),
    else its result is written to ``out/result.json`` atomically and ``show(result)``
    printed (exit status 0)."""
    try:
        result = measure()
    except WhaleLabError as error:
        print(f"whalelab: {error}", file=sys.stderr)
        return 2
    atomic_write(Path(out) / "result.json",
                 lambda temporary: temporary.write_text(json.dumps(result, indent=2) + "\n"))
    print(show(result))
    return 0
