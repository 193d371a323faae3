"""The command line's generic behaviour: --help everywhere, one-line errors, exit status."""

from __future__ import annotations

import argparse
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from whalelab import cli
from whalelab.errors import AudioError, ConfigError, DataError, WhaleLabError

SCRIPT = Path(sys.executable).with_name("whalelab")  # the installed console script


def subcommand_names() -> list[str]:
    parser = cli.build_parser()
    [commands] = [action for action in parser._actions
                  if isinstance(action, argparse._SubParsersAction)]
    return list(commands.choices)


def run(*args: str, code: str | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", code] if code else [sys.executable, "-m", "whalelab.cli"]
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=120)


def add_failing_command(error: BaseException):
    """A SUBCOMMANDS entry whose handler raises ``error``."""
    def add(commands):
        parser = commands.add_parser("fail", help="always fails")
        parser.set_defaults(handler=lambda args: (_ for _ in ()).throw(error))
    return add


@pytest.mark.slow
def test_help_lists_every_subcommand():
    result = run("--help")
    assert result.returncode == 0, result.stderr
    assert "usage: whalelab" in result.stdout
    for name in subcommand_names():
        assert name in result.stdout


@pytest.mark.slow
@pytest.mark.skipif(not SCRIPT.exists(), reason="console script not installed")
def test_the_installed_script_runs():
    result = subprocess.run([str(SCRIPT), "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "usage: whalelab" in result.stdout


def test_the_known_subcommands_are_there():
    assert {"synth", "train", "evaluate", "predict"} <= set(subcommand_names())


@pytest.mark.parametrize("name", subcommand_names())
def test_each_subcommand_has_help(name, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main([name, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: whalelab {name}")
    assert "--help" in out


def test_no_subcommand_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main([])
    assert exit_.value.code != 0
    assert "usage: whalelab" in capsys.readouterr().err


@pytest.mark.parametrize("error", [WhaleLabError("something is wrong"),
                                   AudioError("recordings/a.wav: truncated file"),
                                   DataError("labels.csv: row 3 has no path"),
                                   ConfigError("n_mels must be positive")])
def test_a_whalelab_error_prints_one_line_and_fails(error, monkeypatch, capsys):
    monkeypatch.setattr(cli, "SUBCOMMANDS", [*cli.SUBCOMMANDS, add_failing_command(error)])
    status = cli.main(["fail"])
    captured = capsys.readouterr()
    assert status == 2
    assert captured.err == f"whalelab: {error}\n"
    assert captured.out == ""


def test_a_multiline_message_still_prints_one_line(monkeypatch, capsys):
    # pandas' ParserError text ends with a newline, and data.py/raven.py wrap it in a DataError
    error = DataError("table.txt: could not parse (Expected 3 fields in line 5, saw 4\n)")
    monkeypatch.setattr(cli, "SUBCOMMANDS", [*cli.SUBCOMMANDS, add_failing_command(error)])
    assert cli.main(["fail"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("whalelab: table.txt: could not parse")


def test_an_interrupt_prints_one_line(monkeypatch, capsys):
    monkeypatch.setattr(cli, "SUBCOMMANDS",
                        [*cli.SUBCOMMANDS, add_failing_command(KeyboardInterrupt())])
    assert cli.main(["fail"]) == 130
    assert capsys.readouterr().err == "whalelab: interrupted\n"


def test_a_programming_error_is_not_hidden(monkeypatch):
    monkeypatch.setattr(cli, "SUBCOMMANDS",
                        [*cli.SUBCOMMANDS, add_failing_command(ValueError("a bug"))])
    with pytest.raises(ValueError, match="a bug"):
        cli.main(["fail"])


@pytest.mark.slow
def test_a_whalelab_error_in_a_real_process_has_no_traceback(tmp_path):
    code = textwrap.dedent("""
        import sys
        from whalelab import cli
        from whalelab.errors import AudioError

        def add(commands):
            def fail(args):
                raise AudioError(f"{args.path}: the audio holds NaN or infinite samples")
            parser = commands.add_parser("fail")
            parser.add_argument("path")
            parser.set_defaults(handler=fail)

        cli.SUBCOMMANDS.append(add)
        sys.exit(cli.main())
    """)
    path = tmp_path / "bad file.wav"
    result = run("fail", str(path), code=code)
    assert result.returncode == 2
    assert result.stderr == f"whalelab: {path}: the audio holds NaN or infinite samples\n"
    assert "Traceback" not in result.stderr + result.stdout


def test_a_folder_given_to_predict_is_called_a_folder_and_detect_is_offered(tmp_path, capsys):
    import torch

    from whalelab.checkpoint import model_file_state, save_checkpoint
    from whalelab.config import RunConfig
    from whalelab.model import build_model

    config = RunConfig.from_profile("smoke", data=tmp_path, classes=["a", "b"], backbone="tiny",
                                    clip_seconds=1.0)
    torch.manual_seed(0)
    model_file = tmp_path / "best.pt"
    save_checkpoint(model_file, model_file_state(
        build_model(config), config, bands={"a": (10.0, 100.0), "b": (200.0, 900.0)},
        thresholds=None, epoch=0))
    (tmp_path / "recordings").mkdir()
    assert cli.main(["predict", str(model_file), str(tmp_path / "recordings")]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"whalelab: {tmp_path / 'recordings'}: a folder, not an audio file")
    assert "whalelab detect" in error and "\n" not in error
