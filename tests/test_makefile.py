"""The Makefile's front door: ``make lab`` starts (as root too), says where, and stops."""

from __future__ import annotations

import os
import pty
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STAMP = ".venv/.whalelab-installed"  # the Makefile's setup stamp: taken as done, never redone
URL = re.compile(r"http://(?:localhost|127\.0\.0\.1):(?P<port>\d+)/lab\?token=\w+")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def comes_to_listen(port: int, within_s: float = 30.0) -> bool:
    """Jupyter Server prints its URL before its loop binds the port (the bind is a
    callback on the loop), so the port is polled for a while, not checked once."""
    started = time.monotonic()
    while not listening(port):
        if time.monotonic() - started > within_s:
            return False
        time.sleep(0.2)
    return True


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("make") is None or not (ROOT / ".venv/bin/jupyter").exists(),
                    reason="needs make and the project's .venv")
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_make_lab_prints_its_url_and_stops_cleanly(stop):
    """As a person runs it: a terminal on stdin (JupyterLab's own Ctrl-C handler, which
    asks in a thread, is installed only there), the signal sent to the whole process group
    as a terminal's Ctrl-C is."""
    port = free_port()
    terminal, stdin = pty.openpty()
    lab = subprocess.Popen(["make", "-o", STAMP, "lab", f"LAB_FLAGS=--port={port} --no-browser"],
                           cwd=ROOT, stdin=stdin, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, start_new_session=True)
    os.close(stdin)
    said: list[str] = []
    reader = threading.Thread(target=lambda: said.extend(
        line.decode(errors="replace") for line in lab.stdout), daemon=True)
    reader.start()
    try:
        started = time.monotonic()
        while not any(URL.search(line) for line in said) and lab.poll() is None \
                and time.monotonic() - started < 120:
            time.sleep(0.2)
        text = "".join(said)
        assert "Running as root is not recommended" not in text
        found = URL.search(text)
        assert found and int(found["port"]) == port, text[-2000:]
        assert comes_to_listen(port), text[-2000:]
        os.killpg(lab.pid, stop)
        lab.wait(timeout=30)  # no question asked, no second Ctrl-C needed
    finally:
        if lab.poll() is None:
            os.killpg(lab.pid, signal.SIGKILL)
        os.close(terminal)
    reader.join(timeout=10)
    text = "".join(said)
    assert "Shutting down" in text and "Traceback" not in text, text[-2000:]
    assert not listening(port)
    with pytest.raises(ProcessLookupError):  # nothing of it is left running
        os.killpg(lab.pid, 0)
