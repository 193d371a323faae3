"""Log-mel features: parity with librosa clip by clip, per-example top_db, SpecAugment."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from whalelab.errors import ConfigError, WhaleLabError
from whalelab.features import (DropStripes, LogmelFilterBank, Spectrogram, SpecAugmentation,
                               power_to_db)

# sr, n_fft, hop_length, win_length, n_mels, fmin, fmax, center, samples
PARAMETER_SETS = [
    pytest.param(8000, 1024, 128, None, 64, 10.0, 4000.0, True, 8001, id="whalelab-default"),
    pytest.param(16000, 256, 64, 200, 20, 50.0, 6000.0, False, 4001, id="n256-win200-nocenter"),
    pytest.param(22050, 2048, None, 1536, 96, 0.0, None, True, 11025, id="n2048-hopdefault"),
    pytest.param(8000, 512, 100, 400, 40, 300.0, 3000.0, True, 5555, id="n512-win400-band"),
    pytest.param(8000, 2048, 333, None, 64, 20.0, 2000.0, False, 9999, id="n2048-nocenter-odd"),
]


def random_signal(samples: int, sr: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(samples)


def tonal_signal(samples: int, sr: int, seed: int) -> np.ndarray:
    """Two tones and a chirp with a trace of noise: sharp peaks, a deep spectral floor."""
    rng = np.random.default_rng(seed)
    t = np.arange(samples) / sr
    tones = 0.8 * np.sin(2 * np.pi * 0.11 * sr * t + rng.uniform(0, 6)) \
        + 0.3 * np.sin(2 * np.pi * 0.27 * sr * t)
    chirp = 0.2 * np.sin(2 * np.pi * (0.02 * sr * t + 0.1 * sr * t ** 2 / t[-1]))
    return tones + chirp + 1e-3 * rng.standard_normal(samples)


def librosa_logmel(clip: np.ndarray, *, sr, n_fft, hop_length, win_length, n_mels, fmin, fmax,
                   center, htk, top_db=80.0) -> np.ndarray:
    """The reference for one clip: (time, mel) dB, top_db against this clip's own peak."""
    mel = librosa.feature.melspectrogram(
        y=clip, sr=sr, n_fft=n_fft, hop_length=hop_length, win_length=win_length,
        window="hann", center=center, pad_mode="reflect", power=2.0, n_mels=n_mels,
        fmin=fmin, fmax=fmax, htk=htk)  # (mel, time)
    return librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=top_db).T  # (time, mel)


def whalelab_logmel(batch: np.ndarray, dtype: torch.dtype, *, sr, n_fft, hop_length, win_length,
                    n_mels, fmin, fmax, center, htk, top_db=80.0) -> np.ndarray:
    spectrogram = Spectrogram(n_fft=n_fft, hop_length=hop_length, win_length=win_length,
                              center=center)
    logmel = LogmelFilterBank(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax,
                              top_db=top_db, htk=htk)
    with torch.no_grad():
        out = logmel(spectrogram(torch.as_tensor(batch, dtype=dtype)))  # (batch, 1, time, mel)
    assert out.dtype == dtype
    return out[:, 0].double().numpy()


@pytest.mark.parametrize("htk", [True, False], ids=["htk", "slaney"])
@pytest.mark.parametrize("make_signal", [random_signal, tonal_signal], ids=["random", "tonal"])
@pytest.mark.parametrize("dtype, tolerance_db", [(torch.float64, 1e-3), (torch.float32, 0.05)],
                         ids=["float64", "float32"])
@pytest.mark.parametrize("sr, n_fft, hop_length, win_length, n_mels, fmin, fmax, center, samples",
                         PARAMETER_SETS)
def test_logmel_matches_librosa_clip_by_clip(htk, make_signal, dtype, tolerance_db, sr, n_fft,
                                             hop_length, win_length, n_mels, fmin, fmax, center,
                                             samples):
    params = dict(sr=sr, n_fft=n_fft, hop_length=hop_length, win_length=win_length,
                  n_mels=n_mels, fmin=fmin, fmax=fmax, center=center, htk=htk)
    # a loud and a 40 dB quieter clip in one batch: each must match librosa on its own
    batch = np.stack([make_signal(samples, sr, seed=1), 0.01 * make_signal(samples, sr, seed=2)])
    ours = whalelab_logmel(batch, dtype, **params)  # (batch, time, mel)
    for clip, result in zip(batch, ours):
        reference = librosa_logmel(clip, **params)
        assert result.shape == reference.shape
        assert np.abs(result - reference).max() < tolerance_db


