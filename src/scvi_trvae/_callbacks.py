"""Lightning callbacks."""

from __future__ import annotations

import logging
import math

from lightning.pytorch.callbacks import Callback

from ._compat import check_early_stopping_after_validation

logger = logging.getLogger(__name__)


class RestoreBestWeights(Callback):
    """Keeps the weights of the epoch with the best monitored metric and loads them at the end.

    Lightning's early stopping stops, but keeps the last weights. The copy lives in memory (the
    module is small), unlike scvi's :class:`~scvi.train.SaveCheckpoint`, which writes a full
    model save to disk at every improvement. It also makes early stopping check the metric after
    each validation rather than at the end of each training epoch (see :meth:`setup`).

    Parameters
    ----------
    monitor
        Logged metric to minimise.

    """

    def __init__(self, monitor: str = "validation_loss"):
        super().__init__()
        self.monitor = monitor
        self.best_score = math.inf
        self.best_epoch = None
        self.best_state = None

    def setup(self, trainer, pl_module, stage):
        # Lightning checks early stopping at the end of each training epoch when validation runs
        # every epoch. A run that max_steps ends within its first epoch never validates, and that
        # check then raises after training ("metric validation_loss not available"), losing the
        # model. After each validation the metric is always there; the decision is the same.
        check_early_stopping_after_validation(trainer.callbacks)

    def on_validation_end(self, trainer, pl_module):
        score = trainer.callback_metrics.get(self.monitor)
        if score is None or trainer.sanity_checking:
            return
        score = float(score)
        if score < self.best_score:
            self.best_score, self.best_epoch = score, trainer.current_epoch
            self.best_state = {
                k: v.detach().clone() for k, v in pl_module.module.state_dict().items()
            }

    def on_train_end(self, trainer, pl_module):
        if self.best_state is not None:
            pl_module.module.load_state_dict(self.best_state)
            logger.info(
                "Restored the weights of epoch %d (%s=%.4g).",
                self.best_epoch,
                self.monitor,
                self.best_score,
            )
