"""The trVAE network: a conditional VAE with an MMD penalty on the first decoder layer."""

from __future__ import annotations

import math
from functools import partial
from typing import Literal

import torch
from scvi import REGISTRY_KEYS
from scvi.distributions import NegativeBinomial, Normal, ZeroInflatedNegativeBinomial
from scvi.module.base import BaseModuleClass, LossOutput, auto_move_data
from scvi.nn import Encoder, FCLayers
from torch import nn
from torch.distributions import kl_divergence

from ._compat import MODULE_KEYS
from ._mmd import mmd_all_pairs

Likelihood = Literal["mse", "nb", "zinb"]
MmdOn = Literal["y", "z"]
DecoderCondition = Literal["all_layers", "mmd_layer"]
COUNT_LIKELIHOODS = ("nb", "zinb")

# The paper's activation: LeakyReLU with slope 0.2 (FCLayers calls activation_fn()).
_leaky_relu = partial(nn.LeakyReLU, 0.2)
# The MSE likelihood's scale: a squared error summed over genes is -log N(x; mean, 1/2) + const.
MSE_SCALE = 0.5**0.5


class LogNormalisedNormal(Normal):
    """The MSE likelihood: a Gaussian of fixed variance around decoded log-normalised values.

    For scvi-tools' getters (``get_normalized_expression``, ``differential_expression``), its
    ``"mu"`` is each cell's decoded expression on the data's normalised scale (``expm1`` of the
    decoded mean, as a count model's is at the cell's observed library size), and its ``"scale"``
    that expression as frequencies (divided by its sum over genes), the normalised expression
    whose fold changes scanpy's ``rank_genes_groups`` also reports. Computed only when asked for,
    not on training steps.
    """

    def get_normalized(self, key: str) -> torch.Tensor:
        if key not in ("mu", "scale"):
            return super().get_normalized(key)
        expression = torch.expm1(self.loc)
        if key == "mu":
            return expression
        return expression / expression.sum(-1, keepdim=True).clamp_min(1e-12)


