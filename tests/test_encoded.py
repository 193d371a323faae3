"""A frozen backbone's clips encoded once: the head on those features gives what the
whole model gives on the waveforms, and augmented clips are refused."""

from __future__ import annotations

import pytest
import torch

from whalelab.config import RunConfig
from whalelab.data import ClipDataset, load_index
from whalelab.model import WhaleSED
from whalelab.training.encoded import EncodedClips, HeadOnly

RATE = 8000


@pytest.fixture
def tones(tone_tree, tmp_path):
    """The tone tree's clips as a tiny WhaleSED's run reads them, and that model."""
    tree = tone_tree(tmp_path / "tree", seed=3, rate=RATE)
    index = load_index(tree, seed=0, window_s=1.0)
    config = RunConfig.from_profile("smoke", data=str(tree), classes=index.classes,
                                    clip_seconds=1.0, sample_rate=RATE, backbone="tiny",
                                    device="cpu")
    torch.manual_seed(0)
    return index, config, WhaleSED(config.features, config.model)


def test_the_head_on_encoded_clips_gives_the_model_s_outputs(tones):
    index, config, model = tones
    clips = ClipDataset.for_run(index, config)
    encoded = EncodedClips(model, clips, device=torch.device("cpu"), batch_size=5)
    assert len(encoded) == len(clips) and encoded.frames == 1 + clips.samples // 128
    assert model.training  # encoding left the model in the mode it found it in
    model.eval()
    with torch.no_grad():
        whole = model(torch.stack([clips[item].waveform for item in range(len(clips))]))
        head = HeadOnly(model, encoded.frames)(encoded.features)
    for name, value in whole.items():
        torch.testing.assert_close(head[name], value, rtol=1e-5, atol=1e-6)
    for item in (0, len(clips) - 1):
        served, original = encoded[item], clips[item]
        assert torch.equal(served.target, original.target)
        assert torch.equal(served.frame_target, original.frame_target)
        assert served.waveform.shape == encoded.features.shape[1:]


def test_augmented_clips_are_refused(tones):
    index, config, model = tones
    with pytest.raises(ValueError, match="unaugmented"):
        EncodedClips(model, ClipDataset.for_run(index, config, train=True),
                     device=torch.device("cpu"), batch_size=5)
