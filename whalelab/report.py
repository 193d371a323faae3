"""The report: every numbered notebook run through papermill, exported to HTML, indexed.

``whalelab report`` (and ``make report``) executes ``notebooks/[0-9][0-9]_*.ipynb`` in
order with the five knobs as papermill parameters (and, when given, ``data_options``,
how the data is read, and ``detect``, recordings to run detection over; and
``probe_run``, the folder of the run on BirdNET's embeddings that notebooks 02 and 03
train and show beside ``run``: ``<run>-probe`` unless given), and writes into the report
folder:

- ``<name>.ipynb``: the executed copy, with its outputs;
- ``<name>.html``: the same as a self-contained page that works offline (figures
  embedded, no script or stylesheet from the internet; a live widget shows the figure
  of its initial state, equations stay TeX text);
- ``index.html``: links to both with each notebook's status and time, the run's date,
  profile, device and paths, the licence of a pretrained model that the run or the probe
  run uses; the headline metrics of ``RUN/metrics.json`` and
  ``RUN/event_metrics.json`` when the notebooks wrote them, with their 95 % intervals,
  beside the ``baselines`` they hold and the model's paired lead over each; for events
  also false alarms per hour of call-free audio with their upper bound, and where the
  detection settings were chosen; and the report's provenance;
- ``provenance.json``: what made the report (:mod:`whalelab.provenance`): the git
  commit of the checkout and whether it had changes, a fingerprint of the data, package
  versions, the device, the resolved ``RUN/config.json`` and each notebook's time.

Each notebook runs in a kernel of *this* Python (a private ``python3`` kernelspec put
first on ``JUPYTER_PATH`` for the duration), with the notebooks folder as working
directory, as in JupyterLab. The first failing notebook stops the report with a
:class:`~whalelab.errors.WhaleLabError` that names the notebook and the cell; its partly
executed copy (and its HTML) stay in the report folder to look at.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import html
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2
import nbformat
import papermill
import torch
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbconvert import HTMLExporter
from papermill.exceptions import PapermillExecutionError
from tqdm.auto import tqdm
from traitlets.config import Config

import whalelab
from whalelab.atomic import write_json, write_text
from whalelab.errors import DataError, WhaleLabError
from whalelab.metrics.events import format_false_alarms
from whalelab.profiles import resolve_profile
from whalelab.provenance import data_fingerprint, device_description, git_state, package_versions
from whalelab.runtime import PROGRESS_VARIABLE, resolve_device

NOTEBOOK_PATTERN = "[0-9][0-9]_*.ipynb"
KERNEL_NAME = "python3"
HEADLINE = ("accuracy", "macro_f1", "macro_ap", "macro_auc")
#: parameters a notebook receives only when its ``parameters`` cell declares them (the
#: five knobs go to every notebook)
OPTIONAL_PARAMETERS = ("data_options", "detect", "probe_run")
#: the probe run's folder beside the run's: ``runs/quick`` -> ``runs/quick-probe``
PROBE_SUFFIX = "-probe"
CELL_TIMEOUT_S = 2 * 3600  # no cell of the full profile on one GPU comes near this
#: nbconvert's lab page less the three scripts it would load from a CDN, which no
#: setting can remove (``mathjax_url`` and ``require_js_url`` only change the address):
#: require.js (only widget views and JavaScript outputs need it), MathJax (equations
#: stay TeX text) and mermaid (no diagrams here). Served by a loader, so nothing is
#: installed as package data.
OFFLINE_TEMPLATE = "whalelab-offline.html.j2"
OFFLINE_TEMPLATE_SOURCE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""
#: the notebook metadata an exported page keeps; not the widget state, without which
#: nbconvert shows a widget's other outputs (the still of plots.live, text) instead of a
#: view that needs the widget manager from a CDN
KEPT_METADATA = {"kernelspec", "language_info", "title", "authors"}


@dataclasses.dataclass
class NotebookRun:
    """One notebook of the report: where its outputs are and how it went."""

    source: Path
    notebook: Path
    html: Path
    title: str
    status: str = "not run"  # "not run" | "ok" | "failed"
    seconds: float = 0.0


def default_notebooks_dir() -> Path:
    """The ``notebooks/`` folder of the whalelab checkout this package runs from."""
    return Path(whalelab.__file__).resolve().parent.parent / "notebooks"


def find_notebooks(folder: str | Path) -> list[Path]:
    """The numbered notebooks of ``folder`` in order; none raises :class:`WhaleLabError`."""
    folder = Path(folder)
    notebooks = sorted(folder.glob(NOTEBOOK_PATTERN)) if folder.is_dir() else []
    if not notebooks:
        raise WhaleLabError(f"{folder}: no notebooks named like {NOTEBOOK_PATTERN} "
                            f"(pass --notebooks with the folder that holds them)")
    return notebooks


def probe_run_beside(run: str | Path) -> Path:
    """The folder of the probe run that goes with ``run``: beside it, named
    ``<run>`` + :data:`PROBE_SUFFIX`.

    Examples
    --------
    >>> probe_run_beside("runs/quick").as_posix()
    'runs/quick-probe'
    """
    run = Path(run)
    return run.with_name(run.name + PROBE_SUFFIX)


def notebook_title(path: Path) -> str:
    """The first markdown heading of a notebook, else its file name."""
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return path.stem


@contextlib.contextmanager
def kernel_for_this_python() -> Iterator[str]:
    """A ``python3`` kernelspec that runs ``sys.executable``, first on ``JUPYTER_PATH``.

    Whatever kernels the user has installed, the notebooks then run in the Python (and
    so the virtual environment) that runs whalelab. ``MPLBACKEND`` is unset meanwhile so
    that the kernel's inline backend draws the figures into the notebook, and
    :data:`whalelab.runtime.PROGRESS_VARIABLE` is ``off``: a bar in an executed notebook
    is saved as first drawn, frozen at "0%". The variables are restored on exit; nothing
    is written outside a temporary folder.
    """
    saved = {name: os.environ.get(name)
             for name in ("JUPYTER_PATH", "MPLBACKEND", PROGRESS_VARIABLE)}
    with tempfile.TemporaryDirectory(prefix="whalelab-kernel-") as folder:
        spec = Path(folder) / "kernels" / KERNEL_NAME
        spec.mkdir(parents=True)
        (spec / "kernel.json").write_text(json.dumps({
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3 (whalelab)", "language": "python"}))
        os.environ["JUPYTER_PATH"] = os.pathsep.join(
            part for part in (folder, saved["JUPYTER_PATH"]) if part)
        os.environ.pop("MPLBACKEND", None)
        os.environ[PROGRESS_VARIABLE] = "off"
        try:
            yield KERNEL_NAME
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def _failure_message(name: str, error: Exception, notebook: Path) -> str:
    """``02_training.ipynb: cell In [6] `result = train(...` failed with ValueError: ...``.

    ``In [n]`` is the execution count the executed copy shows (papermill's injected
    parameters cell counts too).
    """
    if isinstance(error, PapermillExecutionError):
        first_line = next((line for line in error.source.splitlines() if line.strip()), "")
        where = (f"cell In [{error.exec_count}] `{first_line.strip()}` failed with "
                 f"{error.ename}: {error.evalue}")
    elif isinstance(error, CellTimeoutError):
        where = f"a cell ran out of time ({str(error).splitlines()[0]})"
    else:
        where = f"the kernel died ({type(error).__name__}: {error}); out of memory?"
    return f"{name}: {where}. The partly executed notebook is {notebook}"


def _execute(entry: NotebookRun, parameters: dict, kernel: str, show: bool,
             cell_timeout_s: float | None) -> None:
    """Run one notebook into ``entry.notebook``; the executed copy appears whole, by rename.

    The :data:`OPTIONAL_PARAMETERS` among ``parameters`` go only to a notebook whose
    ``parameters`` cell declares them.

    Raises :class:`WhaleLabError` naming the notebook and cell when a cell fails; the
    partly executed copy is still moved into place.
    """
    partial = entry.notebook.with_name(f".{entry.notebook.stem}.{os.getpid()}.part.ipynb")
    declared = papermill.inspect_notebook(str(entry.source))
    parameters = {name: value for name, value in parameters.items()
                  if name not in OPTIONAL_PARAMETERS or name in declared}
    started = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(entry.source), str(partial), parameters=parameters, kernel_name=kernel,
            language="python", cwd=str(entry.source.parent), progress_bar=show,
            execution_timeout=cell_timeout_s)
        entry.status = "ok"
    except (PapermillExecutionError, CellTimeoutError, DeadKernelError) as error:
        entry.status = "failed"
        raise WhaleLabError(_failure_message(entry.source.name, error, entry.notebook)) from None
    finally:
        entry.seconds = time.perf_counter() - started
        if partial.exists():
            os.replace(partial, entry.notebook)


def html_exporter() -> HTMLExporter:
    """nbconvert's ``lab`` HTML exporter for pages that work offline.

    Figures and markdown images are embedded, the lab theme's CSS is inline (as always),
    the page loads no script (:data:`OFFLINE_TEMPLATE_SOURCE`) and the widget state is
    left out (``ClearMetadataPreprocessor`` keeping :data:`KEPT_METADATA`), so each
    widget shows its still or its text instead of an empty box.
    """
    config = Config({"ClearMetadataPreprocessor": {
        "enabled": True, "clear_cell_metadata": False,
        "preserve_nb_metadata_mask": KEPT_METADATA}})
    return HTMLExporter(
        config=config, template_name="lab", template_file=OFFLINE_TEMPLATE,
        extra_loaders=[jinja2.DictLoader({OFFLINE_TEMPLATE: OFFLINE_TEMPLATE_SOURCE})],
        embed_images=True)


def export_html(notebook: Path, target: Path) -> Path:
    """Write ``notebook`` to ``target`` as one HTML page that needs nothing else (see
    :func:`html_exporter`)."""
    body, _ = html_exporter().from_filename(str(notebook))
    return write_text(target, body)


def _read_json(path: Path) -> tuple[dict | None, str]:
    """The JSON object in ``path`` and "", or None and why there is none (plain text)."""
    if not path.is_file():
        return None, f"no {path}"
    try:
        value = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        return None, f"{path} is unreadable ({error})"
    return (value, "") if isinstance(value, dict) else (None, f"{path} holds no JSON object")


def _number(value: Any) -> str | None:
    """``0.812`` for a number, None for anything else (a missing figure)."""
    return f"{value:.3f}" if isinstance(value, int | float) and not isinstance(value, bool) \
        else None


def _with_interval(*keys: str) -> Callable[[dict], str | None]:
    """A cell of a metrics table: the figure ``figures[keys[0]][keys[1]]...`` with its 95 %
    interval ``figures["intervals_95"][keys[-1]]`` where the file holds one.

    Examples
    --------
    >>> _with_interval("overall", "f1")({"overall": {"f1": 0.9},
    ...                                  "intervals_95": {"f1": [0.8, 0.95]}})
    '0.900 <small>(95 % interval 0.800 to 0.950)</small>'
    """
    def cell(figures: dict) -> str | None:
        value: Any = figures
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        value = _number(value)
        interval = (figures.get("intervals_95") or {}).get(keys[-1])
        if value is None or not interval:
            return value
        return f"{value} <small>(95 % interval {interval[0]:.3f} to {interval[1]:.3f})</small>"
    return cell


def _clips(figures: dict) -> str | None:
    """A cell of the clip metrics table: how many clips were scored, and of which split
    where the figures name it."""
    if "clips" not in figures:
        return None
    split = figures.get("split")
    return html.escape(str(figures["clips"])) + (f" ({html.escape(str(split))} split)"
                                                 if split else "")


def _event_counts(figures: dict) -> str | None:
    """A cell of the event metrics table: true positives, false positives, misses."""
    overall = figures.get("overall") or {}
    return " / ".join(str(overall[key]) for key in ("tp", "fp", "fn")) \
        if all(key in overall for key in ("tp", "fp", "fn")) else None


def _false_alarms(figures: dict) -> str | None:
    """A cell of the event metrics table: false alarms in call-free audio, their rate per
    hour and its 95 % upper bound (:func:`whalelab.metrics.events.format_false_alarms`; a
    few call-free minutes never show a rate of 0)."""
    line = format_false_alarms(figures)
    return None if line is None else html.escape(line)


def _model_lead(figures: dict) -> str | None:
    """A cell of the clip metrics table: the model's macro F1 minus a baseline's, with its
    paired interval, in the baseline's column; a dash in the model's."""
    lead = (figures.get("model_minus_baseline") or {}).get("macro_f1")
    if lead is None:
        return "&ndash;" if "baselines" in figures else None
    low, high = lead["interval_95"]
    return (f"{lead['value']:+.3f} <small>(paired 95 % interval {low:+.3f} to "
            f"{high:+.3f})</small>")


CLIP_ROWS = [*((name, _with_interval(name)) for name in HEADLINE), ("clips", _clips),
             ("macro F1: model minus this baseline", _model_lead)]
EVENT_ROWS = [("precision", _with_interval("overall", "precision")),
              ("recall", _with_interval("overall", "recall")),
              ("F1", _with_interval("overall", "f1")),
              ("macro F1", _with_interval("macro_f1")),
              ("events tp / fp / fn", _event_counts),
              ("false alarms", _false_alarms)]


def _baseline_columns(baselines: Any) -> list[tuple[str, dict]]:
    """(name, figures) of each baseline: ``baselines`` is one set of figures of the model's
    structure (named by its ``method``), or a mapping of names to such sets."""
    if not isinstance(baselines, dict):
        return []
    if "method" in baselines or any(key in baselines for key in (*HEADLINE, "overall")):
        return [(str(baselines.get("method", "baseline")), baselines)]
    return [(str(name), entry) for name, entry in baselines.items() if isinstance(entry, dict)]


def _side_by_side(path: Path, rows: list[tuple[str, Callable[[dict], str | None]]]) -> str:
    """A table of the figures in the JSON file ``path``: the model, then each baseline.

    A row appears when the model has that figure; a column per baseline of the file's
    ``baselines`` (:func:`_baseline_columns`), when it has any. A missing or unreadable
    file gives a line saying so.
    """
    figures, why = _read_json(path)
    if figures is None:
        return f"<p>{html.escape(why)}</p>"
    # a baseline is scored on the model's clips or recordings: its split is the model's
    shared = {"split": figures["split"]} if "split" in figures else {}
    baselines = _baseline_columns(figures.get("baselines"))
    columns = [("model", figures),
               *((f"baseline: {name}", {**shared, **entry}) for name, entry in baselines)]
    lines = ["<table>", "<tr><th></th>" + "".join(
        f"<th>{html.escape(str(name))}</th>" for name, _ in columns) + "</tr>"]
    for label, cell in rows:
        cells = [cell(entry) for _, entry in columns]
        if cells[0] is not None:
            lines.append(f"<tr><th>{html.escape(label)}</th>" + "".join(
                f"<td>{'&ndash;' if value is None else value}</td>" for value in cells) + "</tr>")
    return "\n".join([*lines, "</table>"])


def _clip_heading(path: Path) -> str:
    """The heading of the clip metrics table, naming the clips they were scored on.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "metrics.json").write_text('{"split": "val"}')
    >>> _clip_heading(folder / "metrics.json")
    'Clip metrics on the validation split (the run keeps no test split: optimistic)'
    >>> _clip_heading(folder / "missing.json")
    'Clip metrics'
    """
    figures, _ = _read_json(path)
    split = (figures or {}).get("split")
    if split == "val":
        return "Clip metrics on the validation split (the run keeps no test split: optimistic)"
    if split == "all":
        return "Clip metrics on every clip of held-out data"
    return f"Clip metrics on the {split} split" if split else "Clip metrics"


def _event_note(path: Path) -> str:
    """What the event metrics were scored on (recordings, hours, matching criterion) and
    where their detection settings were chosen.

    Examples
    --------
    >>> import json, tempfile
    >>> path = Path(tempfile.mkdtemp()) / "event_metrics.json"
    >>> _ = path.write_text(json.dumps({"recordings": 4, "audio_hours": 0.3, "criterion":
    ...     {"iou": 0.3}, "settings": {"threshold": 0.65, "gate": False, "trim": True},
    ...     "settings_sweep": [{}] * 68}))
    >>> print(_event_note(path))  # doctest: +NORMALIZE_WHITESPACE
    <p>4 recordings, 0.30 h of audio; events matched by iou 0.3.
    The detection settings (threshold 0.65, gate False, trim True) were chosen on the
    validation recordings, from 68 tried; the figures below are of the test recordings,
    which chose nothing.</p>
    """
    figures, _ = _read_json(path)
    if figures is None:
        return ""
    criterion = ", ".join(f"{key} {value}" for key, value in
                          (figures.get("criterion") or {}).items())
    settings = figures.get("settings") or {}
    named = ", ".join(f"{key} {settings[key]}" for key in ("threshold", "gate", "trim")
                      if key in settings)
    named = f" ({html.escape(named)})" if named else ""
    if "settings_sweep" in figures:
        chosen = (f"The detection settings{named} were chosen on the validation recordings, "
                  f"from {len(figures['settings_sweep'])} tried; the figures below are of "
                  f"the test recordings, which chose nothing.")
    else:
        chosen = (f"The run's own detection settings{named} were used; none were chosen on "
                  f"validation recordings for these figures.")
    return (f"<p>{figures.get('recordings', '?')} recordings, "
            f"{figures.get('audio_hours', float('nan')):.2f} h of audio; events matched by "
            f"{html.escape(criterion) or '?'}.\n{chosen}</p>")


def _provenance_html(provenance: dict[str, Any]) -> str:
    """The provenance section of ``index.html``: code, data, device, packages, config."""
    git, data = provenance["git"], provenance["data"]
    tree = {True: "with uncommitted changes", False: "clean"}.get(git["dirty"], "unknown")
    if "sha256" in data:
        data_text = (f"{data['files']} files, {data['bytes']:,} bytes, SHA-256 "
                     f"<code>{data['sha256']}</code> <small>({html.escape(data['path'])})</small>")
    else:
        data_text = f"unknown ({html.escape(data['error'])})"
    packages = "\n".join(f"<tr><th>{html.escape(name)}</th><td>{html.escape(version)}</td></tr>"
                         for name, version in provenance["packages"].items())
    config = ("<pre>" + html.escape(json.dumps(provenance["config"], indent=2), quote=False)
              + "</pre>"
              if provenance["config"] is not None
              else f"<p>{html.escape(provenance['config_missing'])}</p>")
    return f"""<table>
