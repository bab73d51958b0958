"""scvi's training plan with extra metrics that can be logged under DDP."""

from __future__ import annotations

import torch
from scvi.train import TrainingPlan


class TRVAETrainingPlan(TrainingPlan):
    """:class:`~scvi.train.TrainingPlan` that logs its metrics outside inference mode.

    scvi-tools 1.4 logs metrics under :func:`torch.inference_mode`; under DDP, Lightning's
    epoch-end synchronisation then updates the logged MMD (an inference tensor) in place and
    fails with "Inplace update to inference tensor outside InferenceMode". ``no_grad`` gives the
    same savings without marking the tensors.
    """

    @torch.no_grad()
    def compute_and_log_metrics(self, loss_output, metrics, mode):
        """Log the ELBO terms and the MMD (as ``mmd_train`` / ``mmd_validation``)."""
        # The parent's method without its inference_mode decorator.
        TrainingPlan.compute_and_log_metrics.__wrapped__(self, loss_output, metrics, mode)
