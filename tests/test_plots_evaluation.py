"""whalelab.plots.evaluation: confusion matrix, PR and ROC curves, reliability diagram,
recall by SNR, clips with their decisions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from whalelab import plots
from whalelab.errors import DataError
from whalelab.config import FeatureConfig
from whalelab.data import Clip
from whalelab.metrics.clips import calibration, classification_metrics
from whalelab.metrics.clips import recall_by_snr as recall_by_snr_rows


def test_confusion_matrix_colours_row_shares_and_writes_counts():
    matrix = np.array([[8, 2, 0], [1, 1, 0], [0, 0, 0]])
    fig = plots.confusion_matrix(matrix, labels=["a", "b", "background"])
    ax = fig.axes[0]
    share = np.asarray(ax.images[0].get_array())
    np.testing.assert_allclose(share[0], [0.8, 0.2, 0.0])
    np.testing.assert_allclose(share[2], 0.0)  # an empty row stays empty, no NaN
    assert [text.get_text() for text in ax.texts][:3] == ["8", "2", "0"]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("predicted", "true")


def test_pr_and_roc_curves_leave_out_classes_they_cannot_draw():
    rng = np.random.default_rng(5)
    targets = np.zeros((40, 3))
    targets[:20, 0] = 1
    targets[:, 2] = 1  # class c: positives only
    probabilities = np.clip(targets * 0.5 + rng.random((40, 3)) * 0.6, 0, 1)
    pr = plots.pr_curves(probabilities, targets, classes=["a", "b", "c"])
    labels = [line.get_label() for line in pr.axes[0].lines]
    assert [label.split(" ")[0] for label in labels] == ["a", "c"]  # b has no positives
    roc = plots.roc_curves(probabilities, targets, classes=["a", "b", "c"])
    labels = [line.get_label() for line in roc.axes[0].lines]
    assert [label.split(" ")[0] for label in labels] == ["a", "chance"]
    ap = float(labels[0].split("AUC ")[1].rstrip(")"))
    assert 0.5 < ap <= 1.0
    assert (pr.axes[0].get_xlabel(), roc.axes[0].get_xlabel()) == ("recall",
                                                                   "false positive rate")


def test_reliability_diagram_pools_the_classes_then_draws_each_with_its_counts():
    targets = np.array([[1, 0], [0, 1]] * 10, dtype=float)
    probabilities = np.column_stack([np.full(20, 0.9), np.where(targets[:, 1] == 1, 0.75, 0.3)])
    result = calibration(probabilities, targets, bins=5, classes=["a", "b"])
    fig = plots.reliability_diagram(result)
    pooled, a, b = fig.axes
    assert [ax.get_title() for ax in fig.axes] == [
        "all classes pooled: 40 (clip, class) pairs", "a\n10 of 20 clips carry it",
        "b\n10 of 20 clips carry it"]
    for ax in fig.axes:  # the diagonal first
        np.testing.assert_allclose(ax.lines[0].get_xydata(), [[0, 0], [1, 1]])
    np.testing.assert_allclose(a.lines[1].get_xydata(), [[0.9, 0.5]])  # its one bin
    np.testing.assert_allclose(b.lines[1].get_xydata(), [[0.3, 0.0], [0.75, 1.0]])
    # pooled: bin 0.2-0.4 holds b's ten 0.3s (none carry b); 0.6-0.8 b's ten 0.75s (all
    # do); 0.8-1 a's twenty 0.9s (half do)
    np.testing.assert_allclose(pooled.lines[1].get_xydata(),
                               [[0.3, 0.0], [0.75, 1.0], [0.9, 0.5]])
    assert [text.get_text() for text in pooled.texts] == ["10", "10", "20"]
    assert [text.get_text() for text in b.texts] == ["10", "10"]
    assert "clips in the bin" in fig.get_supxlabel()


def test_reliability_diagram_draws_the_classes_asked_for_and_pools_those():
    result = calibration(np.array([[0.2, 0.7, 0.5]]), np.array([[0, 1, 1]]),
                         classes=["a", "b", "c"])
    fig = plots.reliability_diagram(result, classes=["c", "a"])
    assert [ax.get_title().split(":")[0].split("\n")[0] for ax in fig.axes] == [
        "all classes pooled", "c", "a"]
    assert fig.axes[0].get_title().endswith(" 2 (clip, class) pairs")
    with pytest.raises(DataError, match="'d'"):
        plots.reliability_diagram(result, classes=["d"])


def test_pr_curves_ring_the_tables_precision_and_recall_and_say_what_they_are():
    probabilities = np.array([[0.9, 0.2], [0.6, 0.7], [0.4, 0.9], [0.1, 0.3]])
    targets = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    # by the single-label rule with thresholds 0.5: clip 0 -> a (right), clip 1 -> b
    # (right), clip 2 -> b (right, one of its labels), clip 3 -> background (right); a's
    # row holds clip 0 only, so a's recall is 1 although the curve's a has two positives
    table = classification_metrics(probabilities, targets.astype(float), ["a", "b"],
                                   np.array([0.5, 0.5]), bootstrap_rounds=2)["per_class"]
    assert [(table[name]["recall"], table[name]["precision"]) for name in "ab"] == [
        (1.0, 1.0), (1.0, 1.0)]
    fig = plots.pr_curves(probabilities, targets, classes=["a", "b"],
                          operating_points=table)
    *rings, legend_entry = [line for line in fig.axes[0].lines if line.get_marker() == "o"]
    assert [(ring.get_xdata()[0], ring.get_ydata()[0]) for ring in rings] == [(1.0, 1.0)] * 2
    assert rings[0].get_color() == fig.axes[0].lines[0].get_color()  # a's colour
    assert len(legend_entry.get_xdata()) == 0
    assert fig.axes[0].get_legend().get_texts()[-1].get_text() == \
        "the table's precision and recall"
    assert "one label" in fig.get_supxlabel() and "off its curve" in fig.get_supxlabel()
    bare = plots.pr_curves(probabilities, targets, classes=["a", "b"])
    assert not [line for line in bare.axes[0].lines if line.get_marker() == "o"]
    assert bare.get_supxlabel() == ""


def test_recall_by_snr_draws_each_scorer_with_its_intervals_and_the_counts():
    rng = np.random.default_rng(0)
    targets = np.eye(2)[rng.integers(0, 2, 80)]
    snr = rng.uniform(-12, 25, 80)
    good = np.clip(targets * 0.8 + rng.uniform(0, 0.2, targets.shape), 0, 1)
    curves = {name: recall_by_snr_rows(scores, targets, np.full(2, 0.5), snr)
              for name, scores in (("model", good), ("baseline", good[:, ::-1]))}
    fig = plots.recall_by_snr(curves)
    recall_ax, count_ax = fig.axes
    assert [bars.get_label() for bars in recall_ax.containers] == ["model", "baseline"]
    assert [bar.get_height() for bar in count_ax.patches] == \
        [row["clips"] for row in curves["model"]]
    assert sum(bar.get_height() for bar in count_ax.patches) == 80
    np.testing.assert_allclose(recall_ax.containers[0].lines[0].get_ydata(),
                               [row["recall"] for row in curves["model"] if row["clips"]])
    for bars, rows in zip(recall_ax.containers, curves.values()):  # the 95 % intervals
        segments = bars.lines[2][0].get_segments()
        np.testing.assert_allclose([segment[:, 1] for segment in segments],
                                   [row["interval_95"] for row in rows if row["clips"]])
    # the scorers stand side by side in each bin, not on top of each other
    model_x, baseline_x = (bars.lines[0].get_xdata() for bars in recall_ax.containers)
    assert (model_x < baseline_x).all() and (baseline_x - model_x < 0.5).all()
    assert [text.get_text() for text in count_ax.texts] == [
        str(row["clips"]) for row in curves["model"]]
    with pytest.raises(DataError, match="different SNR bins"):
        plots.recall_by_snr({"a": curves["model"], "b": curves["model"][:2]})


def test_a_caption_names_every_label_the_snr_and_where_the_clip_cuts_a_call():
    two_calls = Clip("a.wav", labels=("fin_whale", "humpback_whale"), snr_db=4.04,
                     spans=(("humpback_whale", 1.0, 2.5), ("fin_whale", 3.2, 5.0)))
    assert plots.evaluation.clip_caption(two_calls, predicted="humpback_whale",
                                         confidence=0.873, clip_seconds=5.0).splitlines() == [
        "fin_whale + humpback_whale → humpback_whale (0.87)", "SNR 4.0 dB (the faintest call)",
        "humpback_whale 1.0-2.5 s; fin_whale 3.2-5.0 s, cut by the clip's end"]
    long_call = Clip("b.wav", labels=("blue_whale",), spans=(("blue_whale", 0.0, 5.0),))
    assert plots.evaluation.clip_caption(long_call, predicted="fin_whale", confidence=0.6,
                                         clip_seconds=5.0).splitlines()[1:] == [
        "SNR not stated", "blue_whale 0.0-5.0 s, longer than the clip"]
    weak = Clip("c.wav", labels=("minke_whale",))  # clip labels only
    assert plots.evaluation.clip_caption(weak, predicted="background", confidence=0.7,
                                         clip_seconds=5.0).endswith("call spans not known")
    assert plots.evaluation.clip_caption(Clip("d.wav"), predicted="fin_whale", confidence=0.7,
                                         clip_seconds=5.0).splitlines()[::2] == [
        "background → fin_whale (0.70)", "no call"]


def test_decided_clips_draw_each_clip_above_its_low_band_with_its_spans():
    features = FeatureConfig()
    rng = np.random.default_rng(0)
    time = np.arange(features.clip_samples) / features.sample_rate
    fin = np.where((time > 1) & (time < 2), np.sin(2 * np.pi * 20 * time), 0.0)
    clips = [Clip("a.wav", labels=("fin_whale",), spans=(("fin_whale", 1.0, 2.0),), snr_db=3.0),
             Clip("b.wav", labels=("minke_whale",))]
    decided = pd.DataFrame({"predicted": ["blue_whale", "background"],
                            "confidence": [0.9, 0.8]})
    images = [rng.normal(size=(313, 64)) for _ in clips]
    waveforms = [fin + rng.normal(0, 1e-3, len(time)), rng.normal(0, 0.1, len(time))]
    fig = plots.evaluation.decided_clips(images, waveforms, clips=clips, decided=decided,
                                         features=features, columns=2, title="the rule")
    full_a, full_b, low_a, low_b = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert full_a.get_title().splitlines()[0] == "fin_whale → blue_whale (0.90)"
    assert full_b.get_title().splitlines()[0] == "minke_whale → background (0.80)"
    assert low_a.get_ylim() == (0.0, 250.0) and low_a.get_xlim() == full_a.get_xlim()
    (image,) = low_a.images  # the 20 Hz call is the low band's brightest row
    values = np.asarray(image.get_array())
    _, _, bottom, top = image.get_extent()
    assert bottom + (values.max(axis=1).argmax() + 0.5) * (top - bottom) / len(values) == \
        pytest.approx(20, abs=4)
    for ax in (full_a, low_a):  # the known span, dashed on both panels; none for b
        assert sorted(line.get_xdata()[0] for line in ax.lines) == [1.0, 2.0]
    assert not full_b.lines and fig.get_suptitle() == "the rule"
    three = plots.evaluation.decided_clips(images + images[:1], waveforms + waveforms[:1],
                                           clips=clips + clips[:1],
                                           decided=pd.concat([decided, decided[:1]]),
                                           features=features, columns=2)
    assert len([ax for ax in three.axes if ax.get_label() != "<colorbar>"]) == 6  # 4th removed
    nothing = plots.evaluation.decided_clips([], [], clips=[], decided=decided[:0],
                                             features=features)
    assert [text.get_text() for text in nothing.axes[0].texts] == ["no clips to show"]
    with pytest.raises(DataError, match="one of each per clip"):
        plots.evaluation.decided_clips(images, waveforms[:1], clips=clips, decided=decided,
                                       features=features)
