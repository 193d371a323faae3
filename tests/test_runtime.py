"""The runtime: device resolution, autocast and the progress-bar switch."""

from __future__ import annotations

import pytest
import torch

from whalelab import runtime
from whalelab.errors import ConfigError
from whalelab.runtime import autocast, bar_disabled, progress_bar, resolve_device


def test_resolve_device_without_cuda(no_cuda):
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    for device in ("cuda", "cuda:0"):
        with pytest.raises(ConfigError, match=device):
            resolve_device(device)


def test_resolve_device_with_cuda(with_cuda):
    assert resolve_device("auto") == torch.device("cuda")
    assert resolve_device("cuda:1") == torch.device("cuda", 1)


def test_a_device_object_passes_through(no_cuda):
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")


@pytest.mark.parametrize("device", ["tpu", "gpu", "mps0", ""])
def test_unknown_device_names_it(device, no_cuda):
    with pytest.raises(ConfigError, match=f"not '{device}'"):
        resolve_device(device)


def test_cuda_available_reports_torch():
    assert runtime.cuda_available() == torch.cuda.is_available()


def test_autocast_never_lowers_precision_on_cpu():
    with autocast(torch.device("cpu"), True):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_autocast_gives_bf16_on_cuda():
    with autocast(torch.device("cuda"), True):
        assert (torch.ones(2, 2, device="cuda") @ torch.ones(2, 2, device="cuda")).dtype \
            == torch.bfloat16


def test_inference_never_lowers_precision_on_cpu_whatever_the_run_trained_with():
    for amp in (True, False):
        with runtime.autocast(torch.device("cpu"), amp):
            assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("amp, dtype", [(True, torch.bfloat16), (False, torch.float32)])
def test_inference_on_cuda_follows_the_runs_training_precision(amp, dtype):
    ones = torch.ones(2, 2, device="cuda")
    with runtime.autocast(torch.device("cuda"), amp):
        assert (ones @ ones).dtype == dtype


def test_progress_switch():
    assert [bar_disabled(value) for value in (None, True, False)] == [None, False, True]
    assert progress_bar(range(3), progress=False).disable
    assert list(progress_bar(range(3), progress=False)) == [0, 1, 2]
    assert not progress_bar(range(3), progress=True, file=open("/dev/null", "w")).disable


@pytest.mark.parametrize("setting, disabled", [("off", True), ("OFF", True), ("0", True),
                                               ("on", False), ("yes", False), ("", None)])
def test_the_progress_variable_decides_where_the_caller_leaves_it_open(monkeypatch, setting,
                                                                      disabled):
    monkeypatch.setenv(runtime.PROGRESS_VARIABLE, setting)
    assert bar_disabled(None) is disabled
    assert [bar_disabled(True), bar_disabled(False)] == [False, True]  # a caller's word wins


def test_bars_are_off_in_a_process_told_so(monkeypatch):
    monkeypatch.setenv(runtime.PROGRESS_VARIABLE, "off")
    assert progress_bar(range(3), progress=None).disable
    monkeypatch.delenv(runtime.PROGRESS_VARIABLE)
    # tqdm's own rule: no bar where the output is not a terminal
    assert progress_bar(range(3), progress=None, file=open("/dev/null", "w")).disable


def test_a_progress_variable_that_is_no_switch_is_named(monkeypatch):
    monkeypatch.setenv(runtime.PROGRESS_VARIABLE, "sometimes")
    with pytest.raises(ConfigError, match="WHALELAB_PROGRESS='sometimes'"):
        bar_disabled(None)
