"""The call map: every window of an embedding store as a point on a 2-D map, coloured by
label or cluster; click a point to hear it.

:func:`project` lays out the vectors in two dimensions: UMAP where ``umap-learn`` is
installed (not a whalelab dependency), else scikit-learn's t-SNE (PCA start, a fixed
seed, the perplexity kept below a third of the points). Neither keeps distances: calls
near each other on the map are alike, but how far apart two groups lie, or how big one
looks, means little. :func:`clusters` gives each window a k-means cluster where there are
no labels. :func:`call_map_figure` draws the map; :func:`call_map` makes it a widget that
plays the window clicked (at ``speed`` times, as the review widget's player), and
:func:`window_audio` reads a store's windows for it, one when it is played.

**Click to play** comes from ``ipympl`` (a whalelab dependency: one package beside
matplotlib and ipywidgets, its JupyterLab extension in its wheel): the map is a live
matplotlib canvas whose pick events say which point was clicked, and its toolbar zooms
into a dense cluster. Where it is missing (or with ``interactive=False``) the map is a
picture and a list of the points plays them, with one line that says what to install. Either way the box also displays as
``image/png`` (:func:`whalelab.plots.widgets.still_box`), so the report's HTML shows the
map where the widget was.

Examples
--------
>>> import numpy as np
>>> blobs = np.repeat(np.eye(3, 16) * 10, 10, axis=0)
>>> blobs += np.random.default_rng(0).normal(size=blobs.shape)
>>> points, method = project(blobs, method="tsne")
>>> points.shape, method
((30, 2), 'tsne')
>>> fig = call_map_figure(points, ["a"] * 10 + ["b"] * 10 + [""] * 10, method=method)
>>> [text.get_text() for text in fig.axes[0].get_legend().get_texts()]
['a (10)', 'b (10)', 'unlabelled (10)']
"""

from __future__ import annotations

import html
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from whalelab.audio import load_audio
from whalelab.embeddings import EmbeddingStore
from whalelab.errors import ConfigError, DataError, WhaleLabError
from whalelab.plots.review import wav_bytes
from whalelab.plots.style import new_figure
from whalelab.plots.widgets import png, still_box

METHODS = ("auto", "umap", "tsne")
#: t-SNE's perplexity where there are enough points (scikit-learn's default)
PERPLEXITY = 30.0
#: below this many points t-SNE runs its exact gradient: as fast there as Barnes-Hut's
#: approximation, and it needs no OpenMP threads (which crawl on a busy machine)
TSNE_EXACT_BELOW = 150
#: what a point without a label is called in the legend; drawn grey, under the others
UNLABELLED = "unlabelled"
#: how near (in points, 1/72 inch) a click must fall to a point to play it
PICK_RADIUS = 6.0
INSTALL_IPYMPL = ("click-to-play needs ipympl (pip install ipympl, then restart "
                  "JupyterLab); until then choose a call from the list")


def _vectors(vectors: Any) -> np.ndarray:
    """``vectors`` as float64 ``(n, dim)``, refused where they cannot be mapped."""
    vectors = np.asarray(vectors, dtype=float)
    if vectors.ndim != 2:
        raise DataError(f"vectors of shape {vectors.shape}: expected (windows, dim)")
    if len(vectors) < 3:
        raise DataError(f"{len(vectors)} vector(s): a map needs at least 3")
    bad = int((~np.isfinite(vectors)).any(axis=1).sum())
    if bad:
        raise DataError(f"{bad} of {len(vectors)} vectors hold NaN or inf: leave those "
                        f"windows out before mapping")
    return vectors


def umap_installed() -> bool:
    """Whether ``umap-learn`` can be imported."""
    try:
        import umap  # noqa: F401
    except ImportError:
        return False
    return True


