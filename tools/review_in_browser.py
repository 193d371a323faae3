"""The review widget in JupyterLab in a real browser: buttons and keys save the table, and
a kernel restart resumes where the review stopped.

    .venv/bin/python tools/review_in_browser.py [--keep]

Writes a temporary review folder (a 3 s noise WAV at 8 kHz, ``events.csv`` with three
events scored 0.9, 0.6 and 0.3, and ``review.ipynb`` showing
``review_widget(Review(folder), speed=1.0)``), starts JupyterLab on it
(``python -m whalelab.lab``, no browser, a free port, a token of its own, its settings and
workspaces in the folder) and drives headless Chromium (``/usr/bin/chromium``, through
Playwright; nothing is downloaded) through the review:

1. Run > Run All Cells; click ``true``: the highest-scored event reads ``true`` in
   ``review.csv``; click ``false``: the second reads ``false``;
2. Kernel > Restart Kernel and Run All Cells (confirmed): a new widget replaces the old one
   and its header says ``event 3 of 3`` (the review went on at the undecided event);
3. type ``u`` in the keys box: the third event reads ``unsure``.

Prints ``review widget: ... ok`` and exits 0, or prints one line naming the step that
failed, with a screenshot (and JupyterLab's log) kept outside the deleted folder, and
exits 1. JupyterLab and the browser are stopped and the folder deleted either way; the
whole run is bounded by ``TIME_LIMIT_S``.

``--keep`` keeps the folder.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import soundfile

# Debian's Chromium; another on PATH where there is none
CHROMIUM = ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists()
            else shutil.which("chromium") or "/usr/bin/chromium")
TIME_LIMIT_S = 170          # the whole run, cleanup included, stays under 3 minutes
LAB_START_S = 90            # JupyterLab's first start: 20-40 s on a busy 2-core machine
WIDGET_S = 60               # kernel start, imports, first drawing
SAVE_S = 20                 # a decision reaching review.csv
PLACEHOLDER = "keys: t true, f false, u unsure"
SCORES = (0.9, 0.6, 0.3)

REAL_CELL = """\
from whalelab.review import Review
from whalelab.plots.review import review_widget
review_widget(Review({folder!r}), speed=1.0)"""

class StepFailed(Exception):
    """A step of the check failed: ``step`` names it."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(message)
        self.step = step


class Steps:
    """The step running now, for the message when something fails."""

    def __init__(self) -> None:
        self.now = "setup"
        self.log: list[tuple[str, float]] = []
        self.start = time.monotonic()

    def __call__(self, name: str) -> None:
        self.now = name
        self.log.append((name, time.monotonic() - self.start))


def write_folder(folder: Path) -> Path:
    """The WAV, ``events.csv`` and ``review.ipynb`` in ``folder``; returns the notebook."""
    rate = 8000
    rng = np.random.default_rng(0)
    wav = folder / "noise.wav"
    soundfile.write(wav, (0.1 * rng.standard_normal(3 * rate)).astype(np.float32), rate)
    # table order differs from score order, so "highest score first" is really checked
    pd.DataFrame({
        "file": [str(wav)] * 3,
        "begin_s": [0.2, 1.2, 2.2],
        "end_s": [0.8, 1.8, 2.8],
        "low_hz": [200.0] * 3,
        "high_hz": [2000.0] * 3,
        "label": ["a"] * 3,
        "score": [SCORES[1], SCORES[0], SCORES[2]],
    }).to_csv(folder / "events.csv", index=False)
    source = REAL_CELL.format(folder=str(folder))
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    path = folder / "review.ipynb"
    nbformat.write(notebook, path)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_lab(folder: Path, port: int, token: str, log_path: Path) -> subprocess.Popen:
    """JupyterLab on ``folder``, headless, its user settings and workspaces in ``folder``
    (so neither the user's layout nor an earlier run's opens tabs of its own)."""
    env = dict(os.environ)
    for name, sub in (("JUPYTERLAB_SETTINGS_DIR", "lab-settings"),
                      ("JUPYTERLAB_WORKSPACES_DIR", "lab-workspaces"),
                      ("JUPYTER_RUNTIME_DIR", "jupyter-runtime")):
        env[name] = str(folder / ".jupyter" / sub)
    # no "get notified about Jupyter news?" toast over the page, no request for news
    notification = (folder / ".jupyter" / "lab-settings" / "@jupyterlab" /
                    "apputils-extension" / "notification.jupyterlab-settings")
    notification.parent.mkdir(parents=True)
    notification.write_text('{"fetchNews": "false", "checkForUpdates": false}\n')
    env.setdefault("OMP_NUM_THREADS", "1")
    command = [sys.executable, "-m", "whalelab.lab", str(folder), "--no-browser",
               "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    with open(log_path, "wb") as log:
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=folder,
                                env=env, start_new_session=True)


