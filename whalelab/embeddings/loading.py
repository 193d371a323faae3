"""The embedder a name gives: ``birdnet``, or a trained run folder or model file."""

from __future__ import annotations

from pathlib import Path

from whalelab.embeddings.base import Embedder
from whalelab.errors import ConfigError

#: the pretrained embedders, by the name ``whalelab embed`` takes
PRETRAINED = ("birdnet",)


def load_embedder(model: str | Path, *, speed: float = 1.0, hop_s: float | None = None,
                  device: str = "auto", threads: int | None = None,
                  workers_device: str | None = None) -> Embedder:
    """The embedder ``model`` names: ``birdnet``, or a trained run folder or model file.

    Parameters
    ----------
    model : str or path
        ``birdnet`` (the optional extra), or a run folder or ``RUN/best.pt``.
    speed : float
        The speed factor (pretrained embedders only; a run hears its own rate).
    hop_s : float or None
        Seconds between windows in the model's time; None: half a window.
    device : str
        Where a run's model runs.
    threads : int or None
        BirdNET's CPU threads.
    workers_device : str or None
        Where a Dask cluster's workers, which make the embedder again from its
        ``recipe``, run a run's model (``auto``: a worker's GPU where it has one); None:
        ``device``. A client without a GPU loads it with ``device="cpu"`` and this.

    Raises
    ------
    ConfigError
        ``birdnet`` without the optional extra (naming the install command), or a speed
        other than 1 for a run.
    """
    if str(model) == "birdnet":
        from whalelab.embeddings.birdnet import BirdNetEmbedder

        embedder: Embedder = BirdNetEmbedder(speed=speed, hop_s=hop_s, threads=threads)
    elif speed != 1:
        raise ConfigError(f"speed {speed:g}: the speed factor is for pretrained embedders "
                          f"({', '.join(PRETRAINED)}); a trained run hears audio at the rate "
                          f"it was trained on")
    else:
        from whalelab.embeddings.run import RunEmbedder

        embedder = RunEmbedder(model, hop_s=hop_s, device=device)
    embedder.recipe = (str(model), speed, hop_s,
                       device if workers_device is None else workers_device, threads)
    return embedder
