"""The review widget of notebook 06: look at a detection, listen to it, decide, go on.

:func:`review_widget` pages through a :class:`whalelab.review.Review` (a ``whalelab
detect`` folder's events) in the review's order (highest score first, or by margin: the
events nearest the threshold first, where the model is least sure). Each event shows its
spectrogram with some context either side (its span and band boxed), a sound player (the
audio played ``speed`` times faster than recorded: every frequency times ``speed``, so
that infrasonic fin and blue whale calls become audible at x8 and fast clicks slow down
at x0.25), its label and score, and, where the caller gives them, the labels of its
nearest neighbours in an embedding store. Buttons decide ``true``, ``false``, ``unsure``
or relabel it as another class; so do keys typed into the keys box (``t``, ``f``, ``u``).
Every decision goes through :meth:`Review.mark`, which saves ``review.csv`` atomically at
once, so closing the browser or restarting the kernel loses nothing, and a new widget on
the same folder starts at the first event left undecided.

Like :func:`whalelab.plots.widgets.live`, the box also displays as ``image/png`` (the first
event's figure), so a page without a kernel (the report's HTML) shows a still where the
widget was.
"""

from __future__ import annotations

import html
import io
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import librosa
import numpy as np
import soundfile
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from whalelab.advise import speed_for
from whalelab.audio import audio_info, load_audio
from whalelab.bands import Band
from whalelab.errors import WhaleLabError
from whalelab.plots.style import new_figure
from whalelab.plots.widgets import png, still_box
from whalelab.review import Review

#: the letters of the keys box and the decisions they make
KEYS = {"t": "true", "f": "false", "u": "unsure"}
#: seconds of recording shown and played either side of an event
CONTEXT_S = 1.0
#: the shortest spectrogram FFT at 8 kHz, scaled with the file's rate (32 ms)
N_FFT_8K = 256


def listening_speed(bands: Mapping[str, Band]) -> float:
    """The speed to play a run's calls at: the one that lifts the lowest band edge of its
    classes to 120 Hz (:func:`whalelab.advise.speed_for`: a power of two, at most 8; 1
    without bands), so that 15-100 Hz fin and blue whale calls are heard at x8.

    >>> listening_speed({"fin": (15.0, 40.0), "humpback": (100.0, 4000.0)})
    8
    >>> listening_speed({"orca": (500.0, 12000.0)}), listening_speed({})
    (1, 1)
    """
    lows = [band[0] for band in bands.values() if band is not None]
    return speed_for((min(lows), 0.0) if lows else None)


def event_audio(event: Any, *, context_s: float = CONTEXT_S) -> tuple[np.ndarray, int, float]:
    """The samples of one event of a review table with ``context_s`` seconds either side,
    at the file's own rate: ``(samples,)``, the rate and the time of the first sample."""
    rate = audio_info(event.file).sample_rate
    start = max(0.0, float(event.begin_s) - context_s)
    samples = load_audio(event.file, rate, offset=start,
                         duration=float(event.end_s) + context_s - start)
    return samples, rate, start