def project(vectors: Any, *, method: str = "auto", seed: int = 0) -> tuple[np.ndarray, str]:
    """The vectors laid out in two dimensions, neighbours kept near each other.

    Parameters
    ----------
    vectors : array, ``(windows, dim)``
        One embedding per window (an :class:`~whalelab.embeddings.EmbeddingStore`'s
        ``vectors()``), at least 3, all finite.
    method : {"auto", "umap", "tsne"}
        ``umap`` (``umap-learn``, 15 neighbours or fewer for few points), ``tsne``
        (scikit-learn; perplexity 30, or a third of the points less one for fewer than
        91; PCA start; the exact gradient below :data:`TSNE_EXACT_BELOW` points), or
        ``auto``: UMAP where it is installed, else t-SNE.
    seed : int
        The same seed gives the same map.

    Returns
    -------
    points : numpy.ndarray
        float64 ``(windows, 2)``.
    method : str
        The method used: ``umap`` or ``tsne``.

    Raises
    ------
    DataError
        Not a 2-D array, fewer than 3 vectors, or some NaN or inf.
    ConfigError
        An unknown method, or ``umap`` without ``umap-learn`` (naming the install
        command).
    """
    if method not in METHODS:
        raise ConfigError(f"method {method!r}: expected one of {', '.join(METHODS)}")
    vectors = _vectors(vectors)
    if method == "umap" and not umap_installed():
        raise ConfigError("method 'umap' needs umap-learn: pip install umap-learn "
                          "(or method='tsne')")
    if method == "umap" or (method == "auto" and umap_installed()):
        import umap

        points = umap.UMAP(n_components=2, n_neighbors=min(15, len(vectors) - 1),
                           random_state=seed).fit_transform(vectors)
        return np.asarray(points, dtype=float), "umap"
    from sklearn.manifold import TSNE

    perplexity = max(1.0, min(PERPLEXITY, (len(vectors) - 1) / 3))
    points = TSNE(n_components=2, perplexity=perplexity, init="pca", learning_rate="auto",
                  method="exact" if len(vectors) < TSNE_EXACT_BELOW else "barnes_hut",
                  random_state=seed).fit_transform(vectors)
    return np.asarray(points, dtype=float), "tsne"


def clusters(vectors: Any, *, k: int, seed: int = 0) -> np.ndarray:
    """A k-means cluster for each vector, to colour a map without labels.

    Returns
    -------
    numpy.ndarray
        ``(windows,)`` of str: ``cluster 1`` (the largest) to ``cluster k``.

    Raises
    ------
    ConfigError
        ``k`` below 1 or above the number of vectors.

    Examples
    --------
    >>> clusters([[0.0], [0.1], [0.2], [9.0], [9.1]], k=2).tolist()
    ['cluster 1', 'cluster 1', 'cluster 1', 'cluster 2', 'cluster 2']
    """
    from sklearn.cluster import KMeans

    vectors = _vectors(vectors)
    if not 1 <= k <= len(vectors):
        raise ConfigError(f"k {k}: expected 1 to {len(vectors)} (the number of vectors)")
    found = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(vectors)
    by_size = np.argsort(-np.bincount(found, minlength=k), kind="stable")
    rank = np.empty(k, dtype=int)
    rank[by_size] = np.arange(k)
    return np.array([f"cluster {rank[cluster] + 1}" for cluster in found])


def _points_and_labels(points: Any, labels: Sequence[Any] | None) -> tuple[np.ndarray, list[str]]:
    points = np.asarray(points, dtype=float)
    if points.ndim != 2 or points.shape[1] != 2:
        raise DataError(f"points of shape {points.shape}: expected (windows, 2) "
                        f"(from project)")
    labels = [""] * len(points) if labels is None else list(labels)
    if len(labels) != len(points):
        raise DataError(f"{len(labels)} labels for {len(points)} points")
    return points, [UNLABELLED if label is None or str(label) in ("", "nan") else str(label)
                    for label in labels]


