"""Training a run: planning it, the loop of one network, ensembles, thresholds, and the
side-by-side trainings of the notebooks.

One job per module, each building only on the ones before it:

- :mod:`whalelab.training.plan`: :func:`plan_run` (the configuration and clips of a
  new or resumed run), :func:`prepare_splits`, :func:`check_trainable`,
  :func:`run_bands`;
- :mod:`whalelab.training.validation`: which clips validate each network
  (:func:`validation_folds`, :func:`member_splits`), its predictions and figures on them;
- :mod:`whalelab.training.thresholds`: per-class thresholds chosen on validation;
- :mod:`whalelab.training.encoded`: a frozen backbone's clips encoded once, and the
  model's head stepped on them;
- :mod:`whalelab.training.distributed`: this process's place under ``torchrun``, the
  share of each epoch it steps, and who writes;
- :mod:`whalelab.training.loop`: :func:`train_network`, the epochs of one network
  (:func:`train_step`, :func:`make_optimizer`), checkpoints and exact resumption;
- :mod:`whalelab.training.ensemble`: :func:`train_ensemble`, members trained as runs
  of their own (:func:`member_config`) and averaged;
- :mod:`whalelab.training.run`: :func:`train`, one network or an ensemble as the
  configuration says;
- :mod:`whalelab.training.blend`: :func:`blend_runs`, two trained runs on the same clips
  (the DenseNet SED and the probe) averaged, the weight chosen on validation;
- :mod:`whalelab.training.ablation`: :func:`attention_comparison`, small trainings
  that show what one design choice does (notebook 03).
"""

from whalelab.training.ablation import attention_comparison
from whalelab.training.blend import blend_runs
from whalelab.training.ensemble import MEMBER_SEED_STRIDE, member_config, train_ensemble
from whalelab.training.loop import TrainResult, make_optimizer, train_network, train_step
from whalelab.training.plan import (MIN_TRAIN_CLIPS, MIN_VAL_CLIPS, advised_settings,
                                    check_trainable, plan_run, prepare_splits, run_bands)
from whalelab.training.run import train
from whalelab.training.validation import member_splits, validation_folds

__all__ = [
    "MEMBER_SEED_STRIDE",
    "MIN_TRAIN_CLIPS",
    "MIN_VAL_CLIPS",
    "TrainResult",
    "advised_settings",
    "attention_comparison",
    "blend_runs",
    "check_trainable",
    "make_optimizer",
    "member_config",
    "member_splits",
    "plan_run",
    "prepare_splits",
    "run_bands",
    "train",
    "train_ensemble",
    "train_network",
    "train_step",
    "validation_folds",
]
