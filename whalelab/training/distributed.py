"""Training on several processes: ``torchrun`` and DistributedDataParallel.

``torchrun --standalone --nproc-per-node N -m whalelab.cli train ...`` (``make train
NPROC=N``) starts N copies of ``whalelab train``; each finds its place in the environment
torchrun sets (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``: :func:`workers`), which joins the
process group (NCCL on GPUs, one device a process; gloo on CPU processes, which is how the
tests run it). Every process builds the same model from the same seed and reads the same
clips; each epoch's order (shuffled or class-balanced, from the epoch's seed as in one
process) is dealt out in turn (:class:`ShardSampler`), so every process steps a different
share of the batch and DistributedDataParallel averages their gradients: the per-epoch
reseeding, and so an exact ``--resume``, hold as in one process. Every process validates
the whole val split on the same weights, so all take the same decisions (best epoch,
early stop) without a word between them; the first (rank 0) alone writes the run folder:
``splits.csv``, ``config.json``, checkpoints, ``history.csv`` and thresholds, the others
waiting at a barrier where they need what it wrote. Batch norm is synchronised across
GPUs (``SyncBatchNorm``); on CPU processes each keeps its own statistics (PyTorch
synchronises batch norm on GPUs only), which the weights of rank 0 carry.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator

import torch
import torch.distributed as dist
from torch.utils.data import Sampler


@dataclasses.dataclass(frozen=True)
class Workers:
    """This process's place among the training processes (one process: rank 0 of 1)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Whether this process writes the run folder (rank 0)."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1

    def barrier(self) -> None:
        """Wait until every process gets here (nothing to wait for in one process)."""
        if self.distributed:
            dist.barrier()


def workers() -> Workers:
    """This process's :class:`Workers` from torchrun's environment, joining the process
    group the first time (NCCL where CUDA is available, its device the local rank's; else
    gloo)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    place = Workers(rank=int(os.environ.get("RANK", "0")), world=world,
                    local_rank=int(os.environ.get("LOCAL_RANK", "0")))
    if place.distributed and not dist.is_initialized():
        if torch.cuda.is_available():
            torch.cuda.set_device(place.local_rank)
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return place


def leave() -> None:
    """Leave the process group, where this process joined one."""
    if dist.is_initialized():
        dist.destroy_process_group()


@contextlib.contextmanager
def main_first(place: Workers) -> Iterator[None]:
    """Run the block in rank 0 first, then in the others: what rank 0 writes there (a
    run's ``splits.csv``), they read."""
    if not place.main:
        place.barrier()
    yield
    if place.main:
        place.barrier()


class ShardSampler(Sampler[int]):
    """This process's share of ``order``'s clips: every ``world``-th from its ``rank``, of
    the first ``len // world * world`` (so that all processes step alike).

    Examples
    --------
    >>> [list(ShardSampler(range(7), Workers(rank=rank, world=3))) for rank in range(3)]
    [[0, 3], [1, 4], [2, 5]]
    """

    def __init__(self, order: Sampler[int] | range, place: Workers) -> None:
        self.order, self.place = order, place

    def __len__(self) -> int:
        return len(self.order) // self.place.world

    def __iter__(self) -> Iterator[int]:
        order = list(self.order)[:len(self) * self.place.world]
        return iter(order[self.place.rank::self.place.world])
