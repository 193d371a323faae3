"""One on_error policy for every run over many files: raise, or warn, skip and count."""

from __future__ import annotations

import warnings

import pytest

from whalelab.errors import AudioError, ConfigError, DataError, OnError


def test_raise_stops_at_the_first_error_naming_its_file():
    with pytest.raises(AudioError, match=r"^a\.wav: corrupt$"):
        OnError("raise").fail(AudioError("a.wav: corrupt"))


def test_skip_warns_once_per_file_and_counts_them_at_the_end():
    policy = OnError("skip")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        policy.fail(AudioError("a.wav: corrupt"))
        assert policy.attempt(lambda: (_ for _ in ()).throw(DataError("b.csv: row 3"))) is None
        assert policy.attempt(lambda: 7) == 7
        policy.summary(total=5, source="data", what="file(s) or row(s)")
    assert [str(warning.message) for warning in caught] == [
        "skipped a.wav: corrupt", "skipped b.csv: row 3",
        "data: 2 of 5 file(s) or row(s) could not be used and were skipped; first: a.wav: corrupt"]
    assert policy.skipped == ["a.wav: corrupt", "b.csv: row 3"]


def test_nothing_skipped_says_nothing_and_errors_that_are_not_the_users_pass_through():
    policy = OnError("skip")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        policy.summary(total=3)
    with pytest.raises(ZeroDivisionError):
        policy.attempt(lambda: 1 / 0)


def test_an_unknown_policy_is_named():
    with pytest.raises(ConfigError, match="on_error must be 'raise' or 'skip', not 'ignore'"):
        OnError("ignore")
