"""The ``whalelab`` command: synth | train | evaluate | predict | detect | bench | report.

Every subcommand takes ``--help``. Errors the user can cause print one line,
``whalelab: <message>``, and exit with status 2; nothing else is caught.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from whalelab.errors import WhaleLabError


def _synth(args: argparse.Namespace) -> None:
    from whalelab import synth

    synth.make_dataset(args.out, profile=args.profile, seed=args.seed,
                       per_class=args.per_class, sample_rate=args.sr,
                       clip_seconds=args.duration)


def _add_synth(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "synth", help="write the embedded synthetic whale-call data set",
        description="Write the synthetic data set: WAV clips in train/val/test class "
                    "folders, manifest.csv, and long recordings with Raven tables.")
    parser.add_argument("--out", required=True, help="folder to write into")
    parser.add_argument("--profile", default="quick", help="smoke | quick | full (sizes)")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same bytes")
    parser.add_argument("--per-class", type=int, default=None,
                        help="clips per class over all splits (default: the profile's)")
    parser.add_argument("--sr", type=int, default=8000, help="sample rate in Hz")
    parser.add_argument("--duration", type=float, default=5.0, help="clip length in seconds")
    parser.set_defaults(handler=_synth)


SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [_add_synth]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="whalelab", description="Identify whale calls in underwater recordings.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in SUBCOMMANDS:
        add(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = build_parser().parse_args(argv)
    try:
        args.handler(args)
    except WhaleLabError as error:
        print(f"whalelab: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("whalelab: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
