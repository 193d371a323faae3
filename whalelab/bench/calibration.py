"""Does a calibrated threshold give the precision it promises on recordings it never saw?

``python -m whalelab.bench.calibration --run RUN --validation VAL --test TEST --out DIR``
detects with ``RUN`` at a low threshold (``--threshold``, default 0.2, so that the review
holds false alarms to learn from) over the annotated recordings of ``VAL`` into
``DIR/validation`` and of ``TEST`` into ``DIR/test``; the annotations stand in for the
person (:func:`whalelab.review.truth_decisions`, saved through :meth:`Review.mark` as the
widget saves them); each class's P(true | score) is fitted on the validation review
(:func:`whalelab.calibration.fit_calibration`) and its threshold for each target precision
chosen over the validation events' scores; then the test events at or above their class's
threshold are counted: their measured precision (true among them), per class and pooled,
against the target. Nothing of the test recordings chooses anything.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from whalelab.bench.result import save_result
from whalelab.calibration import (MIN_EACH, MIN_EVENTS, TARGETS, fit_calibration,
                                  reviewed_truth)
from whalelab.checkpoint import load_model
from whalelab.detection import detect_files, detection_settings
from whalelab.detection.material import annotated_recordings, annotated_truth
from whalelab.errors import DataError
from whalelab.review import Review, truth_decisions


def reviewed_by_truth(trained: Any, recordings: str | Path, out: Path, *, threshold: float,
                      device: str, progress: bool | None, limit: int | None = None,
                      order: str = "score", around: float = 0.5) -> Review:
    """Detect at ``threshold`` over the annotated recordings of ``recordings`` into ``out``
    and decide its events from the annotations: every one, or the first ``limit`` in the
    review's ``order`` (:meth:`Review.order`; ``margin`` around ``around``), as a person
    paging through the widget would (resumes: decided events are kept and counted)."""
    pairs = annotated_recordings(recordings)
    if not pairs:
        raise DataError(f"{recordings}: no annotated recordings (audio with a Raven table)")
    settings = detection_settings(trained.config, threshold=threshold)
    events = detect_files(trained, [audio for audio, _ in pairs], out, settings=settings,
                          device=device, progress=progress)
    review = Review(out, classes=trained.classes)
    truth = annotated_truth(pairs, trained.config.data.label_column)
    decisions = truth_decisions(events, truth)
    waiting = review.order(by=order, threshold=around)
    if limit is not None:
        waiting = waiting[:max(0, limit - len(review.decided))]
    for position in waiting:
        review.mark(position, decisions[position])
    return review


def held_out_precision(fits: dict, validation: pd.DataFrame, test: pd.DataFrame,
                       targets: Sequence[float] = TARGETS) -> list[dict[str, Any]]:
    """For each target and class (and ``all``): the threshold chosen on ``validation``'s
    reviewed events and the precision measured on ``test``'s events at or above it."""
    rows = []
    for target in targets:
        kept = []
        for label, fit in fits.items():
            scores = validation.loc[validation["label"] == label, "score"].to_numpy()
            threshold = fit.threshold_for_precision(target, scores)
            mine = test[test["label"] == label]
            passed = mine[mine["score"] >= threshold] if threshold is not None else mine[:0]
            kept.append(passed)
            rows.append({"target": target, "class": label, "threshold": threshold,
                         "test_events": len(passed),
                         "precision": float(passed["true"].mean()) if len(passed) else None})
        pooled = pd.concat(kept)
        rows.append({"target": target, "class": "all", "threshold": None,
                     "test_events": len(pooled),
                     "precision": float(pooled["true"].mean()) if len(pooled) else None})
    return rows


def calibration_bench(run: str | Path, validation: str | Path, test: str | Path,
                      out: str | Path, *, threshold: float = 0.2, device: str = "auto",
                      progress: bool | None = None) -> dict[str, Any]:
    """The module's measurement (see its notes): the fits' counts and, per target and
    class, the validation threshold and the held-out precision."""
    trained, out = load_model(run, device=device), Path(out)
    reviewed = {name: reviewed_by_truth(trained, folder, out / name, threshold=threshold,
                                        device=device, progress=progress)
                for name, folder in (("validation", validation), ("test", test))}
    truth = {name: reviewed_truth(review.table) for name, review in reviewed.items()}
    classes = [label for label in trained.classes
               if _calibratable(truth["validation"], label)]
    fits = fit_calibration(reviewed["validation"].table, classes=classes)
    return {"run": str(run), "detect_threshold": threshold,
            "validation_events": len(truth["validation"]), "test_events": len(truth["test"]),
            "classes": {label: {"reviewed": fit.reviewed, "true": fit.true}
                        for label, fit in fits.items()},
            "left_out": sorted(set(trained.classes) - set(classes)),
            "held_out": held_out_precision(fits, truth["validation"], truth["test"])}


def _calibratable(truth: pd.DataFrame, label: str) -> bool:
    """Whether ``label``'s reviewed events are enough to fit (as
    :func:`~whalelab.calibration.fit_calibration` asks: :data:`MIN_EVENTS`, :data:`MIN_EACH`)."""
    outcome = truth.loc[truth["label"] == label, "true"]
    return len(outcome) >= MIN_EVENTS and min(outcome.sum(), (~outcome).sum()) >= MIN_EACH


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", required=True, help="the trained run")
    parser.add_argument("--validation", required=True, help="folder of annotated recordings")
    parser.add_argument("--test", required=True, help="folder of held-out annotated recordings")
    parser.add_argument("--out", required=True, help="folder for detections and result.json")
    parser.add_argument("--threshold", type=float, default=0.2, help="detection threshold")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    return save_result(args.out, lambda: calibration_bench(
        args.run, args.validation, args.test, args.out, threshold=args.threshold,
        device=args.device), lambda result: pd.DataFrame(result["held_out"]).round(3).to_string(
            index=False))

if __name__ == "__main__":
    sys.exit(main())