def test_logmel_matches_librosa_without_top_db_in_float64():
    params = dict(sr=8000, n_fft=512, hop_length=160, win_length=None, n_mels=48, fmin=30.0,
                  fmax=3500.0, center=True, htk=True)
    batch = np.stack([tonal_signal(6001, 8000, seed=3), random_signal(6001, 8000, seed=4)])
    ours = whalelab_logmel(batch, torch.float64, top_db=None, **params)
    for clip, result in zip(batch, ours):
        reference = librosa_logmel(clip, top_db=None, **params)
        assert np.abs(result - reference).max() < 1e-3


@pytest.mark.parametrize("htk", [True, False], ids=["htk", "slaney"])
def test_mel_power_without_log_matches_librosa(htk):
    clip = random_signal(4000, 8000, seed=5)
    spectrogram = Spectrogram(n_fft=512, hop_length=128)
    mel = LogmelFilterBank(sr=8000, n_fft=512, n_mels=32, fmin=10, fmax=4000, is_log=False,
                           htk=htk)
    with torch.no_grad():
        ours = mel(spectrogram(torch.as_tensor(clip[None])))[0, 0].numpy()  # (time, mel)
    reference = librosa.feature.melspectrogram(y=clip, sr=8000, n_fft=512, hop_length=128,
                                               n_mels=32, fmin=10, fmax=4000, htk=htk,
                                               pad_mode="reflect").T
    np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-8)


def test_default_filters_are_librosas_default_filters():
    """No ``htk`` argument: the design's ``librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax)``."""
    ours = LogmelFilterBank(sr=8000, n_fft=1024, n_mels=64, fmin=10.0, fmax=4000.0).melW
    reference = librosa.filters.mel(sr=8000, n_fft=1024, n_mels=64, fmin=10.0, fmax=4000.0)
    np.testing.assert_allclose(ours.T.numpy(), reference, rtol=1e-6, atol=1e-9)
    htk = LogmelFilterBank(sr=8000, n_fft=1024, n_mels=64, fmin=10.0, fmax=4000.0, htk=True)
    assert not np.allclose(htk.melW.numpy(), ours.numpy())  # the scale really is a choice


