"""whalelab: identify whale calls in underwater recordings with a PANNs-style SED model."""

from whalelab.errors import WhaleLabError

__all__ = ["WhaleLabError"]
__version__ = "0.2.0"
