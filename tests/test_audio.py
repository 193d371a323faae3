"""Audio loading: formats, bit depths, channels, resampling, partial reads, streaming, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from whalelab import WhaleLabError
from whalelab.audio import (AUDIO_SUFFIXES, Window, Windows, audio_info, is_audio_file,
                            load_audio, stream_audio, tile, write_audio)
from whalelab.errors import AudioError

REAL_CALLS = Path(__file__).resolve().parents[2] / "shared" / "real" / "srkw_call_catalog"


def tone(frequency: float, sr: int, seconds: float, amplitude: float = 0.5) -> np.ndarray:
    return (amplitude * np.sin(2 * np.pi * frequency * np.arange(int(sr * seconds)) / sr)
            ).astype(np.float32)


def noise(samples: int, seed: int = 0, amplitude: float = 0.3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(amplitude * rng.standard_normal(samples), -0.99, 0.99).astype(np.float32)


def peak_frequency(samples: np.ndarray, sr: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / sr)[np.argmax(spectrum)])


def leftover_files(folder: Path, keep: set[str]) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


# --- formats and bit depths ----------------------------------------------------------------

@pytest.mark.parametrize("suffix, subtype, tolerance", [
    (".wav", "PCM_16", 2 ** -15), (".wav", "PCM_24", 2 ** -23), (".wav", "FLOAT", 0.0),
    (".wav", "PCM_U8", 2 ** -7), (".flac", "PCM_16", 2 ** -15), (".flac", "PCM_24", 2 ** -23),
    (".aiff", "PCM_16", 2 ** -15), (".aif", "PCM_24", 2 ** -23), (".aiff", "FLOAT", 0.0)])
def test_lossless_round_trip(tmp_path, suffix, subtype, tolerance):
    samples = noise(4000, seed=1)
    path = tmp_path / f"clip{suffix}"
    write_audio(path, samples, 8000, subtype=subtype)
    assert soundfile.info(str(path)).subtype == subtype
    loaded = load_audio(path, 8000)
    assert loaded.dtype == np.float32 and loaded.shape == samples.shape
    assert np.abs(loaded - samples).max() <= tolerance
    assert leftover_files(tmp_path, {path.name}) == []  # the write left no temporary file


def test_ogg_vorbis_round_trip_keeps_the_signal(tmp_path):
    samples = tone(440, 16000, 1.0)
    path = tmp_path / "clip.ogg"
    write_audio(path, samples, 16000, subtype="VORBIS")
    loaded = load_audio(path, 16000)
    assert loaded.dtype == np.float32 and len(loaded) == len(samples)
    # lossy: the waveform is close, the pitch is exact
    assert np.sqrt(np.mean((loaded - samples) ** 2)) < 0.05 * np.sqrt(np.mean(samples ** 2))
    assert peak_frequency(loaded, 16000) == pytest.approx(440, abs=2)


def test_audio_info_reads_the_header(tmp_path):
    path = tmp_path / "stereo.flac"
    soundfile.write(str(path), np.zeros((22050, 2), np.float32), 44100, subtype="PCM_24")
    info = audio_info(path)
    assert (info.sample_rate, info.channels, info.frames) == (44100, 2, 22050)
    assert info.duration == pytest.approx(0.5)
    assert info.path == path


def test_suffixes():
    assert {".wav", ".flac", ".aif", ".aiff", ".ogg", ".opus", ".mp3"} <= set(AUDIO_SUFFIXES)
    assert is_audio_file(Path("a/B.WAV")) and is_audio_file(Path("x.Flac"))
    assert not is_audio_file(Path("notes.txt")) and not is_audio_file(Path("table.selections.txt"))


# --- channels ------------------------------------------------------------------------------

@pytest.fixture
def stereo_file(tmp_path) -> tuple[Path, np.ndarray]:
    left, right = tone(300, 8000, 1.0), noise(8000, seed=2)
    path = tmp_path / "stereo.wav"
    soundfile.write(str(path), np.stack([left, right], axis=1), 8000, subtype="FLOAT")
    return path, np.stack([left, right])  # (channels, samples)


def test_stereo_is_mixed_down_to_the_mean(stereo_file):
    path, channels = stereo_file
    np.testing.assert_allclose(load_audio(path, 8000), channels.mean(axis=0), atol=1e-7)


@pytest.mark.parametrize("channel", [0, 1])
def test_one_channel_can_be_chosen(stereo_file, channel):
    path, channels = stereo_file
    np.testing.assert_array_equal(load_audio(path, 8000, channel=channel), channels[channel])


def test_multichannel_output_when_not_mono(stereo_file):
    path, channels = stereo_file
    np.testing.assert_array_equal(load_audio(path, 8000, mono=False), channels)
    resampled = load_audio(path, 16000, mono=False)  # both channels resampled together
    assert resampled.shape == (2, 16000) and resampled.dtype == np.float32
    np.testing.assert_allclose(resampled[0], load_audio(path, 16000, channel=0), atol=1e-6)


def test_a_missing_channel_is_an_error_naming_the_file(stereo_file):
    path, _ = stereo_file
    with pytest.raises(AudioError, match=path.name):
        load_audio(path, 8000, channel=2)


# --- resampling ----------------------------------------------------------------------------

@pytest.mark.parametrize("source_sr", [6000, 16000, 44100, 96000])
@pytest.mark.parametrize("target_sr", [8000, 16000])
def test_resampling_keeps_frequency_level_and_length(tmp_path, source_sr, target_sr):
    seconds = 1.25
    path = tmp_path / f"tone_{source_sr}.wav"
    soundfile.write(str(path), tone(1000, source_sr, seconds), source_sr, subtype="PCM_24")
    loaded = load_audio(path, target_sr)
    assert loaded.dtype == np.float32
    assert abs(len(loaded) - seconds * target_sr) <= 1
    assert peak_frequency(loaded, target_sr) == pytest.approx(1000, abs=1.0)
    middle = loaded[len(loaded) // 4: -len(loaded) // 4]  # away from the filter's edges
    assert np.sqrt(np.mean(middle ** 2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.01)


def test_resampling_removes_what_the_new_rate_cannot_hold(tmp_path):
    path = tmp_path / "high.wav"
    soundfile.write(str(path), tone(6000, 44100, 1.0), 44100, subtype="FLOAT")
    loaded = load_audio(path, 8000)  # 6 kHz is above the 4 kHz Nyquist frequency: no alias
    assert np.abs(loaded[100:-100]).max() < 0.01  # apart from the abrupt start and end


# --- partial reads -------------------------------------------------------------------------

@pytest.fixture
def long_file(tmp_path) -> Path:
    path = tmp_path / "long.flac"
    soundfile.write(str(path), noise(16000 * 6, seed=3), 16000, subtype="PCM_24")
    return path


@pytest.mark.parametrize("offset, duration", [(0.0, 1.0), (0.5, 0.25), (2.3125, 1.5),
                                              (5.5, None), (5.0, 3.0)])
def test_offset_and_duration_read_that_slice(long_file, offset, duration):
    full = load_audio(long_file, 16000)
    part = load_audio(long_file, 16000, offset=offset, duration=duration)
    start = int(offset * 16000)
    stop = len(full) if duration is None else min(len(full), start + int(duration * 16000))
    np.testing.assert_array_equal(part, full[start:stop])


def test_offset_and_duration_with_resampling(long_file):
    full = load_audio(long_file, 8000)
    part = load_audio(long_file, 8000, offset=2.0, duration=1.0)
    assert len(part) == 8000
    inner = slice(200, -200)  # the resampler sees the cut edges differently
    np.testing.assert_allclose(part[inner], full[16000:24000][inner], atol=2e-3)


def test_only_the_asked_part_is_decoded(long_file, monkeypatch):
    decoded = []

    class CountingSoundFile(soundfile.SoundFile):
        def read(self, *args, **kwargs):
            block = super().read(*args, **kwargs)
            decoded.append(len(block))
            return block

    monkeypatch.setattr(soundfile, "SoundFile", CountingSoundFile)
    part = load_audio(long_file, 16000, offset=3.0, duration=0.5)
    assert len(part) == 8000
    assert sum(decoded) == 8000  # not the 96000 frames of the whole file


# --- errors --------------------------------------------------------------------------------

def assert_audio_error_naming(path: Path, **kwargs) -> AudioError:
    with pytest.raises(AudioError) as caught:
        load_audio(path, 8000, **kwargs)
    assert isinstance(caught.value, WhaleLabError)
    assert path.name in str(caught.value)
    return caught.value


def test_audio_error_is_a_whalelab_error():
    assert issubclass(AudioError, WhaleLabError)


def test_missing_file(tmp_path):
    assert_audio_error_naming(tmp_path / "nowhere.wav")
    with pytest.raises(AudioError, match="nowhere.wav"):
        audio_info(tmp_path / "nowhere.wav")


def test_a_folder_is_not_an_audio_file(tmp_path):
    (tmp_path / "folder.wav").mkdir()
    assert_audio_error_naming(tmp_path / "folder.wav")


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".ogg", ".aiff"])
def test_corrupt_bytes(tmp_path, suffix):
    path = tmp_path / f"garbage{suffix}"
    path.write_bytes(np.random.default_rng(4).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    assert_audio_error_naming(path)


@pytest.mark.parametrize("suffix, subtype", [(".wav", "PCM_16"), (".wav", "FLOAT"),
                                             (".aiff", "PCM_24"), (".flac", "PCM_16")])
def test_truncated_file(tmp_path, suffix, subtype):
    whole = tmp_path / f"whole{suffix}"
    soundfile.write(str(whole), noise(16000, seed=5), 8000, subtype=subtype)
    path = tmp_path / f"truncated{suffix}"
    path.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])  # header promises more
    assert_audio_error_naming(path)
    with pytest.raises(AudioError, match=path.name):
        list(stream_audio(path, 8000))


def test_a_wav_with_trailing_chunks_is_not_taken_for_truncated(tmp_path):
    path = tmp_path / "with_list_chunk.wav"
    soundfile.write(str(path), noise(1001, seed=6), 8000, subtype="PCM_16")
    with soundfile.SoundFile(str(path), "r+") as handle:  # adds a LIST chunk after the data
        handle.title = "a recording"
    assert len(load_audio(path, 8000)) == 1001


def _with_sample_chunk_size(path: Path, size: int) -> Path:
    """``path`` with its WAV ``data`` (or AIFF ``SSND``) chunk's size field set to ``size``."""
    data = bytearray(path.read_bytes())
    at = max(data.find(b"data"), data.find(b"SSND"))
    data[at + 4:at + 8] = size.to_bytes(4, "little" if data[:4] == b"RIFF" else "big")
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("suffix", [".wav", ".aiff"])
@pytest.mark.parametrize("header_s", [10, 0])
def test_a_header_that_says_fewer_samples_than_follow_is_refused_as_unfinalised(
        tmp_path, suffix, header_s):
    path = tmp_path / f"recorder{suffix}"
    soundfile.write(str(path), noise(60 * 1000, seed=8), 1000, subtype="PCM_16")
    extra = 8 if suffix == ".aiff" else 0  # SSND's offset and block size
    _with_sample_chunk_size(path, header_s * 1000 * 2 + extra)
    expected = (rf"{path.name}: the header says {header_s * 2000 + extra} bytes \({header_s:g} s\) "
                rf"of samples but {120000 + 8 if suffix == '.aiff' else 120000} bytes \(60 s\) "
                rf"follow: the header looks unfinalised")
    for read in (lambda: audio_info(path), lambda: load_audio(path, 1000),
                 lambda: list(stream_audio(path, 1000))):
        with pytest.raises(AudioError, match=expected) as caught:
            read()
        assert "sox --ignore-length" in str(caught.value) and "\n" not in str(caught.value)