<tr><th>git commit</th><td><code>{html.escape(git['commit'])}</code></td></tr>
<tr><th>work tree</th><td>{tree}</td></tr>
<tr><th>data fingerprint</th><td>{data_text}</td></tr>
<tr><th>hardware</th><td>{html.escape(provenance['device'])}</td></tr>
</table>
<h3>Packages</h3>
<table>
{packages}
</table>
<details><summary>Resolved configuration (<code>RUN/config.json</code>)</summary>
{config}
</details>"""


def gather_provenance(date: str, parameters: dict[str, Any], device: torch.device, *,
                      progress: bool | None) -> dict[str, Any]:
    """What is known of a report before its notebooks run: when, with which parameters,
    from which commit, on which data (fingerprinted; a missing data set is noted), with
    which packages and on which hardware (``device`` resolved)."""
    try:
        data = data_fingerprint(parameters["data"], progress=progress)
    except DataError as error:
        data = {"path": parameters["data"], "error": str(error)}
    return {"date": date, "parameters": parameters,
            "git": git_state(Path(whalelab.__file__).resolve().parent),
            "data": data, "packages": package_versions(), "device": device_description(device)}


def write_provenance(out: Path, provenance: dict[str, Any], entries: list[NotebookRun],
                     run: Path) -> dict[str, Any]:
    """``provenance.json``: ``provenance`` with the run's resolved configuration (or, as
    ``config_missing``, why there is none yet) and each notebook's status and time; the
    record is returned too."""
    config, why = _read_json(run / "config.json")
    record = {**provenance, "config": config,
              "notebooks": [{"notebook": entry.source.name, "status": entry.status,
                             "seconds": round(entry.seconds, 1)} for entry in entries]}
    if config is None:
        record["config_missing"] = why
    write_json(out / "provenance.json", record)
    return record


def _pretrained_models(configs: Sequence[dict | None]) -> str:
    """The pretrained models that run configurations (``config.json`` objects; None: none)
    embed, a blend's partner included, each once with its licence; "" where none does."""
    models = []
    for config in configs:
        model = (config or {}).get("model") or {}
        for part in (model, model.get("partner") or {}):
            embedder = part.get("embedder") or {}
            named = (f"{embedder['name']} {embedder['version']}, licence {embedder['licence']}"
                     if embedder.get("licence") else None)
            if named and named not in models:
                models.append(named)
    return "; ".join(models)


