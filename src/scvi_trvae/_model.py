"""TRVAE: predict how a cell type responds to a condition it was never measured in."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
import torch
from anndata import AnnData
from scvi import REGISTRY_KEYS, settings
from scvi.data import AnnDataManager
from scvi.data.fields import CategoricalObsField, LayerField
from scvi.model.base import (
    ArchesMixin,
    BaseModelClass,
    RNASeqMixin,
    UnsupervisedTrainingMixin,
    VAEMixin,
)

from . import _checks
from ._callbacks import RestoreBestWeights
from ._compat import MODULE_KEYS, merge_kwargs
from ._dataloaders import ConditionBalancedDataSplitter
from ._module import COUNT_LIKELIHOODS, Likelihood, TRVAEModule
from ._training_plan import TRVAETrainingPlan

logger = logging.getLogger(__name__)


class TRVAE(RNASeqMixin, VAEMixin, ArchesMixin, UnsupervisedTrainingMixin, BaseModelClass):
    """Transfer VAE (trVAE) for out-of-sample prediction of perturbation responses.

    Described in `Lotfollahi et al. (2020) <https://doi.org/10.1093/bioinformatics/btaa800>`_.
    A conditional VAE whose first decoder layer is made condition-invariant by an MMD penalty,
    so that cells of one condition can be decoded in another: the stimulated state of a cell type
    never measured stimulated is predicted from its control cells.

    Parameters
    ----------
    adata
        AnnData registered with :meth:`setup_anndata`.
    n_hidden
        Width of the hidden layers (and of the MMD layer).
    n_latent
        Dimension of the latent space.
    n_layers
        Hidden layers of the encoder and of the decoder.
    dropout_rate
        Dropout rate.
    likelihood
        ``"mse"`` for log-normalised data (the default), ``"nb"`` or ``"zinb"`` for raw counts.
    kl_weight
        Weight of the KL divergence (the paper's ``alpha``).
    mmd_weight
        Weight of the MMD penalty (the paper's ``beta``); ``0`` gives a plain conditional VAE.
        Kernel convention: a sum over 19 Gaussian scales and the biased estimator, as in the
        scArches TRVAE, so its ``beta`` and this weight mean the same.
    mmd_on
        ``"y"`` (trVAE: the first decoder layer) or ``"z"`` (the paper's ablation).

    Examples
    --------
    >>> scvi_trvae.TRVAE.setup_anndata(adata, condition_key="condition", cell_type_key="cell_type")
    >>> model = scvi_trvae.TRVAE(adata)
    >>> model.train()
    >>> pred = model.predict(adata[is_nk_control], target_condition="stimulated")

    """

    _module_cls = TRVAEModule
    _data_splitter_cls = ConditionBalancedDataSplitter
    _training_plan_cls = TRVAETrainingPlan

    def __init__(
        self,
        adata: AnnData | None = None,
        n_hidden: int = 128,
        n_latent: int = 20,
        n_layers: int = 2,
        dropout_rate: float = 0.1,
        likelihood: Likelihood = "mse",
        kl_weight: float = 1.0,
        mmd_weight: float = 1.0,
        mmd_on: Literal["y", "z"] = "y",
    ):
        super().__init__(adata)
        if kl_weight < 0 or mmd_weight < 0:
            raise ValueError(
                f"kl_weight ({kl_weight}) and mmd_weight ({mmd_weight}) must be >= 0; "
                "mmd_weight=0 gives a plain conditional VAE."
            )
        if likelihood not in ("mse", *COUNT_LIKELIHOODS):
            raise ValueError(f"likelihood must be 'mse', 'nb' or 'zinb', not {likelihood!r}.")
        if mmd_on not in ("y", "z"):
            raise ValueError(f"mmd_on must be 'y' or 'z', not {mmd_on!r}.")
        self._check_data_for_likelihood(likelihood)

        self.module = self._module_cls(
            n_input=self.summary_stats.n_vars,
            n_batch=self.summary_stats.n_batch,
            n_hidden=n_hidden,
            n_latent=n_latent,
            n_layers=n_layers,
            dropout_rate=dropout_rate,
            likelihood=likelihood,
            kl_weight=kl_weight,
            mmd_weight=mmd_weight,
            mmd_on=mmd_on,
        )
        self._model_summary_string = (
            f"TRVAE: n_hidden {n_hidden}, n_latent {n_latent}, n_layers {n_layers}, "
            f"likelihood {likelihood}, kl_weight {kl_weight}, mmd_weight {mmd_weight} "
            f"on {mmd_on}, {self.summary_stats.n_batch} conditions."
        )
        self.init_params_ = self._get_init_params(locals())

    def _check_data_for_likelihood(self, likelihood: str) -> None:
        matrix = self.adata_manager.get_from_registry(REGISTRY_KEYS.X_KEY)
        where = "The registered data (adata.X or the layer given to setup_anndata)"
        if likelihood in COUNT_LIKELIHOODS:
            _checks.check_counts(matrix, where)
        elif _checks.looks_like_counts(matrix):
            warnings.warn(
                f"{where} looks like raw counts, but likelihood='mse' expects log-normalised "
                "data. Run sc.pp.normalize_total and sc.pp.log1p first, or use "
                "likelihood='nb'.",
                UserWarning,
                stacklevel=settings.warnings_stacklevel,
            )

    @classmethod
    def setup_anndata(
        cls,
        adata: AnnData,
        condition_key: str,
        cell_type_key: str | None = None,
        layer: str | None = None,
        **kwargs,
    ):
        """Register an AnnData for TRVAE.

        The condition is registered as scvi's batch (so ``transform_batch`` and
        :meth:`load_query_data` work), the cell type as its labels.

        Parameters
        ----------
        adata
            AnnData with cells in rows and genes in columns. Not modified beyond the fields
            scvi-tools' registration adds (``obs["_scvi_batch"]``, ``obs["_scvi_labels"]``,
            ``uns["_scvi_uuid"]``, ``uns["_scvi_manager_uuid"]``).
        condition_key
            Column of ``adata.obs`` with the condition of each cell (e.g. control/stimulated).
        cell_type_key
            Column of ``adata.obs`` with the cell type; used by evaluation and plots.
        layer
            Layer with the data, ``None`` for ``adata.X``: log-normalised values for
            ``likelihood="mse"``, raw counts for ``"nb"`` / ``"zinb"``.
        **kwargs
            Passed to :meth:`~scvi.data.AnnDataManager.register_fields`.

        """
        setup_method_args = cls._get_setup_method_args(**locals())
        _checks.check_not_empty(adata)
        _checks.check_obs_key(adata, condition_key, "Condition")
        if cell_type_key is not None:
            _checks.check_obs_key(adata, cell_type_key, "Cell type")
        _checks.check_conditions(adata, condition_key)
        _checks.check_finite(_checks.data_matrix(adata, layer), f"adata layer {layer or 'X'}")

        anndata_fields = [
            LayerField(REGISTRY_KEYS.X_KEY, layer, is_count_data=False),
            CategoricalObsField(REGISTRY_KEYS.BATCH_KEY, condition_key),
            CategoricalObsField(REGISTRY_KEYS.LABELS_KEY, cell_type_key),
        ]
        adata_manager = AnnDataManager(fields=anndata_fields, setup_method_args=setup_method_args)
        adata_manager.register_fields(adata, **kwargs)
        cls.register_manager(adata_manager)

    def train(
        self,
        max_epochs: int | None = None,
        batch_size: int = 512,
        early_stopping: bool = True,
        early_stopping_patience: int = 30,
        plan_kwargs: dict | None = None,
        **kwargs,
    ):
        """Train the model.

        Every training minibatch holds every condition in about equal share; the validation
        split is shuffled and stratified by condition; with early stopping, the weights of the
        best validation epoch are restored at the end.

        Parameters
        ----------
        max_epochs
            Maximum number of epochs; ``None`` uses scvi's heuristic (400 up to 20,000 cells,
            fewer beyond).
        batch_size
            Minibatch size (per device). Large minibatches give the MMD more cells of each
            condition; 512 as in the paper.
        early_stopping
            Stop when the validation loss (reconstruction + KL + MMD) has not improved for
            ``early_stopping_patience`` epochs, and restore the best weights. Ignored when there
            is no validation set (``train_size=1.0``).
        early_stopping_patience
            Epochs without improvement before stopping.
        plan_kwargs
            Passed to :class:`~scvi.train.TrainingPlan` (``lr``, ``weight_decay``,
            ``n_epochs_kl_warmup``...). The KL warm-up is off by default: the KL weight is small
            and the paper trains without one.
        **kwargs
            Passed to :meth:`~scvi.model.base.UnsupervisedTrainingMixin.train` and on to
            :class:`~scvi.train.Trainer` (``train_size``, ``accelerator``, ``devices``,
            ``strategy``...).

        """
        plan_kwargs = merge_kwargs(None, plan_kwargs, name="plan")
        plan_kwargs.setdefault("n_epochs_kl_warmup", None)
        plan_kwargs.setdefault("n_steps_kl_warmup", None)

        has_validation = (kwargs.get("train_size") or 0.9) < 1.0 or kwargs.get("validation_size")
        if early_stopping and not has_validation:
            logger.info("No validation set (train_size=1.0): early stopping is off.")
            early_stopping = False
        if early_stopping:
            monitor = kwargs.setdefault("early_stopping_monitor", "validation_loss")
            kwargs["early_stopping_patience"] = early_stopping_patience
            kwargs["callbacks"] = [*kwargs.get("callbacks", []), RestoreBestWeights(monitor)]
        # The condition-balanced sampler splits minibatches across devices itself.
        kwargs.setdefault("use_distributed_sampler", False)
        return super().train(
            max_epochs=max_epochs,
            batch_size=batch_size,
            early_stopping=early_stopping,
            plan_kwargs=plan_kwargs,
            **kwargs,
        )

    # ----------------------------------------------------------------------------- prediction

    @property
    def condition_key(self) -> str:
        """The ``adata.obs`` column registered as the condition."""
        return self.adata_manager.get_state_registry(REGISTRY_KEYS.BATCH_KEY).original_key

    @property
    def conditions(self) -> list[str]:
        """The conditions the model knows, in the order of their codes."""
        mapping = self.adata_manager.get_state_registry(REGISTRY_KEYS.BATCH_KEY)
        return list(mapping.categorical_mapping)

    def _condition_code(self, condition: str, role: str) -> int:
        if condition not in self.conditions:
            raise ValueError(
                f"Unknown {role} condition {condition!r}; the model knows {self.conditions}. "
                "To add a new condition, map it with TRVAE.load_query_data."
            )
        return self.conditions.index(condition)

    def _prediction_input(self, adata: AnnData | None) -> AnnData:
        """The AnnData to predict from: genes in the model's order, known conditions."""
        if adata is None:
            return self.adata
        _checks.check_not_empty(adata)
        genes = self.adata.var_names
        if not adata.var_names.equals(genes):
            missing = genes.difference(adata.var_names)
            if len(missing):
                raise ValueError(
                    f"{len(missing)} of the model's {len(genes)} genes are missing from the "
                    f"AnnData (e.g. {list(missing[:5])}). Predict from data with the genes the "
                    "model was trained on."
                )
            logger.info("Reordering/subsetting the AnnData's genes to the model's.")
            adata = adata[:, genes].copy()
        _checks.check_obs_key(adata, self.condition_key, "Condition")
        unknown = set(adata.obs[self.condition_key].unique()) - set(self.conditions)
        if unknown:
            raise ValueError(
                f"Unknown source condition(s) {sorted(unknown)} in adata.obs"
                f"[{self.condition_key!r}]; the model knows {self.conditions}. To add a new "
                "condition, map it with TRVAE.load_query_data."
            )
        return adata

    @torch.inference_mode()
    def predict(
        self,
        adata: AnnData | None = None,
        target_condition: str | None = None,
        indices: Sequence[int] | None = None,
        use_posterior_mean: bool = True,
        add_residual: bool = False,
        batch_size: int | None = None,
    ) -> AnnData:
        """Predict the cells as they would be in ``target_condition``.

        Each cell is encoded with its own condition and decoded with the target condition.

        Parameters
        ----------
        adata
            Cells to transform (e.g. the control cells of a held-out cell type), with the
            model's genes (any order) and its condition column; ``None`` for the training data.
        target_condition
            Condition to predict, one the model knows.
        indices
            Cells of ``adata`` to use; ``None`` for all.
        use_posterior_mean
            Decode the posterior mean of ``z`` (default). ``False`` decodes one sample of
            ``q(z | x, s)`` per cell.
        add_residual
            Add to each prediction its cell's own reconstruction residual,
            ``decode(z, target) + (x - decode(z, source))``, clipped at zero: the abduction step
            of a counterfactual, which keeps what the model does not explain about the cell.
        batch_size
            Minibatch size; ``None`` uses scvi's default.

        Returns
        -------
        An AnnData with the model's genes; ``obs`` copied from the input with the condition set
        to ``target_condition``; ``X`` the prediction in the space of the registered data
        (log-normalised values for ``likelihood="mse"``).

        """
        if target_condition is None:
            raise ValueError(f"Pass target_condition, one of {self.conditions}.")
        self._check_if_trained(warn=False)
        target_code = self._condition_code(target_condition, "target")
        adata = self._validate_anndata(self._prediction_input(adata))
        if indices is not None and len(indices) == 0:
            raise ValueError("`indices` selects no cells.")
        dataloader = self._make_data_loader(adata, indices=indices, batch_size=batch_size)

        predictions = []
        for tensors in dataloader:
            inference = self.module.inference(**self.module._get_inference_input(tensors))
            qz = inference[MODULE_KEYS.QZ_KEY]
            generative_input = {
                MODULE_KEYS.Z_KEY: qz.loc if use_posterior_mean else inference[MODULE_KEYS.Z_KEY],
                MODULE_KEYS.BATCH_INDEX_KEY: tensors[REGISTRY_KEYS.BATCH_KEY],
                MODULE_KEYS.LIBRARY_KEY: inference[MODULE_KEYS.LIBRARY_KEY],
            }
            px = self.module.generative(**generative_input, transform_batch=target_code)["px"]
            prediction = px.loc
            if add_residual:
                own = self.module.generative(**generative_input)["px"].loc
                x = tensors[REGISTRY_KEYS.X_KEY].to(own.device)
                prediction = (prediction + x - own).clamp_min(0)
            predictions.append(prediction.cpu().numpy())

        obs = adata.obs.iloc[indices] if indices is not None else adata.obs
        obs = obs.drop(columns=[c for c in obs.columns if c.startswith("_scvi_")])
        obs[self.condition_key] = pd.Categorical(
            [target_condition] * len(obs), categories=self.conditions
        )
        return AnnData(
            X=np.concatenate(predictions).astype(np.float32),
            obs=obs,
            var=adata.var.copy(),
            uns={
                "trvae_predict": {
                    "target_condition": target_condition,
                    "use_posterior_mean": use_posterior_mean,
                    "add_residual": add_residual,
                }
            },
        )

    @torch.inference_mode()
    def get_mmd_layer_representation(
        self,
        adata: AnnData | None = None,
        indices: Sequence[int] | None = None,
        condition: str | None = None,
        batch_size: int | None = None,
    ) -> np.ndarray:
        """The first-decoder-layer activations ``y`` on which the MMD is computed.

        Parameters
        ----------
        adata
            AnnData with the model's setup; ``None`` for the training data.
        indices
            Cells to use; ``None`` for all.
        condition
            Decode every cell with this condition; ``None`` for each cell's own.
        batch_size
            Minibatch size; ``None`` uses scvi's default.

        Returns
        -------
        Array of shape ``(n_cells, n_hidden)``.

        """
        self._check_if_trained(warn=False)
        code = None if condition is None else self._condition_code(condition, "decoding")
        adata = self._validate_anndata(adata)
        dataloader = self._make_data_loader(adata, indices=indices, batch_size=batch_size)
        ys = []
        for tensors in dataloader:
            inference = self.module.inference(**self.module._get_inference_input(tensors))
            y = self.module.generative(
                z=inference[MODULE_KEYS.QZ_KEY].loc,
                batch_index=tensors[REGISTRY_KEYS.BATCH_KEY],
                library=inference[MODULE_KEYS.LIBRARY_KEY],
                transform_batch=code,
            )["y"]
            ys.append(y.cpu().numpy())
        return np.concatenate(ys)
