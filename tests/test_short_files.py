"""A file shorter than a clip is scored as its tiled window, never padded with silence.

Detection keeps only the frames of the file's own (centred) copy, so its traces are the
model's on the tiled window, cut to the file, and no event lies in the repeats. (The
band-energy baseline's counterpart is in ``test_baselines.py``, prediction's in
``test_predict.py``.)
"""

from __future__ import annotations

import numpy as np
import torch

from whalelab import audio
from whalelab.band_contrast import BandContrast
from whalelab.checkpoint import TrainedModel
from whalelab.config import RunConfig
from whalelab.detection import detect_recording, detection_settings
from whalelab.model import build_model

SR = 8000
CLASSES = ["low", "high"]
CONFIG = RunConfig.from_profile("smoke", data="", classes=CLASSES, backbone="tiny")
BANDS = {"low": (10.0, 100.0), "high": (500.0, 2000.0)}
STEP, CLIP = CONFIG.features.hop_length, CONFIG.features.clip_samples  # 128, 40000


def test_a_1_s_file_is_detected_as_its_tiled_window_and_no_event_lies_in_the_repeats(tmp_path):
    torch.manual_seed(0)
    model = build_model(CONFIG).eval()
    with torch.no_grad():  # a class sure everywhere: events wherever the file is
        model.att_block.cla.bias.copy_(torch.tensor([8.0, -8.0]))
        model.att_block.att.bias.copy_(torch.tensor([8.0, -8.0]))
    trained = TrainedModel(model=model, config=CONFIG, bands=BANDS,
                           thresholds=np.full(len(CLASSES), 0.5), source=tmp_path)
    signal = np.random.default_rng(0).uniform(-0.5, 0.5, SR).astype(np.float32)  # 1 s
    path = tmp_path / "short.wav"
    audio.write_audio(path, signal, SR, subtype="FLOAT")
    detected = detect_recording(trained, path,
                                settings=detection_settings(CONFIG, trim=False, gate=True))

    # the same audio tiled to the clip length by hand, one copy centred on a whole frame
    left = (CLIP - len(signal)) // 2 // STEP * STEP
    tiled = torch.from_numpy(signal[(np.arange(CLIP) - left) % len(signal)])[None]
    own = slice(left // STEP, left // STEP + 1 + len(signal) // STEP)  # the copy's frames
    with torch.inference_mode():
        output = model(tiled)
        gated = output["framewise_output"] * output["clipwise_output"][:, None, :]
        contrast = BandContrast(CONFIG.features, BANDS, CLASSES)(tiled)
    np.testing.assert_allclose(detected.scores, gated[0, own].numpy(), atol=1e-5)
    np.testing.assert_allclose(detected.contrast, contrast[0, own].numpy(), atol=1e-4)

    events = detected.events
    assert (events.label == "low").any()
    assert (events.begin_s >= 0).all() and (events.end_s <= len(signal) / SR).all()
