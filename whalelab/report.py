"""The report: every numbered notebook run through papermill, exported to HTML, indexed.

``whalelab report`` (and ``make report``) executes ``notebooks/[0-9][0-9]_*.ipynb`` in
order with the five knobs as papermill parameters, and writes into the report folder:

- ``<name>.ipynb``: the executed copy, with its outputs;
- ``<name>.html``: the same as a self-contained page (figures embedded);
- ``index.html``: links to both, the run's date, profile, device and paths, and the
  headline metrics of ``RUN/metrics.json`` when the notebooks wrote one.

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
from collections.abc import Iterator
from pathlib import Path

import nbformat
import papermill
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbconvert import HTMLExporter
from papermill.exceptions import PapermillExecutionError
from tqdm.auto import tqdm

import whalelab
from whalelab.atomic import write_text
from whalelab.errors import WhaleLabError
from whalelab.profiles import resolve_profile
from whalelab.runtime import resolve_device

NOTEBOOK_PATTERN = "[0-9][0-9]_*.ipynb"
KERNEL_NAME = "python3"
HEADLINE = ("accuracy", "macro_f1", "macro_ap", "macro_auc")
CELL_TIMEOUT_S = 2 * 3600  # no cell of the full profile on one GPU comes near this


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
    that the kernel's inline backend draws the figures into the notebook. Both variables
    are restored on exit; nothing is written outside a temporary folder.
    """
    saved = {name: os.environ.get(name) for name in ("JUPYTER_PATH", "MPLBACKEND")}
    with tempfile.TemporaryDirectory(prefix="whalelab-kernel-") as folder:
        spec = Path(folder) / "kernels" / KERNEL_NAME
        spec.mkdir(parents=True)
        (spec / "kernel.json").write_text(json.dumps({
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3 (whalelab)", "language": "python"}))
        os.environ["JUPYTER_PATH"] = os.pathsep.join(
            part for part in (folder, saved["JUPYTER_PATH"]) if part)
        os.environ.pop("MPLBACKEND", None)
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

    Raises :class:`WhaleLabError` naming the notebook and cell when a cell fails; the
    partly executed copy is still moved into place.
    """
    partial = entry.notebook.with_name(f".{entry.notebook.stem}.{os.getpid()}.part.ipynb")
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


def export_html(notebook: Path, target: Path) -> Path:
    """Write ``notebook`` as one self-contained HTML page (images embedded) to ``target``."""
    body, _ = HTMLExporter(template_name="lab", embed_images=True).from_filename(str(notebook))
    return write_text(target, body)


def _metrics_rows(run: Path) -> str:
    """Table rows of the headline metrics in ``RUN/metrics.json``, or a note why there are none."""
    path = run / "metrics.json"
    if not path.is_file():
        return f"<tr><td colspan=2>no {html.escape(str(path))}</td></tr>"
    try:
        metrics = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        return f"<tr><td colspan=2>{html.escape(str(path))} is unreadable ({error})</td></tr>"
    rows = []
    for name in HEADLINE:
        value = metrics.get(name)
        if value is None:
            continue
        interval = metrics.get("intervals_95", {}).get(name)
        extra = f" <small>(95 % interval {interval[0]:.3f} to {interval[1]:.3f})</small>" \
            if interval else ""
        rows.append(f"<tr><th>{name}</th><td>{value:.3f}{extra}</td></tr>")
    rows.append(f"<tr><th>clips</th><td>{metrics.get('clips', '?')} "
                f"({html.escape(str(metrics.get('split', '?')))} split)</td></tr>")
    return "\n".join(rows)


def write_index(out: Path, entries: list[NotebookRun], facts: dict[str, str],
                run: Path) -> Path:
    """``index.html``: the report's facts, headline metrics and links to every notebook."""
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
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>whalelab report: {html.escape(facts['profile'])}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 52em; margin: 2em auto; padding: 0 1em; }}
th {{ text-align: left; padding-right: 1.5em; font-weight: 600; }}
li {{ margin: 0.4em 0; }} .failed {{ color: #b00020; }} .not-run {{ color: #777; }}
</style></head><body>
<h1>whalelab report</h1>
<table>
{fact_rows}
</table>
<h2>Test metrics</h2>
<table>
{_metrics_rows(run)}
</table>
<h2>Notebooks</h2>
<ol>
{chr(10).join(items)}
</ol>
</body></html>
"""
    return write_text(out / "index.html", page)


def run_report(out: str | Path, *, profile: str, device: str, data: str | Path,
               run: str | Path, seed: int, notebooks_dir: str | Path | None = None,
               progress: bool | None = None,
               cell_timeout_s: float | None = CELL_TIMEOUT_S) -> list[Path]:
    """Execute every numbered notebook in order into ``out``; return the executed copies.

    Parameters
    ----------
    out : path
        The report folder (made if missing): executed notebooks, their HTML, ``index.html``.
    profile, device, data, run, seed
        The papermill parameters of every notebook. ``profile`` ``auto`` is resolved
        first; ``data`` and ``run`` are made absolute so that they mean the same inside
        the notebooks, whose working directory is the notebooks folder.
    notebooks_dir : path or None
        Where ``[0-9][0-9]_*.ipynb`` are; None is the checkout's ``notebooks/``.
    progress : bool or None
        papermill's cell progress bars and a line per notebook; None shows them only on a
        terminal.
    cell_timeout_s : float or None
        A cell running longer fails the report (None waits for ever).

    Raises
    ------
    WhaleLabError
        A notebook failed: the message names it and the cell. Its partly executed copy,
        the HTML of every notebook run so far and ``index.html`` are written first.
    """
    out = Path(out).resolve()
    run = Path(run).resolve()
    torch_device = resolve_device(device)
    profile = resolve_profile(profile, device=device).name
    sources = find_notebooks(notebooks_dir if notebooks_dir is not None
                             else default_notebooks_dir())
    parameters = {"profile": profile, "device": device, "data": str(Path(data).resolve()),
                  "run": str(run), "seed": int(seed)}
    facts = {"date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
             "profile": profile,
             "device": device if device == str(torch_device) else f"{device} ({torch_device})",
             "data": parameters["data"], "run": parameters["run"], "seed": str(seed),
             "whalelab": whalelab.__version__, "python": sys.executable}
    entries = [NotebookRun(source=source, notebook=out / source.name,
                           html=out / f"{source.stem}.html", title=notebook_title(source))
               for source in sources]
    show = sys.stderr.isatty() if progress is None else progress
    out.mkdir(parents=True, exist_ok=True)
    with kernel_for_this_python() as kernel:
        for entry in entries:
            try:
                _execute(entry, parameters, kernel, show, cell_timeout_s)
            finally:
                if entry.notebook.exists() and entry.status != "not run":
                    export_html(entry.notebook, entry.html)
                    write_index(out, entries, facts, run)
            if show:
                tqdm.write(f"{entry.source.name}: {entry.status} in {entry.seconds:.0f} s")
    return [entry.notebook for entry in entries]