def wait_for_lab(lab: subprocess.Popen, port: int, token: str) -> None:
    deadline = time.monotonic() + LAB_START_S
    url = f"http://127.0.0.1:{port}/api/status?token={token}"
    while time.monotonic() < deadline:
        if lab.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with status {lab.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"JupyterLab did not answer within {LAB_START_S} s")


def stop_lab(lab: subprocess.Popen) -> None:
    """SIGTERM (whalelab.lab stops the server and its kernels), then kill what is left of
    the process group this script started."""
    if lab.poll() is None:
        lab.terminate()
        try:
            lab.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(lab.pid, signal.SIGKILL)      # the group started here: stray kernels
    except (ProcessLookupError, PermissionError):
        pass
    try:
        lab.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def decisions(folder: Path) -> dict[float, str]:
    """``review.csv``'s decision of each event, by score (empty: none yet)."""
    path = folder / "review.csv"
    if not path.is_file():
        return {}
    try:
        table = pd.read_csv(path, keep_default_na=False, dtype={"review": str})
    except (OSError, ValueError, pd.errors.ParserError):   # read while being replaced
        return {}
    return {round(float(s), 6): r for s, r in zip(table["score"], table["review"])}


def wait_for_decision(folder: Path, score: float, expected: str) -> None:
    deadline = time.monotonic() + SAVE_S
    seen: dict[float, str] = {}
    while time.monotonic() < deadline:
        seen = decisions(folder)
        if seen.get(round(score, 6)) == expected:
            return
        time.sleep(0.25)
    raise AssertionError(f"review.csv did not read {expected!r} for the event scored "
                         f"{score} within {SAVE_S} s (decisions by score: {seen or 'none'})")


def run_check(folder: Path, notebook: Path, port: int, token: str, steps: Steps,
              state: dict) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        args = ["--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--mute-audio"]
        if os.geteuid() == 0:
            args.append("--no-sandbox")
        steps("launch Chromium")
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=args)
        page = None
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(WIDGET_S * 1000)
            console: list[str] = state.setdefault("console", [])
            page.on("console", lambda m: console.append(f"{m.type}: {m.text}")
                    if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))

            steps("open the notebook in JupyterLab")
            page.goto(f"http://127.0.0.1:{port}/lab/tree/{notebook.name}?reset&token={token}",
                      wait_until="domcontentloaded", timeout=LAB_START_S * 1000)
            page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for(state="visible")

            steps("wait for the kernel")
            wait_for_kernel(page)

            steps("Run > Run All Cells")
            page.locator(".jp-NotebookPanel .jp-CodeCell .jp-InputPrompt").first.click()
            if run_all(page, "Run", "Run All Cells") > 1:
                state.setdefault("notes", []).append("Run All Cells given twice")

            steps("wait for the widget's true button")
            true_button = button(page, "true")
            true_button.wait_for(state="visible")
            header = header_of(page)
            check_header(header, "event 1 of 3", "first showing")
            steps("the spectrogram image and the audio player")
            page.wait_for_function(
                """() => [...document.querySelectorAll('.jp-OutputArea-output img')]
                          .some(img => img.complete && img.naturalWidth > 100)
                      && document.querySelector('.jp-OutputArea-output audio')""",
                timeout=SAVE_S * 1000)

            steps("click true: the highest-scored event reads true")
            true_button.click()
            wait_for_decision(folder, SCORES[0], "true")

            steps("click false: the second-highest event reads false")
            check_header(header, "event 2 of 3", "after true")
            button(page, "false").click()
            wait_for_decision(folder, SCORES[1], "false")
            check_header(header, "event 3 of 3", "after false")

            steps("Kernel > Restart Kernel and Run All Cells (confirmed)")
            old = true_button.element_handle()
            menu(page, "Kernel", "Restart Kernel and Run All Cells")
            page.locator(".jp-Dialog .jp-mod-accept").click()
            page.locator(".jp-Dialog").wait_for(state="detached")
            # the old widget's view goes when the restarted run clears the output

            steps("after the restart: a new widget at event 3 of 3")
            # (its header already says event 3 of 3, so only a new widget counts)
            page.wait_for_function("el => !el.isConnected", arg=old,
                                   timeout=WIDGET_S * 1000)
            button(page, "true").wait_for(state="visible")
            check_header(header_of(page), "event 3 of 3", "after the restart")
            check_header(header_of(page), "decided 2", "after the restart")

            steps("type u in the keys box: the third event reads unsure")
            keys = page.get_by_placeholder(PLACEHOLDER)
            keys.click()
            keys.press_sequentially("u", delay=50)
            wait_for_decision(folder, SCORES[2], "unsure")
            final = decisions(folder)
            expected = dict(zip((round(s, 6) for s in SCORES), ("true", "false", "unsure")))
            if final != expected:
                raise AssertionError(f"review.csv reads {final}, not {expected}")
        except BaseException:
            shot = state.get("screenshot")
            if shot is not None and page is not None:
                try:
                    page.screenshot(path=str(shot), full_page=True, timeout=10_000)
                except Exception:     # noqa: BLE001, S110 - the failure itself is reported
                    pass
            raise
        finally:
            browser.close()


