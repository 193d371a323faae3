"""The README's table of what a report measured, rendered from a run's recorded metrics.

``make readme-table RUN=runs/quick`` (``python -m whalelab.bench.readme --run runs/quick``)
copies the run's ``metrics.json`` and ``event_metrics.json`` into the record that the
README's table names (:func:`record_run`; committed, so that every number of the table
has its source in the repository), renders the table from that record
(:func:`render_table`) and writes it between the README's markers
(:func:`write_readme_table`). The first marker names the record::

    <!-- measured: begin, rendered from docs/measured/quick.json by `make readme-table` -->
    | what | figure | command |
    ...
    <!-- measured: end -->

A test renders the named record again and compares it with the README, so the table is
never typed by hand and cannot drift from the figures it claims.

Examples
--------
>>> record = {"source": {"run": "runs/quick"}, "metrics": {
...     "split": "test", "clips": 40, "macro_f1": 0.9, "macro_ap": 0.95, "accuracy": 0.875,
...     "macro_auc": 0.97, "macro_ece": 0.02, "intervals_95": {"macro_f1": [0.85, 0.94]}},
...     "event_metrics": None}
>>> print(render_table(record))  # doctest: +NORMALIZE_WHITESPACE
| what | figure | command |
| --- | --- | --- |
| the model on the test split (40 clips) | macro-F1 0.900 [0.850, 0.940], mAP 0.950,
  accuracy 0.875, macro AUC 0.970, ECE 0.020 | `whalelab evaluate runs/quick` |
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from whalelab.atomic import write_json, write_text
from whalelab.errors import DataError, WhaleLabError
from whalelab.metrics.events import false_alarm_rate_bound
from whalelab.provenance import git_state

#: the markers around the table in the README; the first names the record it is rendered from
BEGIN = re.compile(r"<!-- measured: begin, rendered from (?P<record>\S+) by "
                   r"`make readme-table` -->\n")
END = "<!-- measured: end -->"
#: the clip figures of a row, in order, with their names in the table
CLIP_FIGURES = (("macro_f1", "macro-F1"), ("macro_ap", "mAP"), ("accuracy", "accuracy"),
                ("macro_auc", "macro AUC"), ("macro_ece", "ECE"))


def record_run(run_dir: str | Path) -> dict[str, Any]:
    """What the table is rendered from: a run's ``metrics.json`` and ``event_metrics.json``
    (None where the run has none), with where and when they were recorded.

    Raises
    ------
    DataError
        When ``RUN/metrics.json`` is missing or unreadable (``make report`` writes it).
    """
    run_dir = Path(run_dir)

    def read(name: str, required: bool) -> dict[str, Any] | None:
        path = run_dir / name
        if not path.is_file():
            if required:
                raise DataError(f"{path}: no such file; `make report` (or `whalelab "
                                f"evaluate`) writes it")
            return None
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise DataError(f"{path} is unreadable: {error}") from None

    git = git_state(Path(__file__).resolve().parent)
    events = read("event_metrics.json", required=False)
    if events and events.get("data"):  # the recordings as the table's command names them
        events["data"] = _from_here(events["data"])
    return {"source": {"run": run_dir.as_posix(), "recorded": datetime.date.today().isoformat(),
                       "recorded_with_commit": git["commit"]},
            "metrics": read("metrics.json", required=True),
            "event_metrics": events}


def _from_here(path: str) -> str:
    """``path`` relative to the working folder where it lies inside it (a report records
    absolute paths; the README's commands run from the repository), else as it is."""
    try:
        return Path(path).resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path


def _with_interval(figures: dict[str, Any], name: str) -> str:
    """``0.904 [0.874, 0.927]``: a figure and, where ``intervals_95`` has it, its interval."""
    interval = (figures.get("intervals_95") or {}).get(name)
    text = f"{figures[name]:.3f}"
    return f"{text} [{interval[0]:.3f}, {interval[1]:.3f}]" if interval else text


def _clip_figures(figures: dict[str, Any]) -> str:
    return ", ".join(f"{label} {_with_interval(figures, name)}"
                     for name, label in CLIP_FIGURES if figures.get(name) is not None)


def _lead(lead: dict[str, Any]) -> str:
    """The model minus a baseline, each figure with its paired interval."""
    return ", ".join(
        f"{label} {lead[name]['value']:+.3f} [{lead[name]['interval_95'][0]:+.3f}, "
        f"{lead[name]['interval_95'][1]:+.3f}]"
        for name, label in CLIP_FIGURES if name in lead)


def _recall_by_snr(model: list[dict], baseline: list[dict] | None) -> str:
    """Each SNR bin: the model's recall with its interval, the baseline's, and the clips."""
    theirs = {entry["bin"]: entry["recall"] for entry in baseline or ()}
    cells = []
    for entry in model:
        if not entry["clips"]:
            cells.append(f"{entry['bin']} no clips")
            continue
        low, high = entry["interval_95"]
        other = theirs.get(entry["bin"])
        cells.append(f"{entry['bin']} {entry['recall']:.2f} [{low:.2f}, {high:.2f}]"
                     + ("" if other is None else f" / {other:.2f}")
                     + f" ({entry['clips']} clips)")
    return ", ".join(cells)


def _localisation(figures: dict[str, Any]) -> str:
    return (f"frame AUC {figures['macro_frame_auc']:.3f} macro, frame AP "
            f"{figures['macro_frame_ap']:.3f}, attention on the call "
            f"{figures['mean_attention_on_call']:.2f} (a flat spread: "
            f"{figures['mean_flat_share']:.2f}), onset / offset error (median) "
            f"{figures['onset_error_s']['median']:.2f} / "
            f"{figures['offset_error_s']['median']:.2f} s")


def _false_alarms(figures: dict[str, Any]) -> str:
    """False alarms per hour of call-free audio with the 95 % upper bound of their rate."""
    hours, rate = figures.get("hours_without_calls"), figures.get("false_alarms_per_hour")
    if not hours or rate is None:
        return "no call-free recording to count false alarms in"
    alarms = figures.get("false_alarms")
    alarms = round(rate * hours) if alarms is None else alarms
    bound = figures.get("false_alarms_per_hour_upper_95")
    bound = false_alarm_rate_bound(alarms, hours) if bound is None else bound
    return (f"{alarms} false alarms in {60 * hours:.0f} min of call-free audio "
            f"({rate:.0f} per hour, at most {bound:.0f} per hour at 95 %)")


def _events(figures: dict[str, Any]) -> str:
    overall = figures["overall"]
    return (f"F1 {_with_interval({**overall, 'intervals_95': figures.get('intervals_95')}, 'f1')}"
            f" (precision {overall['precision']:.3f}, recall {overall['recall']:.3f}; "
            f"tp / fp / fn {overall['tp']} / {overall['fp']} / {overall['fn']}), "
            + _false_alarms(figures))


def _event_scope(figures: dict[str, Any]) -> str:
    settings = figures.get("settings") or {}
    chosen = [name if settings[name] else f"no {name}" for name in ("gate", "trim")
              if name in settings]
    if "threshold" in settings:
        chosen.append(f"threshold {settings['threshold']:g}")
    criterion = ", ".join(f"{key} {value}" for key, value in
                          (figures.get("criterion") or {}).items())
    return (f"events on the held-out test recordings ({figures.get('recordings', '?')} "
            f"recordings, {60 * figures.get('audio_hours', 0):.0f} min; settings chosen on the "
            f"validation recordings: {', '.join(chosen) or '?'}; matched by {criterion or '?'})")


def render_table(record: dict[str, Any]) -> str:
    """The README's markdown table of a record (:func:`record_run`): the model on the
    held-out clips, each baseline beside it and the model's paired lead over it, recall by
    SNR, where the model looks, and the events of long recordings with each event
    baseline; rows the record has no figures for are left out."""
    run = record["source"]["run"]
    metrics, events = record["metrics"], record.get("event_metrics")
    evaluate = f"`whalelab evaluate {run}`"
    same = "(the same command)"
    rows = [(f"the model on the {metrics.get('split', '?')} split ({metrics['clips']} clips)",
             _clip_figures(metrics), evaluate)]
    baselines = metrics.get("baselines") or {}
    for name, figures in baselines.items():
        rows.append((f"the same clips, {figures.get('method', name)}", _clip_figures(figures),
                     same))
        if figures.get("model_minus_baseline"):
            rows.append((f"the model minus the {name} baseline, paired bootstrap",
                         _lead(figures["model_minus_baseline"]), same))
    if metrics.get("recall_by_snr"):
        compared = next((name for name, figures in baselines.items()
                         if figures.get("recall_by_snr")), None)
        rows.append(("recall of call clips by the faintest call's SNR, the model [95 % "
                     "interval]" + (f" / {compared}" if compared else ""),
                     _recall_by_snr(metrics["recall_by_snr"],
                                    compared and baselines[compared]["recall_by_snr"]), same))
    if metrics.get("localisation"):
        where = metrics["localisation"]
        rows.append((f"where the model looks ({where['clips']} clips with known call spans, "
                     f"{where['pairs']} calls)", _localisation(where), same))
    if events:
        data = Path(events.get("data") or "DATA/long/test").parent.as_posix()
        rows.append((_event_scope(events), _events(events),
                     f"`whalelab evaluate {run} --data {data}/test --validation {data}/val`"))
        for name, figures in (events.get("baselines") or {}).items():
            rows.append((f"the same recordings, {figures.get('method', name)}, tuned on the "
                         f"same validation recordings", _events(figures), same))
    lines = ["| what | figure | command |", "| --- | --- | --- |"]
    lines += [f"| {what} | {figure} | {command} |" for what, figure, command in rows]
    return "\n".join(lines)


def readme_table(text: str, *, where: str = "README.md") -> tuple[str, str]:
    """The record the README's table names and the table as it stands there.

    Raises
    ------
    WhaleLabError
        When ``text`` lacks either marker (``where`` names the file).
    """
    begin = BEGIN.search(text)
    end = text.find(END, begin.end()) if begin else -1
    if begin is None or end < 0:
        raise WhaleLabError(f"{where}: no table between '<!-- measured: begin, rendered "
                            f"from RECORD by `make readme-table` -->' and '{END}'")
    return begin["record"], text[begin.end():end].rstrip("\n")


def write_readme_table(readme: str | Path, run_dir: str | Path) -> Path:
    """Record ``run_dir``'s metrics in the file the README's table names (relative to the
    README's folder) and write the table rendered from it between the markers; returns
    the record's path."""
    readme = Path(readme)
    text = readme.read_text()
    name, old = readme_table(text, where=str(readme))
    record = record_run(run_dir)
    path = write_json(readme.parent / name, record)
    begin = BEGIN.search(text).end()
    write_text(readme, text[:begin] + text[begin:].replace(old, render_table(record), 1))
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m whalelab.bench.readme --run RUN [--readme README.md]``."""
    parser = argparse.ArgumentParser(
        prog="python -m whalelab.bench.readme",
        description="record a run's metrics and render the README's table of them")
    parser.add_argument("--run", required=True, help="the run folder (e.g. runs/quick)")
    parser.add_argument("--readme", default="README.md", help="the README to write into")
    args = parser.parse_args(argv)
    try:
        path = write_readme_table(args.readme, args.run)
    except WhaleLabError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{args.readme}: the measured table rendered from {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
