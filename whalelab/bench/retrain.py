"""Does retraining with reviewed detections help on recordings it never saw?

``python -m whalelab.bench.retrain --run RUN --validation VAL --test TEST --out DIR``
detects with ``RUN`` at a low threshold (``--threshold``, default 0.2, as for
calibration: the review then holds what the run nearly took for a call, and calls it
nearly missed) over the annotated recordings of ``VAL`` into ``DIR/review`` and decides the
first ``--reviews`` events (default 50) in the review's order (``--order``: ``margin``, the
events nearest the run's own threshold first, as active learning picks them; or
``score``) from the annotations, which stand in for the
person (:func:`whalelab.review.truth_decisions`, saved through :meth:`Review.mark` as the
widget saves them); retrains ``RUN`` with them into ``DIR/retrained``
(:func:`whalelab.retrain.retrain_plan`: its weights, settings and clips, plus the
reviewed events); then scores the events of both runs on the annotated recordings of
``TEST`` (:func:`whalelab.detection.evaluate_recordings`, with the run's detection
settings for both): precision, recall and F1 with their 95 % intervals. Nothing of the
test recordings chooses anything.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from whalelab.bench.calibration import reviewed_by_truth
from whalelab.bench.result import save_result
from whalelab.checkpoint import load_model
from whalelab.detection import evaluate_recordings
from whalelab.retrain import retrain_plan
from whalelab.training import train

FIGURES = ("precision", "recall", "f1")


def event_figures(metrics: dict[str, Any]) -> dict[str, Any]:
    """Pooled event precision, recall and F1 with their intervals, and the counts."""
    overall = metrics["overall"]
    return {**{name: overall[name] for name in (*FIGURES, "tp", "fp", "fn")},
            **{f"{name}_95": metrics["intervals_95"][name] for name in FIGURES},
            "false_alarms": metrics["false_alarms"]}


def retrain_bench(run: str | Path, validation: str | Path, test: str | Path,
                  out: str | Path, *, reviews: int = 50, order: str = "margin",
                  threshold: float = 0.2, epochs: int | None = None, device: str = "auto",
                  progress: bool | None = None) -> dict[str, Any]:
    """The module's measurement (see its notes)."""
    out = Path(out)
    trained = load_model(run, device=device)
    review = reviewed_by_truth(trained, validation, out / "review", threshold=threshold,
                               device=device, progress=progress, limit=reviews, order=order,
                               around=trained.config.detect.threshold)
    config, index = retrain_plan(run, [out / "review"], epochs=epochs, device=device)
    started = time.perf_counter()
    train(config, out / "retrained", index=index, resume=True, progress=progress)
    seconds = time.perf_counter() - started
    scored = {name: event_figures(evaluate_recordings(source, test, out=out / f"{name}.json",
                                                      device=device, progress=progress))
              for name, source in (("before", run), ("after", out / "retrained"))}
    return {"run": str(run), "order": order, "review_threshold": threshold,
            "reviewed": len(review.decided),
            "decisions": review.decided["review"].value_counts().to_dict(),
            "retrain_epochs": config.train.epochs, "retrain_seconds": round(seconds, 1),
            **scored}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", required=True, help="the trained run")
    parser.add_argument("--validation", required=True, help="folder of annotated recordings "
                                                            "to review")
    parser.add_argument("--test", required=True, help="folder of held-out annotated recordings")
    parser.add_argument("--out", required=True, help="folder for the review, the retrained "
                                                     "run and result.json")
    parser.add_argument("--reviews", type=int, default=50, help="events to decide")
    parser.add_argument("--order", choices=("margin", "score"), default="margin")
    parser.add_argument("--threshold", type=float, default=0.2,
                        help="detection threshold of the review")
    parser.add_argument("--epochs", type=int, help="retraining epochs (default: retrain's)")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    return save_result(args.out, lambda: retrain_bench(
        args.run, args.validation, args.test, args.out, reviews=args.reviews,
        order=args.order, threshold=args.threshold, epochs=args.epochs, device=args.device),
        lambda result: pd.DataFrame({name: result[name] for name in ("before", "after")})
        .loc[[*FIGURES, "tp", "fp", "fn"]].to_string())


if __name__ == "__main__":
    sys.exit(main())