def test_magnitude_spectrogram_is_the_square_root_of_power():
    waveform = torch.randn(2, 3000, dtype=torch.float64)
    power = Spectrogram(n_fft=256, hop_length=64, power=2.0)(waveform)
    magnitude = Spectrogram(n_fft=256, hop_length=64, power=1.0)(waveform)
    reference = np.abs(librosa.stft(waveform[0].numpy(), n_fft=256, hop_length=64,
                                    pad_mode="reflect")).T
    torch.testing.assert_close(magnitude, power.sqrt())
    np.testing.assert_allclose(magnitude[0, 0].numpy(), reference, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("ref, amin, top_db", [(1.0, 1e-10, 80.0), (2.5, 1e-5, 40.0),
                                               (0.1, 1e-10, None), (1.0, 1e-3, 0.0)])
def test_power_to_db_matches_librosa_per_example(ref, amin, top_db):
    rng = np.random.default_rng(6)
    power = rng.exponential(size=(3, 1, 20, 16)) * np.array([1.0, 1e-6, 1e3])[:, None, None, None]
    power[0, 0, :3] = 0.0  # exact zeros go through amin
    ours = power_to_db(torch.as_tensor(power), ref=ref, amin=amin, top_db=top_db).numpy()
    for example, result in zip(power, ours):
        reference = librosa.power_to_db(example, ref=ref, amin=amin, top_db=top_db)
        np.testing.assert_allclose(result, reference, atol=1e-9)


@pytest.mark.parametrize("amin, top_db", [(0.0, 80.0), (-1e-10, 80.0), (1e-10, -1.0)])
def test_power_to_db_rejects_bad_parameters(amin, top_db):
    with pytest.raises(ConfigError, match="amin" if amin <= 0 else "top_db"):
        power_to_db(torch.ones(1, 4), amin=amin, top_db=top_db)


def test_quiet_clip_does_not_depend_on_its_batch_mates():
    rng = np.random.default_rng(7)
    loud = rng.standard_normal(8000)
    quiet = 1e-5 * tonal_signal(8000, 8000, seed=8)  # about 100 dB below the loud clip
    spectrogram = Spectrogram(n_fft=1024, hop_length=128)
    logmel = LogmelFilterBank(sr=8000, n_fft=1024, n_mels=64, fmin=10, fmax=4000, top_db=80.0)
    with torch.no_grad():
        together = logmel(spectrogram(torch.as_tensor(np.stack([loud, quiet]),
                                                      dtype=torch.float32)))
        alone = logmel(spectrogram(torch.as_tensor(quiet[None], dtype=torch.float32)))
    torch.testing.assert_close(together[1], alone[0])
    # clipped against its own peak: it keeps its structure (batch-global clipping would flatten
    # it to one value, 80 dB under the loud clip's peak)
    assert 20.0 < float(together[1].max() - together[1].min()) <= 80.0 + 1e-3
    assert float(together[1].max()) < float(together[0].max()) - 80.0


def test_acceptance_shape():
    spectrogram = Spectrogram(n_fft=1024, hop_length=128)
    logmel = LogmelFilterBank(sr=8000, n_fft=1024, n_mels=64, fmin=10, fmax=4000)
    assert logmel(spectrogram(torch.randn(2, 40000))).shape == torch.Size([2, 1, 313, 64])


@pytest.mark.parametrize("n_fft, hop_length, center, samples, frames", [
    (1024, 128, True, 40000, 313), (256, 64, True, 1000, 16), (256, 64, False, 1000, 12),
    (512, 100, False, 512, 1), (2048, 512, True, 4001, 8)])
def test_spectrogram_shape(n_fft, hop_length, center, samples, frames):
    out = Spectrogram(n_fft=n_fft, hop_length=hop_length, center=center)(torch.zeros(3, samples))
    assert out.shape == (3, 1, frames, n_fft // 2 + 1)


@pytest.mark.parametrize("n_fft, win_length, hop", [(2048, None, 512), (1024, 600, 150),
                                                    (256, 200, 50)])
def test_hop_defaults_to_a_quarter_of_the_window(n_fft, win_length, hop):
    assert Spectrogram(n_fft=n_fft, win_length=win_length).hop_length == hop


@pytest.mark.parametrize("kwargs, name", [
    (dict(n_fft=512, win_length=1024), "win_length"), (dict(n_fft=512, win_length=0), "win_length"),
    (dict(n_fft=512, hop_length=0), "hop_length"), (dict(pad_mode="wrap"), "pad_mode"),
    (dict(power=3.0), "power")])
def test_spectrogram_rejects_bad_parameters(kwargs, name):
    with pytest.raises(ConfigError, match=name):
        Spectrogram(**kwargs)


@pytest.mark.parametrize("fmin, fmax", [(10.0, 5000.0), (-1.0, 4000.0), (3000.0, 2000.0)])
def test_logmel_rejects_bad_band(fmin, fmax):
    with pytest.raises(ConfigError, match="fmax"):
        LogmelFilterBank(sr=8000, n_fft=1024, fmin=fmin, fmax=fmax)


def test_gradients_flow_to_the_waveform():
    waveform = torch.randn(2, 4000, requires_grad=True)
    spectrogram = Spectrogram(n_fft=512, hop_length=128)
    logmel = LogmelFilterBank(sr=8000, n_fft=512, n_mels=32, fmin=10, fmax=4000)
    logmel(spectrogram(waveform)).mean().backward()
    assert waveform.grad is not None
    assert torch.isfinite(waveform.grad).all()
    assert (waveform.grad.abs().sum(dim=1) > 0).all()  # every example receives gradient


def test_gradients_are_correct():
    waveform = torch.randn(2, 48, dtype=torch.float64, requires_grad=True)
    spectrogram = Spectrogram(n_fft=32, hop_length=16)
    logmel = LogmelFilterBank(sr=8000, n_fft=32, n_mels=4, top_db=None)
    assert torch.autograd.gradcheck(lambda x: logmel(spectrogram(x)), (waveform,), fast_mode=True)


def test_modules_follow_dtype_and_have_their_constants_as_buffers():
    spectrogram = Spectrogram(n_fft=256, hop_length=64).double()
    logmel = LogmelFilterBank(sr=8000, n_fft=256, n_mels=16).double()
    assert {name for name, _ in spectrogram.named_buffers()} == {"window"}
    assert {name for name, _ in logmel.named_buffers()} == {"melW"}
    assert list(spectrogram.parameters()) == [] and list(logmel.parameters()) == []
    out = logmel(spectrogram(torch.randn(1, 1000, dtype=torch.float64)))
    assert out.dtype == torch.float64


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_features_on_cuda_match_cpu():
    spectrogram = Spectrogram(n_fft=1024, hop_length=128)
    logmel = LogmelFilterBank(sr=8000, n_fft=1024, n_mels=64, fmin=10, fmax=4000)
    waveform = torch.randn(4, 40000)
    on_cpu = logmel(spectrogram(waveform))
    on_cuda = logmel.cuda()(spectrogram.cuda()(waveform.cuda()))
    assert on_cuda.device.type == "cuda"
    assert (on_cuda.cpu() - on_cpu).abs().max() < 0.05
    augment = SpecAugmentation(time_drop_width=16, time_stripes_num=2, freq_drop_width=4,
                               freq_stripes_num=2).cuda().train()
    assert augment(on_cuda).device.type == "cuda"


# --- SpecAugment ---------------------------------------------------------------------------

def dropped_positions(out: torch.Tensor, dim: int) -> torch.Tensor:
    """``(batch, total)`` True where a whole time frame (dim 2) or mel bin (dim 3) is zero."""
    zero = (out == 0).all(dim=1)  # (batch, time, mel)
    return zero.all(dim=2) if dim == 2 else zero.all(dim=1)


def runs_of(mask: torch.Tensor) -> list[int]:
    """Lengths of the runs of True in a 1-D boolean mask."""
    lengths, current = [], 0
    for value in mask.tolist() + [False]:
        if value:
            current += 1
        elif current:
            lengths.append(current)
            current = 0
    return lengths


@pytest.mark.parametrize("dim", [2, 3])
def test_drop_stripes_is_identity_in_eval(dim):
    x = torch.rand(4, 1, 30, 20) + 0.5
    drop = DropStripes(dim=dim, drop_width=10, stripes_num=3).eval()
    assert torch.equal(drop(x), x)


@pytest.mark.parametrize("dim, total", [(2, 100), (3, 64)])
def test_drop_stripes_zeroes_whole_stripes_per_example_in_training(dim, total):
    torch.manual_seed(0)
    drop_width, stripes_num = 12, 2
    shape = (32, 2, 100, 64)
    x = torch.rand(shape) + 0.5  # never zero by itself
    before = x.clone()
    out = DropStripes(dim=dim, drop_width=drop_width, stripes_num=stripes_num).train()(x)
    assert out.shape == x.shape
    assert torch.equal(x, before)  # the input is not modified in place
    dropped = dropped_positions(out, dim)  # (batch, total)
    assert dropped.shape == (32, total)
    # everything is either kept as it was or zero across the whole stripe
    kept = ~dropped[:, None, :, None] if dim == 2 else ~dropped[:, None, None, :]
    assert torch.equal(out, x * kept)
    per_example = dropped.sum(dim=1)
    assert (per_example <= stripes_num * (drop_width - 1)).all()
    assert (per_example > 0).sum() > 16  # most examples lose something
    for mask in dropped:
        assert len(runs_of(mask)) <= stripes_num
    # each example draws its own stripes
    assert len({tuple(mask.tolist()) for mask in dropped}) > 16


def test_drop_stripes_handles_stripes_wider_than_the_axis():
    torch.manual_seed(1)
    x = torch.ones(8, 1, 5, 3)
    out = DropStripes(dim=2, drop_width=50, stripes_num=2).train()(x)
    assert out.shape == x.shape and torch.isfinite(out).all()


def test_drop_stripes_passes_gradients_to_kept_positions():
    torch.manual_seed(2)
    x = (torch.rand(4, 1, 40, 16) + 0.5).requires_grad_()
    out = DropStripes(dim=2, drop_width=10, stripes_num=2).train()(x)
    out.sum().backward()
    torch.testing.assert_close(x.grad, (out != 0).float())


class _CountOps(TorchDispatchMode):
    """Counts the tensor operations dispatched inside the ``with`` block."""

    def __init__(self):
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.count += 1
        return func(*args, **(kwargs or {}))


def test_spec_augmentation_is_vectorised_over_the_batch():
    augment = SpecAugmentation(time_drop_width=8, time_stripes_num=2, freq_drop_width=4,
                               freq_stripes_num=2).train()
    counts = []
    for batch in (1, 64):
        with _CountOps() as counter:
            augment(torch.rand(batch, 1, 50, 16))
        counts.append(counter.count)
    assert counts[0] == counts[1]  # no per-example work: the op count does not grow with batch


def test_spec_augmentation_drops_time_and_frequency_in_training_only():
    torch.manual_seed(3)
    augment = SpecAugmentation(time_drop_width=10, time_stripes_num=2, freq_drop_width=6,
                               freq_stripes_num=2)
    x = torch.rand(16, 1, 80, 32) + 0.5
    before = x.clone()
    out = augment.train()(x)
    assert torch.equal(x, before)
    assert dropped_positions(out, 2).any() and dropped_positions(out, 3).any()
    assert ((out == x) | (out == 0)).all()
    assert torch.equal(augment.eval()(x), x)


@pytest.mark.parametrize("kwargs", [dict(dim=1, drop_width=4, stripes_num=1),
                                    dict(dim=2, drop_width=0, stripes_num=1),
                                    dict(dim=3, drop_width=4, stripes_num=-1)])
def test_drop_stripes_rejects_bad_parameters(kwargs):
    with pytest.raises(WhaleLabError):
        DropStripes(**kwargs)