def write_index(out: Path, entries: list[NotebookRun], facts: dict[str, str],
                run: Path, provenance: dict[str, Any], *, probe_run: Path | None = None) -> Path:
    """``index.html``: the report's facts, the run's metrics beside its baselines, links
    to every notebook with its status and time, and ``provenance`` (as
    :func:`write_provenance` returns it). The licence of a pretrained model that the run
    (its configuration in ``provenance``) or ``probe_run`` uses is one of the facts."""
    models = _pretrained_models([provenance.get("config"), None if probe_run is None else
                                 _read_json(probe_run / "config.json")[0]])
    if models:  # a pretrained model's terms go wherever it is used
        facts = {**facts, "pretrained model": models}
    fact_rows = "\n".join(f"<tr><th>{html.escape(name)}</th><td>{html.escape(value)}</td></tr>"
                          for name, value in facts.items())
    items = []
    for entry in entries:
        if entry.status == "not run":
            links = "not run"
        else:
            links = (f'<a href="{html.escape(entry.html.name)}">{html.escape(entry.title)}</a>'
                     f' (<a href="{html.escape(entry.notebook.name)}">notebook</a>, '
                     f"{entry.seconds:.0f} s)")
        items.append(f'<li class="{entry.status.replace(" ", "-")}">'
                     f"<code>{html.escape(entry.source.name)}</code> {entry.status}: {links}</li>")
    events = run / "event_metrics.json"
    event_section = (f"<h2>Event metrics</h2>\n{_event_note(events)}\n"
                     f"{_side_by_side(events, EVENT_ROWS)}" if events.is_file() else "")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>whalelab report: {html.escape(facts['profile'])}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 52em; margin: 2em auto; padding: 0 1em; }}
