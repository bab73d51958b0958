"""Lightning callbacks."""

from __future__ import annotations

import logging
import math

from lightning.pytorch.callbacks import Callback

logger = logging.getLogger(__name__)


class RestoreBestWeights(Callback):
    """Keeps the weights of the epoch with the best monitored metric and loads them at the end.

    Lightning's early stopping stops, but keeps the last weights. The copy lives in memory (the
    module is small), unlike scvi's :class:`~scvi.train.SaveCheckpoint`, which writes a full
    model save to disk at every improvement.

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
