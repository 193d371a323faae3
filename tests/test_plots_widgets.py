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
