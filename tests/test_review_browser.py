"""The review widget in JupyterLab in headless Chromium (tools/review_in_browser.py):
the buttons and the keys box save review.csv, and a kernel restart resumes the review."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "tools" / "review_in_browser.py"


def _chromium() -> str | None:
    if Path("/usr/bin/chromium").exists():
        return "/usr/bin/chromium"
    return shutil.which("chromium")


@pytest.mark.slow
def test_review_widget_in_browser():
    if importlib.util.find_spec("playwright") is None:
        pytest.skip("playwright is not installed (pip install playwright; no browser "
                    "download needed: the check drives /usr/bin/chromium)")
    if _chromium() is None:
        pytest.skip("no Chromium: /usr/bin/chromium missing and none on PATH")
    result = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True,
                            check=False, timeout=240)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert result.stdout.startswith("review widget:") and ": ok (" in result.stdout
