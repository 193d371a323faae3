"""Atomic writes: readers see the old file or the new one, never half of one."""

from __future__ import annotations

import errno
import json
import os
import re

import pytest
import torch

from whalelab.atomic import atomic_write, output_folder, write_json, write_text
from whalelab.checkpoint import load_checkpoint, save_checkpoint
from whalelab.errors import StorageError, WhaleLabError


def names(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_write_text_creates_folders_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "a" / "b" / "notes.txt"
    assert write_text(path, "first\n") == path
    assert path.read_text() == "first\n"
    write_text(path, "second\n")
    assert path.read_text() == "second\n"
    assert names(path.parent) == ["notes.txt"]


def test_write_json_round_trip(tmp_path):
    value = {"classes": ["blue_whale", "fin_whale"], "bands": {"fin_whale": [15.0, 30.0]},
             "epochs": 3, "threshold": None}
    path = write_json(tmp_path / "value.json", value)
    assert json.loads(path.read_text()) == value
    assert path.read_text().endswith("\n")


def test_the_temporary_file_is_beside_the_target(tmp_path):
    seen = []

    def write(temporary):
        seen.append(temporary)
        assert not (tmp_path / "out.bin").exists()  # nothing visible at the target yet
        temporary.write_bytes(b"new")

    atomic_write(tmp_path / "out.bin", write)
    assert seen[0].parent == tmp_path and seen[0] != tmp_path / "out.bin"
    assert (tmp_path / "out.bin").read_bytes() == b"new"
    assert names(tmp_path) == ["out.bin"]


@pytest.mark.parametrize("error", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_a_failing_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, error):
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(b"old contents")

    def write(temporary):
        temporary.write_bytes(b"half of the new")
        raise error

    with pytest.raises(type(error)):
        atomic_write(path, write)
    assert path.read_bytes() == b"old contents"
    assert names(tmp_path) == ["checkpoint.pt"]


def test_a_failing_first_write_leaves_nothing(tmp_path):
    def write(temporary):
        temporary.write_text("partial")
        raise ValueError("bad value")

    with pytest.raises(ValueError, match="bad value"):
        atomic_write(tmp_path / "new.json", write)
    assert names(tmp_path) == []


def test_an_unserialisable_json_value_keeps_the_old_file(tmp_path):
    path = write_json(tmp_path / "metrics.json", {"accuracy": 0.5})
    with pytest.raises(TypeError):
        write_json(path, {"accuracy": object()})
    assert json.loads(path.read_text()) == {"accuracy": 0.5}
    assert names(tmp_path) == ["metrics.json"]


def test_replacing_keeps_readers_of_the_old_file_working(tmp_path):
    path = write_text(tmp_path / "table.txt", "old")
    with open(path) as reader:  # a reader that opened the old file keeps reading the old file
        write_text(path, "new")
        assert reader.read() == "old"
    assert path.read_text() == "new"
    assert os.listdir(tmp_path) == ["table.txt"]


def test_a_full_disk_is_one_line_naming_the_file_and_the_last_checkpoint_still_loads(
        tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "RUN" / "last.pt", {"model": {"w": torch.ones(3)},
                                                          "epoch": 4})
    real_save = torch.save

    def full_disk(state, temporary):
        real_save({"model": {}}, temporary)  # part of it reached the disk
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(StorageError) as caught:
        save_checkpoint(path, {"model": {"w": torch.zeros(3)}, "epoch": 5})
    assert isinstance(caught.value, WhaleLabError)
    assert str(caught.value) == f"no space left on device while writing {path}"
    assert "\n" not in str(caught.value)
    monkeypatch.undo()
    state = load_checkpoint(path)  # the last good one
    assert state["epoch"] == 4 and torch.equal(state["model"]["w"], torch.ones(3))
    assert names(path.parent) == ["last.pt"]  # the temporary is gone


def test_permission_denied_is_one_clear_line(tmp_path, monkeypatch):
    path = write_text(tmp_path / "thresholds.json", "old")

    def refuse(source, target):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(target))

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(StorageError, match=r"^permission denied while writing .*thresholds\.json$"):
        write_text(path, "new")
    assert path.read_text() == "old"
    assert names(tmp_path) == ["thresholds.json"]


def test_a_folder_that_cannot_be_made_is_named(tmp_path):
    (tmp_path / "runs").write_text("a file where the run folder should be")
    target = tmp_path / "runs" / "mine" / "config.json"
    with pytest.raises(StorageError,
                       match=f"^not a directory while writing {re.escape(str(target))}$"):
        write_json(target, {})


def test_torch_s_unexpected_pos_on_a_full_disk_is_one_line_naming_the_checkpoint(
        tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "last.pt", {"model": {"w": torch.ones(3)}, "epoch": 4})

    def short_write(state, file):  # what torch's zip writer raises when the disk fills
        file.write(b"PK")
        raise RuntimeError("[enforce fail at inline_container.cc:778] . PytorchStreamWriter "
                           "failed writing file data/0: file write failed\nunexpected pos 64 "
                           "vs 0")

    monkeypatch.setattr(torch, "save", short_write)
    with pytest.raises(StorageError, match=rf"^the checkpoint could not be written, is the disk "
                                           rf"full\? \(torch: unexpected pos 64 vs 0\) while "
                                           rf"writing {re.escape(str(path))}$"):
        save_checkpoint(path, {"model": {"w": torch.zeros(3)}, "epoch": 5})
    monkeypatch.undo()
    assert load_checkpoint(path)["epoch"] == 4 and names(tmp_path) == ["last.pt"]


def test_an_output_folder_that_is_a_file_or_cannot_be_written_in_is_refused_naming_it(
        tmp_path, monkeypatch):
    (tmp_path / "taken").write_text("a file")
    with pytest.raises(StorageError, match=rf"^{re.escape(str(tmp_path / 'taken'))}: is a "
                                           rf"file, not a folder"):
        output_folder(tmp_path / "taken", records=["record.json"])
    real_open = os.open

    def read_only(path, *args, **kwargs):  # chmod stops no write of root's, who runs tests
        if str(path).startswith(str(tmp_path / "locked")):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", read_only)
    with pytest.raises(StorageError, match=rf"^permission denied while writing in "
                                           rf"{re.escape(str(tmp_path / 'locked'))}$"):
        output_folder(tmp_path / "locked", records=["record.json"])


def test_a_folder_of_other_files_needs_force_and_a_lock_alone_is_whalelabs(tmp_path):
    assert output_folder(tmp_path / "new" / "out", records=["record.json"]).is_dir()
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / ".whalelab-detect.lock").write_text("123")  # whalelab's own: still empty
    assert output_folder(folder, records=["record.json"]) == folder
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(StorageError, match=r"data: holds files that whalelab has no record of "
                                           r"writing \(no record.json\); write into a new or "
                                           r"empty folder, or pass --force"):
        output_folder(folder, records=["record.json"])
    with pytest.raises(StorageError, match=r"empty folder$"):  # a command without --force
        output_folder(folder, records=["record.json"], flag=None)
    assert output_folder(folder, records=["record.json"], force=True) == folder
    (folder / "record.json").write_text("{}")
    assert output_folder(folder, records=["record.json"]) == folder
    assert sorted(names(folder)) == [".whalelab-detect.lock", "notes.txt", "record.json"]