def menu(page, top: str, item: str) -> None:
    """Open the main menu ``top`` and choose ``item`` (a label's start: "…" may end it)."""
    page.locator(".lm-MenuBar-item", has_text=top).first.click()
    page.locator(".lm-Menu-item:not(.lm-mod-hidden)").filter(
        has=page.locator(".lm-Menu-itemLabel", has_text=item)).first.click()


def wait_for_kernel(page) -> None:
    """Until the status bar says the notebook's kernel is idle (the toolbar's indicator
    says idle before there is a kernel): menu commands given earlier can be lost."""
    page.locator(".jp-StatusBar-Widget").filter(
        has_text=re.compile(r"\| Idle")).first.wait_for(state="visible")


def run_all(page, top: str, item: str) -> int:
    """``menu(page, top, item)``, once more if the first cell's prompt still reads
    ``[ ]:`` after a few seconds (the command went nowhere); returns the tries."""
    prompt = page.locator(".jp-NotebookPanel .jp-CodeCell .jp-InputPrompt").first
    for attempt in range(2):
        menu(page, top, item)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if prompt.inner_text().strip() not in ("[ ]:", ""):
                return attempt + 1
            time.sleep(0.25)
    raise AssertionError(f"{top} > {item} twice: the cell did not start running")


def button(page, description: str):
    """The widget's button whose text is exactly ``description``."""
    return page.locator(".jp-OutputArea-output").get_by_role(
        "button", name=description, exact=True).first


def header_of(page):
    """The widget's header: the ipywidgets HTML that says ``event K of N``."""
    return page.locator(".jp-OutputArea-output .widget-html").filter(
        has_text="event ").first


def check_header(header, text: str, when: str, timeout_s: float = SAVE_S) -> None:
    deadline = time.monotonic() + timeout_s
    seen = ""
    while time.monotonic() < deadline:
        try:
            seen = " ".join(header.inner_text(timeout=2000).split())
        except Exception:     # noqa: BLE001 - re-rendering; try again
            seen = seen or "(no header)"
        if text in seen:
            return
        time.sleep(0.25)
    raise AssertionError(f"the header did not say {text!r} {when}; it says {seen!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    options = parser.parse_args(argv)

    steps = Steps()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    keep_dir = Path(tempfile.gettempdir())
    state: dict = {"screenshot": keep_dir / f"review_in_browser-{stamp}.png"}
    folder = Path(tempfile.mkdtemp(prefix="review_in_browser-"))
    lab_log = folder / ".jupyter-lab.log"
    lab = None

    def out_of_time(signum, frame):
        raise TimeoutError(f"the whole check ran past {TIME_LIMIT_S} s")

    signal.signal(signal.SIGALRM, out_of_time)
    signal.alarm(TIME_LIMIT_S - 20)           # leaves time to stop everything
    failure = None
    try:
        steps("check the browser")
        if not Path(CHROMIUM).exists():
            raise FileNotFoundError(f"no {CHROMIUM}")
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError as error:
            raise ImportError(f"{error}: .venv/bin/pip install playwright") from None
        steps("write the review folder")
        notebook = write_folder(folder)
        steps("start JupyterLab")
        port, token = free_port(), os.urandom(16).hex()
        lab = start_lab(folder, port, token, lab_log)
        wait_for_lab(lab, port, token)
        run_check(folder, notebook, port, token, steps, state)
    except BaseException as error:    # noqa: BLE001 - KeyboardInterrupt too: clean up
        failure = error
    finally:
        signal.alarm(0)
        if lab is not None:
            stop_lab(lab)
        if failure is not None and lab_log.is_file():
            state["lab_log"] = keep_dir / f"review_in_browser-{stamp}.lab.log"
            shutil.copyfile(lab_log, state["lab_log"])
        if failure is not None and state.get("console"):
            state["console_log"] = keep_dir / f"review_in_browser-{stamp}.console.log"
            state["console_log"].write_text("\n".join(state["console"]) + "\n")
        if options.keep:
            print(f"kept {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)

    seconds = time.monotonic() - steps.start
    if failure is None:
        print(f"review widget: whalelab.plots.review in JupyterLab + headless Chromium: true, false, "
              f"restart resumed at event 3 of 3, key u: ok ({seconds:.0f} s"
              f"{''.join('; ' + note for note in state.get('notes', []))})")
        return 0
    message = " ".join(str(failure).split()) or type(failure).__name__
    where = [f"screenshot {state['screenshot']}"] if Path(state["screenshot"]).is_file() \
        else ["no screenshot (no page yet)"]
    where += [f"{name.replace('_', ' ')} {state[name]}" for name in ("lab_log",
                                                                      "console_log")
              if name in state]
    print(f"review widget: FAILED at step '{steps.now}' after {seconds:.0f} s: "
          f"{type(failure).__name__}: {message} ({'; '.join(where)})")
    return 1


if __name__ == "__main__":
    sys.exit(main())