th {{ text-align: left; padding-right: 1.5em; font-weight: 600; }}
td {{ padding-right: 1.5em; }} pre {{ background: #f6f6f6; padding: 0.8em; overflow-x: auto; }}
li {{ margin: 0.4em 0; }} .failed {{ color: #b00020; }} .not-run {{ color: #777; }}
</style></head><body>
<h1>whalelab report</h1>
<table>
{fact_rows}
</table>
<h2>{html.escape(_clip_heading(run / "metrics.json"))}</h2>
{_side_by_side(run / "metrics.json", CLIP_ROWS)}
{event_section}
<h2>Notebooks</h2>
<ol>
{chr(10).join(items)}
</ol>
<h2>Provenance</h2>
{_provenance_html(provenance)}
</body></html>
"""
    return write_text(out / "index.html", page)


def run_report(out: str | Path, *, profile: str, device: str, data: str | Path,
               run: str | Path, seed: int, notebooks_dir: str | Path | None = None,
               data_options: Mapping[str, Any] | None = None,
               detect: Sequence[str | Path] = (), probe_run: str | Path | None = None,
               progress: bool | None = None,
               cell_timeout_s: float | None = CELL_TIMEOUT_S) -> list[Path]:
    """Execute every numbered notebook in order into ``out``; return the executed copies.

    Parameters
    ----------
    out : path
        The report folder (made if missing): executed notebooks, their HTML, ``index.html``
        and ``provenance.json``.
    profile, device, data, run, seed
        The papermill parameters of every notebook. ``profile`` ``auto`` is resolved
        first; ``data`` and ``run`` are made absolute so that they mean the same inside
        the notebooks, whose working directory is the notebooks folder.
    notebooks_dir : path or None
        Where ``[0-9][0-9]_*.ipynb`` are; None is the checkout's ``notebooks/``.
    data_options : mapping or None
        How the data is read (:class:`whalelab.config.DataConfig` fields such as
        ``label_column`` or ``background_labels``), the ``data_options`` parameter that
        the training notebook hands to :func:`whalelab.training.plan_run`; passed only when
        not empty.
    detect : sequence of paths
        Audio files or folders the detection notebook runs the model over, the
        ``detect`` parameter (made absolute); passed only when given.
    probe_run : path or None
        The folder of the run on BirdNET's embeddings that the training notebook trains
        (resuming it, as ``run``) and the attention notebook shows, the ``probe_run``
        parameter (made absolute); None is :func:`probe_run_beside` ``run``.
    progress : bool or None
        papermill's cell progress bars, a line per notebook and the bar of a large data
        set's fingerprint; None shows them only on a terminal.
    cell_timeout_s : float or None
        A cell running longer fails the report (None waits for ever).

    Raises
    ------
    WhaleLabError
        A notebook failed: the message names it and the cell. Its partly executed copy,
        the HTML of every notebook run so far, ``index.html`` and ``provenance.json`` are
        written first.
    """
    out = Path(out).resolve()
    run = Path(run).resolve()
    probe_run = Path(probe_run).resolve() if probe_run is not None else probe_run_beside(run)
    torch_device = resolve_device(device)
    profile = resolve_profile(profile, device=device).name
    sources = find_notebooks(notebooks_dir if notebooks_dir is not None
                             else default_notebooks_dir())
    parameters = {"profile": profile, "device": device, "data": str(Path(data).resolve()),
                  "run": str(run), "seed": int(seed), "probe_run": str(probe_run)}
    if data_options:
        parameters["data_options"] = dict(data_options)
    if detect:
        parameters["detect"] = [str(Path(path).resolve()) for path in detect]
    facts = {"date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
             "profile": profile,
             "device": device if device == str(torch_device) else f"{device} ({torch_device})",
             "data": parameters["data"], "run": parameters["run"],
             "probe run": parameters["probe_run"], "seed": str(seed),
             "whalelab": whalelab.__version__, "python": sys.executable,
             **({"data options": json.dumps(parameters["data_options"])}
                if data_options else {}),
             **({"detect": ", ".join(parameters["detect"])} if detect else {})}
    entries = [NotebookRun(source=source, notebook=out / source.name,
                           html=out / f"{source.stem}.html", title=notebook_title(source))
               for source in sources]
    show = sys.stderr.isatty() if progress is None else progress
    provenance = gather_provenance(facts["date"], parameters, torch_device, progress=show)
    out.mkdir(parents=True, exist_ok=True)
    with kernel_for_this_python() as kernel:
        for entry in entries:
            try:
                _execute(entry, parameters, kernel, show, cell_timeout_s)
            finally:
                if entry.notebook.exists() and entry.status != "not run":
                    export_html(entry.notebook, entry.html)
                    record = write_provenance(out, provenance, entries, run)
                    write_index(out, entries, facts, run, record, probe_run=probe_run)
            if show:
                tqdm.write(f"{entry.source.name}: {entry.status} in {entry.seconds:.0f} s")
    return [entry.notebook for entry in entries]