def call_map_figure(points: Any, labels: Sequence[Any] | None = None, *,
                    title: str = "call map", method: str | None = None) -> Figure:
    """The map: one dot per window, one colour and legend entry per label.

    Parameters
    ----------
    points : array, ``(windows, 2)``
        From :func:`project`.
    labels : sequence or None
        One label per point (a class, a pod, a cluster); empty, None or NaN is
        ``unlabelled`` (grey, drawn under the others, last in the legend); None: all
        unlabelled.
    title : str
        The figure's title.
    method : str or None
        ``umap`` or ``tsne``, named on the axes.

    Returns
    -------
    Figure
        Each label's dots are one collection, pickable (clicks within
        :data:`PICK_RADIUS` points), whose ``point_positions`` attribute holds the
        positions of its dots in ``points``; legend entries read ``label (count)``.

    Raises
    ------
    DataError
        ``points`` not ``(windows, 2)``, or as many labels as points.
    """
    points, labels = _points_and_labels(points, labels)
    names = sorted(set(labels) - {UNLABELLED})
    colours = _colours(len(names))
    fig = new_figure(7, 5.5)
    ax = fig.subplots()
    size = 40 if len(points) <= 200 else 14 if len(points) <= 2000 else 5
    for name, colour in [(UNLABELLED, "0.7")] * (UNLABELLED in labels) + list(zip(names, colours)):
        positions = np.flatnonzero(np.array(labels) == name)
        dots = ax.scatter(points[positions, 0], points[positions, 1], s=size, color=colour,
                          alpha=0.85, linewidths=0, label=f"{name} ({len(positions)})",
                          picker=True, pickradius=PICK_RADIUS)
        dots.point_positions = positions
    handles, texts = ax.get_legend_handles_labels()  # unlabelled last, drawn first
    order = sorted(range(len(texts)), key=lambda i: texts[i].startswith(UNLABELLED + " ("))
    ax.legend([handles[i] for i in order], [texts[i] for i in order], loc="best",
              fontsize=8, markerscale=max(1.0, 30 / size) ** 0.5)
    axis = {"umap": "UMAP", "tsne": "t-SNE"}.get(method or "", "map")
    ax.set(xlabel=f"{axis} 1", ylabel=f"{axis} 2", xticks=[], yticks=[])
    ax.set_title(f"{title}: {len(points)} windows", fontsize=10)
    return fig


def _colours(count: int) -> list[Any]:
    """``count`` distinct colours: tab10, tab20 beyond 10, a sampled hsv beyond 20."""
    from matplotlib import colormaps

    if count <= 10:
        return [colormaps["tab10"](i) for i in range(count)]
    if count <= 20:
        return [colormaps["tab20"](i) for i in range(count)]
    return [colormaps["hsv"](i / count) for i in range(count)]


def window_audio(store: EmbeddingStore, *, sample_rate: int) -> Callable[[int], np.ndarray]:
    """A reader of the store's windows: ``read(i)`` is window ``i``'s samples (its file
    from ``start_s`` to ``end_s``, mono, resampled to ``sample_rate``), read when called.

    Files are found where the store resolved them when they were embedded.
    """
    windows = store.windows().merge(store.files()[["id", "resolved"]].rename(
        columns={"id": "file_id"}), on="file_id", how="left")

    def read(position: int) -> np.ndarray:
        window = windows.iloc[position]
        return load_audio(window.resolved, sample_rate, offset=float(window.start_s),
                          duration=float(window.end_s) - float(window.start_s))

    return read


def _interactive_canvas(fig: Figure):
    """``fig`` on an ipympl canvas widget (which replaces its canvas), or None without
    ipympl."""
    try:
        from ipympl.backend_nbagg import Canvas, FigureManager
    except ImportError:
        return None
    canvas = Canvas(fig)
    with warnings.catch_warnings():  # ipympl 0.10's toolbar, under traitlets 5: not ours
        warnings.filterwarnings("ignore", "Passing unrecognized arguments",
                                DeprecationWarning)
        FigureManager(canvas, 0)  # the canvas hands the browser's messages to its manager
    canvas.header_visible = False
    canvas.toolbar_position = "top"
    return canvas


