"""whalelab.report and the committed notebooks: papermill runs, HTML, index, failures."""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path

import nbformat
import pytest

from whalelab.cli import main
from whalelab.errors import WhaleLabError
from whalelab.report import find_notebooks, run_report

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
COMMITTED = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
KNOBS = {"profile", "device", "data", "run", "seed"}
PARAMETERS = 'profile = "quick"\ndevice = "auto"\ndata = "x"\nrun = "y"\nseed = 0'


def write_notebook(path: Path, *sources: str, heading: str = "# A notebook") -> Path:
    """A notebook of a markdown heading, a parameters cell, then ``sources`` as code cells."""
    parameters = nbformat.v4.new_code_cell(PARAMETERS)
    parameters.metadata["tags"] = ["parameters"]
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell(heading), parameters,
        *(nbformat.v4.new_code_cell(source) for source in sources)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    nbformat.write(notebook, path)
    return path


def stream_text(notebook: Path) -> str:
    cells = nbformat.read(notebook, as_version=4).cells
    return "".join(output.get("text", "") for cell in cells if cell.cell_type == "code"
                   for output in cell.outputs)


def test_two_notebooks_one_failing(tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    write_notebook(folder / "01_fine.ipynb",
                   "import os, sys\nprint('python', sys.executable)\nprint('cwd', os.getcwd())",
                   "print('knobs', profile, device, seed, data, run)", heading="# Fine one")
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
    # the failing one is left, partly executed, with its error; the later one never ran
    broken = nbformat.read(out / "02_broken.ipynb", as_version=4)
    errors = [output for cell in broken.cells if cell.cell_type == "code"
              for output in cell.outputs if output.output_type == "error"]
    assert [error.evalue for error in errors] == ["the whale swam off"]
    assert "never runs" not in stream_text(out / "02_broken.ipynb")
    assert not (out / "03_later.ipynb").exists()
    assert sorted(path.name for path in out.iterdir()) == [
        "01_fine.html", "01_fine.ipynb", "02_broken.html", "02_broken.ipynb", "index.html"]

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
    assert assigned == KNOBS
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
    for call in ("train(config, run, index=index, resume=True)", "plots.learning_curves"):
        assert call in sources["02_training.ipynb"], call
    for call in ("plots.attention", "plots.live"):
        assert call in sources["03_attention.ipynb"], call
    for call in ("evaluate_run", "plots.confusion_matrix", "plots.pr_curves",
                 "plots.roc_curves", "Audio("):
        assert call in sources["04_evaluation.ipynb"], call


@pytest.mark.slow
def test_smoke_report(tmp_path):
    """The whole `make report PROFILE=smoke` path: synthetic data, training, every notebook."""
    from whalelab.synth import make_dataset

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
    assert (tmp_path / "run" / "metrics.json").is_file()
    assert "macro_ap" in index


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
