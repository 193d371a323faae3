"""whalelab.plots.widgets: controls that redraw a figure."""

from __future__ import annotations

import numpy as np

from whalelab import plots


def test_live_redraws_on_change_and_shows_errors_instead_of_raising():
    import ipywidgets as widgets

    from whalelab.errors import ConfigError

    calls = []

    def draw(n, label):
        calls.append((n, label))
        if n > 90:
            raise ConfigError(f"n={n} is too large")
        return plots.waveform(np.zeros(n), sample_rate=100, title=label)

    box = plots.live(draw, n=widgets.IntSlider(value=50, min=10, max=100),
                     label=widgets.Text(value="a"))
    slider, text, message, image = box.children
    assert calls == [(50, "a")] and text.description == "label"
    first = image.value
    text.value = "b"
    assert calls[-1] == (50, "b") and image.value != first and message.value == ""
    shown = image.value
    slider.value = 95
    assert "n=95 is too large" in message.value and image.value == shown
    slider.value = 60
    assert message.value == "" and image.value != shown


def test_live_displays_a_still_of_its_first_drawing_beside_the_widget():
    import ipywidgets as widgets
    from IPython.core.formatters import DisplayFormatter

    from whalelab.errors import ConfigError

    box = plots.live(lambda n: plots.waveform(np.zeros(n), sample_rate=100),
                     n=widgets.IntSlider(value=50, min=10, max=100))
    first = bytes(box.children[-1].value)
    box.children[0].value = 80  # the live figure moves on, the still stays
    bundle, _ = DisplayFormatter().format(box)
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == box.model_id
    assert bundle["image/png"] == box.still == first != bytes(box.children[-1].value)

    def refuse(n):
        raise ConfigError("no figure for you")

    broken = plots.live(refuse, n=widgets.IntSlider(value=50))
    bundle, _ = DisplayFormatter().format(broken)
    assert broken.still is None and "image/png" not in bundle
    assert "no figure for you" in broken.children[1].value


def test_live_shows_the_warnings_of_each_drawing_where_the_reader_looks():
    import ipywidgets as widgets

    settings = dict(sample_rate=8000, hop_length=128, fmin=10.0, fmax=4000.0, top_db=80.0)
    box = plots.live(
        lambda n_mels: plots.feature_explorer(np.random.default_rng(0).standard_normal(8000),
                                              n_fft=256, n_mels=n_mels, **settings),
        n_mels=widgets.IntSlider(value=16, min=16, max=128))
    slider, message = box.children[0], box.children[1]
    assert message.value == ""
    slider.value = 128  # 128 mel bands over the 129 bins of a 256-point FFT: empty filters
    assert message.value.count("UserWarning: Empty filters detected") == 1
    slider.value = 16
    assert message.value == ""