def test_a_wav_with_a_short_tag_after_its_samples_is_read_whole(tmp_path):
    path = tmp_path / "tagged.wav"
    soundfile.write(str(path), noise(8000, seed=9), 8000, subtype="PCM_16")
    path.write_bytes(path.read_bytes() + b"TAG" + bytes(125))  # an ID3v1 tag, not a chunk
    assert len(load_audio(path, 8000)) == 8000


@pytest.mark.parametrize("damage", ["a page's capture pattern", "3000 bytes"])
def test_a_corrupt_ogg_is_refused_naming_both_lengths(tmp_path, damage):
    whole = tmp_path / "whole.ogg"
    soundfile.write(str(whole), noise(10 * 8000, seed=10), 8000, format="OGG", subtype="VORBIS")
    data = bytearray(whole.read_bytes())
    middle = data.find(b"OggS", len(data) // 2)
    size = 4 if damage == "a page's capture pattern" else 3000
    data[middle:middle + size] = bytes(size)
    path = tmp_path / "corrupt.ogg"
    path.write_bytes(bytes(data))
    with soundfile.SoundFile(str(path)) as handle:  # libsndfile reads it short, silently
        assert len(handle.read()) < 9 * 8000
    for read in (lambda: load_audio(path, 8000), lambda: list(stream_audio(path, 8000)),
                 lambda: load_audio(path, 8000, offset=1.0)):
        with pytest.raises(AudioError, match=r"corrupt\.ogg: corrupt audio: the file promises "
                                             r"80000 samples \(10 s\) but only \d+ "):
            read()
    assert len(load_audio(whole, 8000)) == 80000


def test_a_decoder_that_stops_short_of_the_header_is_refused(tmp_path):
    whole = tmp_path / "whole.mp3"
    soundfile.write(str(whole), noise(10 * 8000, seed=11), 8000, format="MP3")
    path = tmp_path / "cut.mp3"
    path.write_bytes(whole.read_bytes()[:whole.stat().st_size * 7 // 10])
    assert audio_info(path).frames == 80000  # its header still says 10 s
    for read in (lambda: load_audio(path, 8000), lambda: list(stream_audio(path, 8000)),
                 lambda: load_audio(path, 8000, offset=6.0, duration=2.0)):
        with pytest.raises(AudioError, match=r"cut\.mp3: corrupt audio: the file promises "
                                             r"80000 samples \(10 s\) but only"):
            read()


def test_an_mp3_is_read_and_an_offset_read_is_the_slice_of_the_whole(tmp_path):
    path = tmp_path / "call.mp3"
    soundfile.write(str(path), noise(10 * 8000, seed=12), 8000, format="MP3")
    assert is_audio_file(path)
    whole = load_audio(path, 8000)
    assert len(whole) == 80000 and len(np.concatenate(list(stream_audio(path, 8000)))) == 80000
    for offset in (1.0, 3.3, 7.5):
        part = load_audio(path, 8000, offset=offset, duration=1.0)
        start = round(offset * 8000)
        np.testing.assert_allclose(part, whole[start:start + 8000], atol=1e-6)


def test_zero_length_wav(tmp_path):
    path = tmp_path / "empty.wav"
    soundfile.write(str(path), np.zeros(0, np.float32), 8000)
    assert soundfile.info(str(path)).frames == 0
    assert_audio_error_naming(path)


def test_zero_byte_file(tmp_path):
    path = tmp_path / "zero_bytes.wav"
    path.write_bytes(b"")
    assert_audio_error_naming(path)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_samples(tmp_path, bad):
    samples = noise(8000, seed=7)
    samples[4000:4010] = bad
    path = tmp_path / "non_finite.wav"
    soundfile.write(str(path), samples, 8000, subtype="FLOAT")
    assert "NaN" in str(assert_audio_error_naming(path))
    with pytest.raises(AudioError, match=path.name):
        list(stream_audio(path, 8000, block_seconds=0.25))


def test_a_file_full_of_nan(tmp_path):
    path = tmp_path / "all_nan.wav"
    soundfile.write(str(path), np.full(8000, np.nan, np.float32), 8000, subtype="FLOAT")
    assert_audio_error_naming(path)


def test_a_file_too_short_to_leave_a_sample_at_the_new_rate_is_named(tmp_path):
    path = tmp_path / "two.wav"
    write_audio(path, np.array([0.5, 0.2], dtype=np.float32), 48000, subtype="FLOAT")
    for read in (lambda: load_audio(path, 8000), lambda: list(stream_audio(path, 8000))):
        with pytest.raises(AudioError, match=r"two\.wav: 2 sample\(s\) at 48000 Hz leave none"):
            read()


@pytest.mark.parametrize("offset", [1.0, 1.5, 100.0])
def test_offset_past_the_end(tmp_path, offset):
    path = tmp_path / "one_second.wav"
    soundfile.write(str(path), noise(8000, seed=8), 8000)
    assert "offset" in str(assert_audio_error_naming(path, offset=offset))


@pytest.mark.parametrize("kwargs", [dict(offset=-1.0), dict(duration=0.0), dict(duration=-2.0)])
def test_bad_offset_or_duration(tmp_path, kwargs):
    path = tmp_path / "one_second.wav"
    soundfile.write(str(path), noise(8000, seed=8), 8000)
    assert_audio_error_naming(path, **kwargs)


# --- streaming -----------------------------------------------------------------------------

@pytest.mark.parametrize("source_sr, target_sr", [(8000, 8000), (6000, 8000), (44100, 8000)])
def test_stream_blocks_join_into_the_whole_file(tmp_path, source_sr, target_sr):
    path = tmp_path / "stream.wav"
    seconds = 7.3
    soundfile.write(str(path), noise(int(source_sr * seconds), seed=9) + tone(700, source_sr,
                    seconds), source_sr, subtype="FLOAT")
    blocks = list(stream_audio(path, target_sr, block_seconds=2.0))
    assert all(block.dtype == np.float32 and block.ndim == 1 for block in blocks)
    # bounded: no block holds much more than block_seconds of audio (plus the filter's delay)
    assert max(len(block) for block in blocks) <= 1.1 * 2.0 * target_sr
    joined = np.concatenate(blocks)
    whole = load_audio(path, target_sr)
    assert abs(len(joined) - len(whole)) <= 1
    n = min(len(joined), len(whole))
    if source_sr == target_sr:
        np.testing.assert_array_equal(joined, whole)
    else:
        np.testing.assert_allclose(joined[:n], whole[:n], atol=2e-3)


def test_stream_reads_in_bounded_blocks(tmp_path, monkeypatch):
    path = tmp_path / "stream.flac"
    soundfile.write(str(path), noise(16000 * 10, seed=10), 16000, subtype="PCM_16")
    decoded = []

    class CountingSoundFile(soundfile.SoundFile):
        def read(self, frames=-1, *args, **kwargs):
            assert frames > 0  # never "read everything"
            block = super().read(frames, *args, **kwargs)
            decoded.append(len(block))
            return block

    monkeypatch.setattr(soundfile, "SoundFile", CountingSoundFile)
    stream = stream_audio(path, 8000, block_seconds=1.0)
    first = next(stream)  # lazily: the first block comes before the rest is read
    assert decoded == [16000] and len(first) <= 8000 + 64
    rest = list(stream)
    assert max(decoded) == 16000 and sum(decoded) == 160000
    assert abs(len(first) + sum(len(block) for block in rest) - 80000) <= 1


def test_stream_selects_a_channel(stereo_file):
    path, channels = stereo_file
    blocks = list(stream_audio(path, 8000, block_seconds=0.3, channel=1))
    np.testing.assert_array_equal(np.concatenate(blocks), channels[1])


# --- writing -------------------------------------------------------------------------------

def test_write_audio_replaces_atomically_and_keeps_the_old_file_on_failure(tmp_path):
    path = tmp_path / "out.wav"
    write_audio(path, noise(800, seed=11), 8000)
    write_audio(path, tone(100, 8000, 0.2), 8000)  # overwrite
    np.testing.assert_allclose(load_audio(path, 8000), tone(100, 8000, 0.2), atol=2 ** -15)
    before = path.read_bytes()
    with pytest.raises(Exception):
        write_audio(path, noise(800, seed=12), 8000, subtype="NOT_A_SUBTYPE")
    assert path.read_bytes() == before
    assert leftover_files(tmp_path, {"out.wav"}) == []


def test_write_audio_multichannel_and_new_folders(tmp_path):
    path = tmp_path / "new" / "folder" / "stereo.flac"
    samples = np.stack([tone(200, 8000, 0.5), noise(4000, seed=13)], axis=1)  # (samples, 2)
    write_audio(path, samples, 8000, subtype="PCM_24")
    assert audio_info(path).channels == 2
    np.testing.assert_allclose(load_audio(path, 8000, mono=False), samples.T, atol=2 ** -23)


def test_write_audio_rejects_an_unknown_suffix_or_a_subtype_its_format_lacks(tmp_path):
    with pytest.raises(AudioError, match="out.m4a"):
        write_audio(tmp_path / "out.m4a", noise(100), 8000)
    with pytest.raises(AudioError, match=r"out\.mp3: cannot write MP3 as 'PCM_16'"):
        write_audio(tmp_path / "out.mp3", noise(100), 8000)
    assert list(tmp_path.iterdir()) == []


# --- real recordings (skipped when absent) -------------------------------------------------

@pytest.mark.skipif(not REAL_CALLS.is_dir(), reason="real call catalogue not present")
def test_real_killer_whale_calls_load():
    files = sorted(p for p in REAL_CALLS.iterdir() if is_audio_file(p))[:3]
    assert files
    for path in files:
        info = audio_info(path)
        samples = load_audio(path, 8000)
        assert samples.dtype == np.float32 and np.isfinite(samples).all()
        assert abs(len(samples) - info.duration * 8000) <= 1


# --- real recordings shipped with the project ------------------------------------------------

EXAMPLES = Path(__file__).resolve().parent.parent / "data" / "examples" / "srkw"


def test_the_shipped_real_calls_load_and_give_features():
    from whalelab.config import FeatureConfig
    from whalelab.data import load_index
    from whalelab.features import logmel_pipeline

    index = load_index(EXAMPLES, seed=0, window_s=5.0)
    assert len(index) == 31 and index.classes == ["killer_whale"]
    features = FeatureConfig()  # 8 kHz: what lies below 4 kHz of the 22-44 kHz originals
    pipeline = logmel_pipeline(features)
    for clip in index.clips:
        info = audio_info(clip.path)
        assert info.sample_rate >= 22050 and 0.5 < info.duration < 5
        samples = load_audio(clip.path, features.sample_rate)
        logmel = pipeline(torch.from_numpy(samples)[None])  # (1, 1, frames, mel)
        assert logmel.shape[-1] == 64 and torch.isfinite(logmel).all()
        assert logmel.max() - logmel.min() > 20  # a call stands out of its background
    assert (EXAMPLES / "LICENSE-OGL-Canada-2.0.html").is_file()
    assert "Open Government Licence" in (EXAMPLES / "README.md").read_text()


# --- one window cutter, one way to a clip's length ----------------------------------------


def test_tile_repeats_a_short_waveform_and_crops_a_long_one():
    np.testing.assert_array_equal(tile(np.array([1.0, 2.0, 3.0]), 7, offset=2),
                                  [2.0, 3.0, 1.0, 2.0, 3.0, 1.0, 2.0])
    np.testing.assert_array_equal(tile(np.arange(10.0), 4, offset=-3), [3.0, 4.0, 5.0, 6.0])
    np.testing.assert_array_equal(tile(np.arange(4.0), 4, offset=0), np.arange(4.0))
    rng = np.random.default_rng(0)
    for _ in range(300):  # the stated rule: sample i is waveform[(i - offset) % n]
        n, samples = rng.integers(1, 40, size=2)
        offset = int(rng.integers(0, samples - n + 1) if samples >= n
                     else -rng.integers(0, n - samples + 1))
        waveform = rng.standard_normal(n).astype(np.float32)
        expected = [waveform[(i - offset) % n] for i in range(samples)]
        got = tile(waveform, int(samples), offset=offset)
        assert got.dtype == np.float32 and got.tolist() == expected
        assert not np.shares_memory(got, waveform)  # a new array


def cut(signal: np.ndarray, *, block: int, **settings) -> tuple[list[Window], Windows]:
    """Every window of ``signal`` read in blocks of ``block`` samples."""
    windows = Windows((signal[i:i + block] for i in range(0, len(signal), block)), **settings)
    return list(windows), windows


@pytest.mark.parametrize("block", [1, 7, 64, 10_000])
def test_windows_are_the_same_however_the_signal_is_blocked(block):
    signal = np.random.default_rng(0).normal(size=1000).astype(np.float32)
    reference, _ = cut(signal, block=len(signal), clip=128, hop=48, step=16, keep=6)
    windows, cutter = cut(signal, block=block, clip=128, hop=48, step=16, keep=6)
    assert cutter.samples == len(signal) and len(windows) == len(reference)
    for window, expected in zip(windows, reference, strict=True):
        assert window.start == expected.start and window.keep == expected.keep
        np.testing.assert_array_equal(window.samples, expected.samples)


def test_regular_windows_and_a_tail_ending_at_the_end_on_the_frame_grid():
    signal = np.arange(1, 1011, dtype=np.float32)  # no zeros: padding shows
    windows, _ = cut(signal, block=100, clip=128, hop=48, step=16)
    starts = [window.start for window in windows]
    assert starts[:-1] == list(range(0, 1010 - 128 + 1, 48))  # every hop while they fit
    # the last of them (at 864) ends at frame 62 < 1010 // 16: one more window, at
    # ceil((1010 - 128) / 16) * 16, 14 samples past the end
    assert starts[-1] == 896
    for window in windows[:-1]:
        np.testing.assert_array_equal(window.samples, signal[window.start:window.start + 128])
        assert window.keep == slice(0, 1 + 128 // 16)
    tail = windows[-1]
    np.testing.assert_array_equal(tail.samples[:114], signal[896:])
    assert (tail.samples[114:] == 0).all() and tail.keep == slice(0, None)
    # with step 1 the tail ends exactly at the end; none when the last window's frames
    # reach the last one
    assert cut(signal, block=100, clip=128, hop=48)[0][-1].start == 1010 - 128
    assert [w.start for w in cut(signal[:1000], block=100, clip=128, hop=48, step=16)[0]] \
        == list(range(0, 1000 - 128 + 1, 48))


def test_a_tail_is_added_when_the_kept_frames_miss_the_last_frame():
    signal = np.ones(176, dtype=np.float32)  # the window at 48 ends at the end
    # keeping 6 of a window's 9 frames, the last window's kept frames end at frame 8 < 11
    windows, _ = cut(signal, block=176, clip=128, hop=48, step=16, keep=6)
    assert [window.start for window in windows] == [0, 48, 48]
    assert windows[-1].keep == slice(0, None)


@pytest.mark.parametrize("step", [1, 16])
def test_a_short_signal_is_tiled_centred_on_the_frame_grid_never_padded(step):
    signal = np.arange(1.0, 41.0, dtype=np.float32)  # 40 samples, no zeros
    (window,), cutter = cut(signal, block=15, clip=128, hop=64, step=step)
    left = (128 - 40) // 2 // step * step  # 44, or 32 on a 16-sample grid
    assert window.start == -left and cutter.samples == 40
    assert (window.samples != 0).all()
    np.testing.assert_array_equal(window.samples[left:left + 40], signal)  # its own copy
    np.testing.assert_array_equal(window.samples, signal[(np.arange(128) - left) % 40])
    assert window.keep == slice(left // step, left // step + 1 + 40 // step)