def call_map(points: Any, labels: Sequence[Any] | None,
             audio: Sequence[np.ndarray] | Callable[[int], np.ndarray], *, sample_rate: int,
             speed: float = 1.0, names: Sequence[str] | None = None,
             title: str = "call map", method: str | None = None, interactive: bool = True):
    """The map as a widget: click a point (or choose it in the list) to hear its window.

    Parameters
    ----------
    points, labels, title, method
        As :func:`call_map_figure`.
    audio : sequence of arrays, or callable
        Each point's samples, ``(samples,)`` at ``sample_rate``, or ``read(i)`` that
        reads point ``i``'s when it is played (:func:`window_audio`).
    sample_rate : int
        The rate of the samples.
    speed : float
        Playback speed (every frequency times ``speed``: x8 lifts a 20 Hz fin whale
        pulse to 160 Hz).
    names : sequence of str or None
        What each point is (its file and time), said in the list and above the map;
        None: ``point i``.
    interactive : bool
        Draw the map on an ipympl canvas where ipympl is installed, so that clicks
        play; False (or without ipympl) shows a picture and the list alone.

    Returns
    -------
    ipywidgets.VBox
        A header (the point playing), the map, the list of points, the player (it
        starts at each new point) and a message line. ``box.position`` is the point
        played (None at first), ``box.figure`` the map's Figure, ``box.play(i)`` plays
        point ``i``, and ``box.still`` is the PNG of the map.

    Raises
    ------
    DataError
        As :func:`call_map_figure`; fewer or more names or sounds than points.
    """
    import ipywidgets as widgets

    points, shown_labels = _points_and_labels(points, labels)
    names = [f"point {i}" for i in range(len(points))] if names is None else list(names)
    if len(names) != len(points):
        raise DataError(f"{len(names)} names for {len(points)} points")
    if not callable(audio) and len(audio) != len(points):
        raise DataError(f"{len(audio)} sounds for {len(points)} points")
    read = audio if callable(audio) else audio.__getitem__

    fig = call_map_figure(points, labels, title=title, method=method)
    ax = fig.axes[0]
    ring = ax.scatter([], [], s=160, facecolors="none", edgecolors="black", linewidths=1.5)
    still = png(fig)

    canvas = _interactive_canvas(fig) if interactive else None
    header = widgets.HTML("click a point to hear it" if canvas is not None else
                          "choose a call in the list to hear it")
    message = widgets.HTML()
    view = canvas if canvas is not None else widgets.Image(value=still, format="png")
    if canvas is None and interactive:
        message.value = html.escape(INSTALL_IPYMPL)
    heard = f" &middot; heard at x{speed:g}" if speed != 1 else ""
    chooser = widgets.Dropdown(
        options=[(f"{name} · {label}", i) for i, (name, label) in
                 enumerate(zip(names, shown_labels))], value=None, description="call")
    player = widgets.Audio(format="wav", autoplay=True, loop=False)
    box = still_box()([header, view, chooser, player, message])
    box.still, box.position, box.figure = still, None, fig

    def play(change: Any) -> None:
        position = change["new"]
        if position is None:
            return
        box.position = position
        ring.set_offsets(points[[position]])
        if canvas is not None:
            canvas.draw_idle()
        else:
            view.value = png(fig)
        header.value = (f"<b>{html.escape(names[position])}</b> &middot; "
                        f"{html.escape(shown_labels[position])}{heard}")
        try:
            samples = np.asarray(read(position), dtype=np.float32)
        except WhaleLabError as error:  # a file moved since it was embedded: said, not raised
            message.value, player.value = f"<b>{html.escape(str(error))}</b>", b""
            return
        message.value = html.escape(INSTALL_IPYMPL) if canvas is None and interactive else ""
        player.value = wav_bytes(samples, sample_rate, speed=speed)

    def picked(event: Any) -> None:
        positions = getattr(event.artist, "point_positions", None)
        if positions is None or not len(event.ind):
            return
        # of the dots within reach of the click, the nearest
        where = event.artist.get_offset_transform().transform(
            event.artist.get_offsets()[event.ind])  # (hits, 2) in pixels
        nearest = np.argmin(np.hypot(*(where - [event.mouseevent.x, event.mouseevent.y]).T))
        choose(int(positions[event.ind[nearest]]))

    def choose(position: int) -> None:
        if chooser.value == position:  # the same point again: play it again
            play({"new": position})
        chooser.value = position

    chooser.observe(play, names="value")
    fig.canvas.mpl_connect("pick_event", picked)
    box.play = choose
    return box
