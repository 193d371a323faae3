"""Numbers the docs quote from the code, checked against the code.

The README, ``data/README.md`` and the synthetic set's module docstring describe the
synthetic data set and the model with figures that the code decides; when the code
changes, these tests fail until the text follows it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import whalelab.synth
from whalelab.config import EventMatching, RunConfig
from whalelab.model import build_network, count_parameters
from whalelab.profiles import PROFILES
from whalelab.synth.calls import LOW_SNR_SHARE
from whalelab.synth.clips import EDGE_CUT_SHARE, TWO_CALL_SHARE

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
DATA_README = (ROOT / "data" / "README.md").read_text()
SYNTH_DOC = " ".join(whalelab.synth.__doc__.split())


def percent(share: float) -> str:
    return f"{round(share * 100)} %"


def flat(text: str) -> str:
    """``text`` with its line breaks and runs of spaces as single spaces."""
    return " ".join(text.split())


@pytest.mark.parametrize("text", [flat(README), flat(DATA_README), SYNTH_DOC],
                         ids=["README", "data/README", "whalelab.synth"])
def test_the_synthetic_shares_quoted_are_the_generators(text):
    assert f"{percent(LOW_SNR_SHARE)} of" in text
    faint = re.findall(r"(\d+) % of (?:the calls|them) (?:are )?faint", text)
    assert faint and set(faint) == {str(round(LOW_SNR_SHARE * 100))}
    assert f"{percent(TWO_CALL_SHARE)} of the call clips" in text \
        or f"{percent(TWO_CALL_SHARE)} of call clips" in text
    assert f"{percent(EDGE_CUT_SHARE)}" in text


def test_no_document_cites_a_design_file_the_checkout_lacks():
    texts = [README, DATA_README, *(path.read_text() for path in (ROOT / "whalelab").rglob("*.py")),
             *(path.read_text() for path in (ROOT / "notebooks").glob("*.ipynb"))]
    if not (ROOT / "DESIGN.md").exists():
        assert not [text for text in texts if "DESIGN.md" in text]


def test_the_quick_profile_sizes_in_the_readme_are_the_profiles():
    quick = PROFILES["quick"]
    train = round(quick.clips_per_class * 0.7)
    held = round(quick.clips_per_class * 0.15)
    assert (f"{quick.clips_per_class} clips per class ({train} train, {held} val, {held} test)"
            in flat(README))
    assert f"up to {quick.overrides['train']['epochs']} epochs" in flat(README)


def test_the_parameter_counts_in_the_readme_are_the_models():
    config = RunConfig.from_profile("quick", data="", classes=[f"c{k}" for k in range(6)])
    network = build_network(config)
    total, encoder = count_parameters(network), count_parameters(network.encoder)
    assert f"**{total:,} parameters** ({encoder:,} of them in DenseNet121's features)" \
        in flat(README)


def test_the_matching_default_in_the_readme_is_the_configs():
    assert f"(`--iou`, default {EventMatching().iou})" in flat(README)