def event_figure(event: Any, samples: np.ndarray, *, sample_rate: int, start_s: float,
                 speed: float = 1.0) -> Figure:
    """The event's spectrogram (dB, 80 dB range) from ``start_s`` up to four times the
    top of its band, its span and band in a dashed box, the FFT long enough for 16 bins
    below that top (a 15-100 Hz call gets 4 Hz bins); the title names the file, the label,
    the score and the playback speed."""
    nyquist = sample_rate / 2
    low = float(event.low_hz) if str(event.low_hz) not in ("", "nan") else 0.0
    high = float(event.high_hz) if str(event.high_hz) not in ("", "nan") else nyquist
    top = min(nyquist, max(4 * high, 500.0))
    n_fft = int(2 ** np.ceil(np.log2(max(N_FFT_8K * sample_rate / 8000, 32 * nyquist / top))))
    n_fft = max(16, min(n_fft, 8192, len(samples)))
    power = np.abs(librosa.stft(samples, n_fft=n_fft, hop_length=max(1, n_fft // 8))) ** 2
    shown = power[:int(np.ceil(top / nyquist * (power.shape[0] - 1))) + 1]  # (freq, time)
    fig = new_figure(9, 3.2)
    ax = fig.subplots()
    ax.imshow(librosa.power_to_db(shown, ref=np.max, top_db=80.0), origin="lower",
              aspect="auto", cmap="magma",
              extent=(start_s, start_s + len(samples) / sample_rate, 0,
                      (shown.shape[0] - 1) * sample_rate / n_fft))
    ax.add_patch(Rectangle((float(event.begin_s), low), float(event.end_s) - float(event.begin_s),
                           min(high, top) - low, fill=False, edgecolor="white", linestyle="--"))
    ax.set_xlabel("time in the recording (s)")
    ax.set_ylabel("frequency (Hz)")
    heard = f", heard at x{speed:g}" if speed != 1 else ""
    ax.set_title(f"{event.file} {float(event.begin_s):.2f}-{float(event.end_s):.2f} s: "
                 f"{event.label}, score {float(event.score):.3f}{heard}", fontsize=9)
    return fig


def wav_bytes(samples: np.ndarray, sample_rate: int, *, speed: float = 1.0) -> bytes:
    """A WAV of ``samples`` whose header says ``sample_rate * speed``: a player plays it
    ``speed`` times faster, every frequency times ``speed``."""
    buffer = io.BytesIO()
    peak = float(np.max(np.abs(samples))) if len(samples) else 0.0
    soundfile.write(buffer, samples / peak if peak > 0 else samples,
                    max(1, int(round(sample_rate * speed))), format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def review_widget(review: Review, *, speed: float = 1.0, by: str = "score",
                  threshold: float = 0.5, context_s: float = CONTEXT_S,
                  neighbours: Callable[[int], Sequence[str]] | None = None):
    """A box that shows one undecided event of ``review`` at a time and saves each decision.

    Parameters
    ----------
    review : Review
        The events and the decisions so far (``review.csv`` is written at each one).
    speed : float
        Playback speed of the sound player (frequencies times ``speed``).
    by, threshold : str, float
        The review's order (:meth:`Review.order`): ``score`` or ``margin`` around
        ``threshold``.
    context_s : float
        Seconds shown and played either side of an event.
    neighbours : callable or None
        Event position -> the labels of its nearest neighbours (from
        :func:`whalelab.search.nearest` on a labelled store), shown beside the score.

    Returns
    -------
    ipywidgets.VBox
        Header, figure, player, decision buttons, relabel menu and keys box; its
        ``still`` is the PNG of the first event shown. ``box.position`` is the event shown
        (None when every event is decided).
    """
    import ipywidgets as widgets

    header, message = widgets.HTML(), widgets.HTML()
    image = widgets.Image(format="png")
    player = widgets.Audio(format="wav", autoplay=False, loop=False)
    buttons = [widgets.Button(description=decision, tooltip=f"{decision} (key {key})")
               for key, decision in KEYS.items()]
    relabel_to = widgets.Dropdown(options=list(review.classes), description="class")
    relabel = widgets.Button(description="relabel", tooltip="the call is real, of this class")
    keys = widgets.Text(placeholder="keys: t true, f false, u unsure",
                        description="keys")
    controls = [*buttons, relabel_to, relabel]
    box = still_box()([header, image, player, widgets.HBox(controls), keys, message])
    box.position = None

    def show() -> None:
        box.position = review.next(by=by, threshold=threshold)
        decided, total = len(review.decided), len(review)
        for control in (*controls, keys):
            control.disabled = box.position is None
        if box.position is None:
            header.value = f"<b>all {total} events decided</b> (review.csv)"
            return
        event = review.table.iloc[box.position]
        near = neighbours(box.position) if neighbours is not None else None
        near_text = f" &middot; neighbours: {html.escape(', '.join(near))}" if near else ""
        header.value = (f"<b>event {decided + 1} of {total}</b> &middot; decided {decided} "
                        f"&middot; {html.escape(str(event.label))}, score "
                        f"{float(event.score):.3f}{near_text}")
        try:
            samples, rate, start = event_audio(event, context_s=context_s)
        except WhaleLabError as error:  # an unreadable file is said; the review goes on
            message.value = f"<b>{html.escape(str(error))}</b>"
            image.value, player.value = b"", b""
            return
        message.value = ""
        image.value = png(event_figure(event, samples, sample_rate=rate, start_s=start,
                                       speed=speed))
        player.value = wav_bytes(samples, rate, speed=speed)

    def decide(decision: str) -> None:
        if box.position is not None:
            review.mark(box.position, decision)
            show()

    for button in buttons:
        button.on_click(lambda clicked: decide(clicked.description))
    relabel.on_click(lambda clicked: decide(relabel_to.value))

    def typed(change: Any) -> None:
        letter = change["new"][-1:].lower()
        if letter:
            keys.value = ""
            if letter in KEYS:
                decide(KEYS[letter])

    keys.observe(typed, names="value")
    show()
    box.still = bytes(image.value) or None
    return box
