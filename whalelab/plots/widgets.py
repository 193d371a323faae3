"""Interactive figures for notebooks 01 and 03: controls that redraw a figure function.

With :mod:`whalelab.plots.review` (the review widget) the only modules of
:mod:`whalelab.plots` that use ipywidgets; they import it when a box is built, so drawing
static figures never needs it.

A live box carries a still, the PNG of its first drawing, in the same output as the
widget: JupyterLab shows the widget (its renderer outranks ``image/png``), and a page
without a kernel or widget state (the report's HTML, a notebook viewer) shows the still
where the widget was.

A redraw runs in the kernel's handler of a widget's message, whose warnings and output
go to no cell; :func:`live` shows the warnings of each drawing (librosa's empty mel
filters, say, for many bands and a short FFT) and its :class:`WhaleLabError` in the
message line above the figure.
"""

from __future__ import annotations

import functools
import html
import io
import warnings
from collections.abc import Callable
from typing import Any

from matplotlib.figure import Figure

from whalelab.errors import WhaleLabError


def png(fig: Figure) -> bytes:
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


@functools.cache
def still_box() -> type:
    """The class of a box that displays as its still too (:func:`live`'s, the review
    widget's), made on first use so that ipywidgets loads only then."""
    import ipywidgets as widgets

    class LiveBox(widgets.VBox):
        """A ``VBox`` that also displays as ``image/png``: the still of its first drawing."""

        still: bytes | None = None

        def _repr_png_(self) -> bytes | None:
            return self.still

    return LiveBox


def live(draw: Callable[..., Figure], **controls: Any):
    """Widgets that redraw ``draw(**values)`` whenever one of them changes.

    Like ``ipywidgets.interact``, but the figure is shown as a PNG ``Image`` widget
    instead of through an ``Output`` widget, on which headless execution (papermill,
    nbclient) can hang. A :class:`WhaleLabError` from ``draw`` (say ``fmin`` above
    ``fmax``) is shown above the figure instead, and the warnings a drawing raises (each
    once, by category and text) above the figure it drew. Displayed, the box's output
    holds the widget and, as ``image/png`` beside it, the figure of the initial values
    (none when that drawing failed): JupyterLab shows the live widget, an exported page
    the figure.

    Parameters
    ----------
    draw : callable
        Called with one keyword argument per control; returns a Figure.
    **controls : ipywidgets value widgets
        Name -> widget; a widget without a description is given its name.

    Returns
    -------
    ipywidgets.VBox
        The controls, a message line and the figure; a notebook shows it as its last
        expression. Its ``still`` holds the PNG of the first drawing.

    Examples
    --------
    >>> import ipywidgets as widgets
    >>> import numpy as np
    >>> from whalelab.plots.signal import waveform
    >>> box = live(lambda n: waveform(np.zeros(n), sample_rate=100),
    ...            n=widgets.IntSlider(value=50, min=10, max=100))
    >>> image = box.children[-1]
    >>> first = image.value
    >>> box.children[0].value = 80
    >>> image.value != first and image.value[1:4] == b"PNG"
    True
    >>> box._repr_png_() == box.still == first
    True
    """
    import ipywidgets as widgets

    message, image = widgets.HTML(), widgets.Image(format="png")

    def redraw(change: Any = None) -> None:
        with warnings.catch_warnings(record=True) as raised:
            warnings.simplefilter("always")
            try:
                image.value = png(draw(**{name: control.value for name, control in
                                          controls.items()}))
                lines = []
            except WhaleLabError as error:
                lines = [f"<b>{html.escape(str(error))}</b>"]
        said = dict.fromkeys(f"{warning.category.__name__}: {warning.message}"
                             for warning in raised)
        message.value = "<br>".join([*lines, *(html.escape(text) for text in said)])

    for name, control in controls.items():
        control.description = control.description or name
        control.observe(redraw, names="value")
    redraw()
    box = still_box()([*controls.values(), message, image])
    box.still = bytes(image.value) or None
    return box