class TRVAEModule(BaseModuleClass):
    """Conditional VAE with an MMD penalty on its first decoder layer (Lotfollahi et al. 2019).

    The first decoder layer ``y = g1(z, s)`` is pulled together across conditions.
    The loss of a minibatch is

    ``mean over cells of [reconstruction + kl_weight * KL(q(z | x, s) || N(0, I))]
    + mmd_weight * sum over condition pairs of MMD^2(y_i, y_j)``

    with the multi-scale Gaussian kernel summed over 19 scales and the biased estimator (see
    :mod:`scvi_trvae._mmd`), over every pair of conditions present in the minibatch (with
    ``n_labels > 1``, within each cell type, averaged over the cell types).

    The condition enters the first layer of the encoder and every layer of the decoder, or
    only its first layer, ``y``, as in the paper (``decoder_condition``); scvi's
    :class:`~scvi.nn.FCLayers` with one categorical covariate, so that
    :meth:`~scvi.model.base.ArchesMixin.load_query_data` can add conditions. ``y`` is taken
    after batch norm and activation and before dropout, as in the original implementation.

    Decoding in another condition (``transform_batch``) replaces the cell's own condition
    after the representation that the MMD makes the same across conditions: after ``y`` when
    the MMD is on ``y`` and the condition enters the layers after it (``y`` is then computed
    with the cell's own condition, as it was encoded); otherwise (the MMD on ``z``, no MMD, or
    the paper's decoder) from ``y`` on.

    Parameters
    ----------
    n_input
        Number of genes.
    n_batch
        Number of conditions.
    n_hidden
        Width of the hidden layers, the MMD layer included.
    n_latent
        Dimension of ``z``.
    n_layers
        Hidden layers in the encoder, and in the decoder (the MMD layer is its first).
    dropout_rate
        Dropout after each hidden layer (after ``y`` in the decoder).
    likelihood
        ``"mse"``: squared error summed over genes (a Gaussian of fixed variance 1/2), for
        log-normalised data. ``"nb"`` / ``"zinb"``: (zero-inflated) negative binomial on raw
        counts, gene-wise dispersion, observed library size; the encoder then sees
        ``log1p(counts)``.
    kl_weight
        Weight of the KL term (``alpha`` in the paper). The training plan's warm-up factor
        multiplies it.
    mmd_weight
        Weight of the MMD term (``beta`` in the paper; same scale as scArches' ``beta``).
    mmd_on
        ``"y"``: MMD on the first decoder layer (trVAE). ``"z"``: on the latent sample (the
        paper's ablation).
    n_labels
        Number of cell types to compare the conditions within (the MMD averaged over the cell
        types with two conditions or more in the minibatch); 1: all cells at once.
    decoder_condition
        ``"all_layers"``: the condition enters every decoder layer. ``"mmd_layer"``: only the
        first, ``y`` (the paper's decoder).

    """

    def __init__(
        self,
        n_input: int,
        n_batch: int,
        n_hidden: int = 128,
        n_latent: int = 20,
        n_layers: int = 2,
        dropout_rate: float = 0.05,
        likelihood: Likelihood = "mse",
        kl_weight: float = 1.0,
        mmd_weight: float = 1.0,
        mmd_on: MmdOn = "y",
        n_labels: int = 1,
        decoder_condition: DecoderCondition = "all_layers",
    ):
        super().__init__()
        self.n_labels = n_labels
        self.n_batch = n_batch
        # scvi's name for it, which RNASeqMixin reads (get_likelihood_parameters).
        self.gene_likelihood = likelihood
        self.kl_weight = kl_weight
        self.mmd_weight = mmd_weight
        self.mmd_on = mmd_on
        self.decoder_condition = decoder_condition
        layer_kwargs = {"activation_fn": _leaky_relu, "inject_covariates": False}

        self.encoder = Encoder(
            n_input,
            n_latent,
            n_cat_list=[n_batch],
            n_layers=n_layers,
            n_hidden=n_hidden,
            dropout_rate=dropout_rate,
            return_dist=True,
            **layer_kwargs,
        )
        self.mmd_decoder = FCLayers(
            n_latent, n_hidden, n_cat_list=[n_batch], n_layers=1, dropout_rate=0, **layer_kwargs
        )
        # A Sequential (dropout, layers after y), whose parameter names saved models keep.
        decoder_layers = [nn.Dropout(dropout_rate)]
        if n_layers > 1:
            decoder_layers.append(
                FCLayers(
                    n_hidden,
                    n_hidden,
                    n_cat_list=[n_batch] if decoder_condition == "all_layers" else None,
                    n_layers=n_layers - 1,
                    n_hidden=n_hidden,
                    dropout_rate=dropout_rate,
                    activation_fn=_leaky_relu,
                    inject_covariates=True,
                )
            )
        self.decoder = nn.Sequential(*decoder_layers)
        self.px_mean = nn.Linear(n_hidden, n_input)
        if likelihood in COUNT_LIKELIHOODS:
            self.px_r = nn.Parameter(torch.randn(n_input))
        if likelihood == "zinb":
            self.px_dropout = nn.Linear(n_hidden, n_input)

    @property
    def _y_keeps_own_condition(self) -> bool:
        # y is the cell's own representation when the MMD makes it the same across conditions
        # and a layer after it takes the condition: the target condition then enters after y.
        # Without the MMD, y carries the condition, and the layers after it were never trained
        # on a y of one condition with another.
        return (
            self.mmd_weight > 0
            and self.mmd_on == "y"
            and self.decoder_condition == "all_layers"
            and len(self.decoder) > 1
        )

    def _get_inference_input(self, tensors: dict[str, torch.Tensor], **kwargs) -> dict:
        return {
            MODULE_KEYS.X_KEY: tensors[REGISTRY_KEYS.X_KEY],
            MODULE_KEYS.BATCH_INDEX_KEY: tensors[REGISTRY_KEYS.BATCH_KEY],
        }

    def _get_generative_input(
        self, tensors: dict[str, torch.Tensor], inference_outputs: dict, **kwargs
    ) -> dict:
        return {
            MODULE_KEYS.Z_KEY: inference_outputs[MODULE_KEYS.Z_KEY],
            MODULE_KEYS.LIBRARY_KEY: inference_outputs[MODULE_KEYS.LIBRARY_KEY],
            MODULE_KEYS.BATCH_INDEX_KEY: tensors[REGISTRY_KEYS.BATCH_KEY],
        }

    @auto_move_data
    def inference(self, x: torch.Tensor, batch_index: torch.Tensor, n_samples: int = 1) -> dict:
        """Encode ``x`` with its condition: the posterior ``qz`` and a sample ``z`` of it."""
        is_counts = self.gene_likelihood in COUNT_LIKELIHOODS
        library = torch.log(x.sum(1, keepdim=True)) if is_counts else None
        qz, z = self.encoder(torch.log1p(x) if is_counts else x, batch_index)
        if n_samples > 1:
            z = qz.sample((n_samples,))
            if library is not None:
                library = library.expand(n_samples, *library.shape)
        return {
            MODULE_KEYS.Z_KEY: z,
            MODULE_KEYS.QZ_KEY: qz,
            MODULE_KEYS.LIBRARY_KEY: library,
            # The library size is observed, not inferred: scvi's getters then say so.
            MODULE_KEYS.QL_KEY: None,
        }

    @auto_move_data
    def generative(
        self,
        z: torch.Tensor,
        batch_index: torch.Tensor,
        library: torch.Tensor | None = None,
        transform_batch: int | None = None,
    ) -> dict:
        """Decode ``z`` with a condition: the MMD-layer activations ``y`` and ``px``.

        ``transform_batch``, a condition code, replaces every cell's own condition (after ``y``
        or from ``y`` on, see the class): this is how a prediction decodes control cells as
        stimulated.
        """
        target = batch_index
        if transform_batch is not None:
            target = torch.full_like(batch_index, int(transform_batch))
        y = self.mmd_decoder(z, batch_index if self._y_keeps_own_condition else target)
        hidden = self.decoder[0](y)  # dropout
        if len(self.decoder) > 1:  # FCLayers ignores the condition where it has no input for it
            hidden = self.decoder[1](hidden, target)
        return {"px": self._px(hidden, library), "y": y}

    def _px(self, hidden: torch.Tensor, library: torch.Tensor | None):
        if self.gene_likelihood == "mse":
            # ReLU output as in the paper: log-normalised expression is non-negative.
            mean = torch.relu(self.px_mean(hidden))
            # The fixed scale broadcasts (no (cells, genes) tensor), and nothing is validated:
            # checking every entry for NaNs on each step costs more than the activation.
            return LogNormalisedNormal(mean, MSE_SCALE, validate_args=False)
        scale = torch.softmax(self.px_mean(hidden), dim=-1)
        rate = torch.exp(library) * scale
        theta = torch.exp(self.px_r)
        if self.gene_likelihood == "nb":
            return NegativeBinomial(mu=rate, theta=theta, scale=scale)
        return ZeroInflatedNegativeBinomial(
            mu=rate, theta=theta, zi_logits=self.px_dropout(hidden), scale=scale
        )

    def loss(
        self,
        tensors: dict[str, torch.Tensor],
        inference_outputs: dict,
        generative_outputs: dict,
        kl_weight: float = 1.0,
    ) -> LossOutput:
        """Reconstruction + KL + MMD.

        Parameters
        ----------
        tensors
            The minibatch.
        inference_outputs
            Output of :meth:`inference`.
        generative_outputs
            Output of :meth:`generative`.
        kl_weight
            Warm-up factor in ``[0, 1]`` set by scvi's training plan; it multiplies the
            module's own ``kl_weight``.

        """
        reconstruction = self._reconstruction(
            tensors[REGISTRY_KEYS.X_KEY], generative_outputs["px"]
        )
        qz = inference_outputs[MODULE_KEYS.QZ_KEY]
        kl = kl_divergence(qz, torch.distributions.Normal(0.0, 1.0)).sum(-1)
        loss = (reconstruction + kl_weight * self.kl_weight * kl).mean()
        extra_metrics = {}
        if self.mmd_weight > 0:  # a plain CVAE (weight 0) neither pays for nor logs the MMD
            if self.mmd_on == "y":
                representation = generative_outputs["y"]
            else:
                representation = inference_outputs[MODULE_KEYS.Z_KEY]
            group = tensors[REGISTRY_KEYS.LABELS_KEY] if self.n_labels > 1 else None
            mmd = mmd_all_pairs(
                representation,
                tensors[REGISTRY_KEYS.BATCH_KEY],
                self.n_batch,
                group,
                self.n_labels,
            )
            loss = loss + self.mmd_weight * mmd
            extra_metrics["mmd"] = mmd
        return LossOutput(
            loss=loss,
            reconstruction_loss=reconstruction,
            kl_local=kl,
            extra_metrics=extra_metrics,
        )

    def _reconstruction(self, x: torch.Tensor, px) -> torch.Tensor:
        """Reconstruction loss of each cell (each draw of ``z``): ``-log p(x | z, s)``.

        For ``"mse"`` the squared error summed over genes, which is ``-log N(x; mean, 1/2)``
        less a constant.
        """
        if self.gene_likelihood == "mse":
            # One fused kernel on the training step; x broadcast (a view) over draws of z.
            return nn.functional.mse_loss(px.loc, x.expand_as(px.loc), reduction="none").sum(-1)
        return -px.log_prob(x).sum(-1)

    @torch.inference_mode()
    def sample(
        self,
        tensors: dict[str, torch.Tensor],
        n_samples: int = 1,
        generative_kwargs: dict | None = None,
    ) -> torch.Tensor:
        """Draws of the posterior predictive distribution: ``z`` from ``q(z | x, s)``, then ``x``.

        For ``"mse"`` the draws are the loss's Gaussian of variance 1/2, which is no fitted noise
        model: ``TRVAE.posterior_predictive_sample`` refuses that likelihood.

        Parameters
        ----------
        tensors
            The minibatch.
        n_samples
            Draws per cell.
        generative_kwargs
            Passed to :meth:`generative` (``transform_batch``).

        Returns
        -------
        Tensor on the CPU of shape ``(cells, genes)``, or ``(cells, genes, n_samples)``.

        """
        _, generative_outputs = self.forward(
            tensors,
            inference_kwargs={"n_samples": n_samples},
            generative_kwargs=generative_kwargs,
            compute_loss=False,
        )
        samples = generative_outputs["px"].sample()
        return (samples.permute(1, 2, 0) if n_samples > 1 else samples).cpu()

    @torch.inference_mode()
    def marginal_ll(
        self,
        tensors: dict[str, torch.Tensor],
        n_mc_samples: int,
        return_mean: bool = False,
        n_mc_samples_per_pass: int = 1,
    ) -> torch.Tensor | float:
        """``log p(x | s)`` of each cell, importance-sampled with ``q(z | x, s)`` as the proposal.

        The reconstruction term is the loss's (:meth:`loss`), as in scvi's ``VAE.marginal_ll``:
        for ``"mse"`` the value is ``log p(x | s)`` up to a constant.

        Parameters
        ----------
        tensors
            The minibatch.
        n_mc_samples
            Draws of ``z`` per cell.
        return_mean
            Return the mean over the cells instead of each cell's value.
        n_mc_samples_per_pass
            Draws per forward pass (memory: cells x genes x this).

        """
        x = tensors[REGISTRY_KEYS.X_KEY].to(self.device)
        log_weights = []
        for start in range(0, n_mc_samples, n_mc_samples_per_pass):
            n_samples = min(n_mc_samples_per_pass, n_mc_samples - start)
            inference, generative = self.forward(
                tensors, inference_kwargs={"n_samples": n_samples}, compute_loss=False
            )
            z, qz, px = (
                inference[MODULE_KEYS.Z_KEY],
                inference[MODULE_KEYS.QZ_KEY],
                generative["px"],
            )
            log_prior = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(-1)
            log_weight = log_prior - self._reconstruction(x, px) - qz.log_prob(z).sum(-1)
            log_weights.append(log_weight.reshape(n_samples, len(x)))
        log_lkl = torch.logsumexp(torch.cat(log_weights), dim=0) - math.log(n_mc_samples)
        return log_lkl.mean().item() if return_mean else log_lkl.cpu()
