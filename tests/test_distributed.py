"""Training under torchrun: two gloo processes on the CPU train one run, write one set of
files, and resume after a kill to the very weights of a run never killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from whalelab.checkpoint import load_checkpoint
from whalelab.training.distributed import ShardSampler, Workers

EPOCHS = 12


def test_each_process_steps_its_own_share_of_the_same_order():
    order = [5, 3, 8, 1, 9, 0, 2]
    shares = [list(ShardSampler(order, Workers(rank=rank, world=2))) for rank in (0, 1)]
    assert shares == [[5, 8, 9], [3, 1, 0]]  # every other clip; the odd one out left
    assert list(ShardSampler(order, Workers())) == order  # one process: the order itself


def torchrun(tree: Path, out: Path, *extra: str) -> subprocess.Popen:
    """``whalelab train`` of the tiny backbone on the tone tree in two gloo processes."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc-per-node", "2", "-m", "whalelab.cli", "train", "--data", str(tree),
               "--out", str(out), "--profile", "smoke", "--backbone", "tiny",
               "--epochs", str(EPOCHS), "--keep", "last", "--sample-rate", "8000",
               "--clip-seconds", "1", "--device", "cpu", "--batch-size", "1", *extra]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True, env={**os.environ, "OMP_NUM_THREADS": "1"})


def finished(process: subprocess.Popen) -> str:
    said = process.communicate(timeout=300)[0].decode(errors="replace")
    assert process.returncode == 0, said[-3000:]
    return said


def epochs_written(run: Path) -> int:
    try:
        return len(pd.read_csv(run / "history.csv"))
    except (FileNotFoundError, pd.errors.EmptyDataError):
        return 0


@pytest.mark.slow
def test_two_gloo_processes_train_one_run_and_resume_exactly(tone_tree, tmp_path):
    tree = tone_tree(tmp_path / "tree", seed=5)
    whole = tmp_path / "whole"
    said = finished(torchrun(tree, whole))
    assert said.count("epoch   1 ") == 1  # rank 0 alone speaks
    history = pd.read_csv(whole / "history.csv")
    assert list(history["epoch"]) == list(range(1, EPOCHS + 1))  # one set of files
    assert sorted(path.name for path in whole.iterdir()) == [
        "best.pt", "classes.json", "config.json", "history.csv", "last.pt", "splits.csv",
        "thresholds.json"]
    assert history["train_loss"].tail(3).mean() < history["train_loss"].head(2).mean()

    killed = tmp_path / "killed"
    process = torchrun(tree, killed)
    while epochs_written(killed) < 2 and process.poll() is None:
        time.sleep(0.02)
    process.send_signal(signal.SIGTERM)  # as a cluster's scheduler stops a job: torchrun
    process.communicate(timeout=60)       # passes it to its processes, which stop at once
    stopped_at = load_checkpoint(killed / "last.pt")["epoch"] + 1
    assert stopped_at < EPOCHS, "the run finished before it could be killed"
    said = finished(torchrun(tree, killed, "--resume"))
    assert f"resuming {killed} after epoch {stopped_at}" in said
    expected, resumed = (load_checkpoint(run / "best.pt")["model"] for run in (whole, killed))
    for name, value in expected.items():
        assert torch.equal(resumed[name], value), name
