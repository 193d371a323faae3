"""whalelab.provenance: git state, data fingerprint, package versions, device."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess

import pytest
import torch

from whalelab import provenance
from whalelab.errors import DataError
from whalelab.provenance import (data_fingerprint, device_description, git_state,
                                 package_versions)

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def git(folder, *args):
    return subprocess.run(["git", "-C", str(folder), "-c", "user.name=t",
                           "-c", "user.email=t@example.org", *args],
                          check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def no_repo_above(tmp_path, monkeypatch):
    """git never looks above ``tmp_path``, wherever the temporary folder lies."""
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))


@needs_git
def test_git_state_names_the_commit_and_sees_changes(tmp_path, no_repo_above):
    repo = tmp_path / "repo"
    (repo / "pkg").mkdir(parents=True)
    git(repo, "init", "-q")
    (repo / "pkg" / "code.py").write_text("x = 1\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "first")
    head = git(repo, "rev-parse", "HEAD")

    assert git_state(repo / "pkg") == {"commit": head, "dirty": False}
    (repo / "pkg" / "code.py").write_text("x = 2\n")
    assert git_state(repo) == {"commit": head, "dirty": True}
    git(repo, "checkout", "-q", "--", ".")
    assert git_state(repo)["dirty"] is False
    (repo / "new.py").write_text("")  # untracked code counts too
    assert git_state(repo)["dirty"] is True
    assert not (repo / ".git" / "index.lock").exists()


@needs_git
def test_git_state_is_unknown_outside_a_repository_or_before_a_commit(tmp_path,
                                                                       no_repo_above):
    unknown = {"commit": "unknown", "dirty": "unknown"}
    assert git_state(tmp_path) == unknown
    assert git_state(tmp_path / "missing") == unknown
    git(tmp_path, "init", "-q")
    assert git_state(tmp_path) == unknown


def test_git_state_is_unknown_without_git(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no git on it
    assert git_state(tmp_path) == {"commit": "unknown", "dirty": "unknown"}


@pytest.fixture
def data(tmp_path):
    folder = tmp_path / "data"
    (folder / "fin_whale").mkdir(parents=True)
    (folder / "background").mkdir()
    (folder / "fin_whale" / "a.wav").write_bytes(bytes(range(256)) * 40)
    (folder / "background" / "b.wav").write_bytes(b"\0" * 1000)
    (folder / "manifest.csv").write_text("path,label\nfin_whale/a.wav,fin_whale\n")
    return folder


def test_the_fingerprint_counts_files_and_bytes_and_follows_the_content(data, tmp_path):
    first = data_fingerprint(data)
    assert first == {"path": str(data.resolve()), "files": 3,
                     "bytes": 10240 + 1000 + len("path,label\nfin_whale/a.wav,fin_whale\n"),
                     "sha256": first["sha256"]}
    assert len(first["sha256"]) == 64
    # a manifest stands for its folder
    assert data_fingerprint(data / "manifest.csv") == first

    # touched or copied elsewhere: the same data
    for file in data.rglob("*.wav"):
        os.utime(file, (1e9, 1e9))
    copy = shutil.copytree(data, tmp_path / "copy")
    assert data_fingerprint(data) == first
    assert {**data_fingerprint(copy), "path": first["path"]} == first

    # one byte changed, same size: different data
    wav = data / "fin_whale" / "a.wav"
    content = bytearray(wav.read_bytes())
    content[5000] ^= 1
    wav.write_bytes(bytes(content))
    changed = data_fingerprint(data)
    assert changed["sha256"] != first["sha256"]
    assert (changed["files"], changed["bytes"]) == (first["files"], first["bytes"])

    # a renamed file: different data
    (copy / "background" / "b.wav").rename(copy / "background" / "c.wav")
    assert data_fingerprint(copy)["sha256"] != first["sha256"]


def test_the_fingerprint_of_missing_data_names_it(tmp_path):
    with pytest.raises(DataError, match="nowhere"):
        data_fingerprint(tmp_path / "nowhere")


def test_a_large_data_set_shows_a_bar(data, monkeypatch, capsys):
    data_fingerprint(data, progress=True)
    assert "data fingerprint" not in capsys.readouterr().err  # small: no bar
    monkeypatch.setattr(provenance, "BAR_FROM_BYTES", 1000)
    monkeypatch.setattr(provenance, "CHUNK_BYTES", 1000)  # several chunks per file
    data_fingerprint(data, progress=True)
    assert "data fingerprint" in capsys.readouterr().err
    data_fingerprint(data, progress=False)
    assert "data fingerprint" not in capsys.readouterr().err


def test_package_versions(monkeypatch):
    import whalelab

    versions = package_versions()
    assert list(versions) == ["python", "whalelab", "torch", "torchvision", "numpy",
                              "librosa", "scipy", "scikit-learn", "pandas", "papermill"]
    assert versions["python"] == platform.python_version()
    assert versions["whalelab"] == whalelab.__version__
    assert versions["torch"].split("+")[0] == torch.__version__.split("+")[0]
    monkeypatch.setattr(provenance, "PACKAGES", ("no-such-package-here",))
    assert package_versions()["no-such-package-here"] == "not installed"


def test_device_description_names_the_hardware():
    text = device_description(torch.device("cpu"))
    assert text.startswith("cpu: ") and "CPUs" in text and "torch threads" in text
    if torch.cuda.is_available():
        text = device_description(torch.device("cuda:0"))
        assert text.startswith("cuda:0: ") and torch.cuda.get_device_name(0) in text
