"""Condition-balanced minibatches and a condition-stratified train/validation split."""

from __future__ import annotations

import logging
import math

import numpy as np
import torch.distributed as dist
from scvi import REGISTRY_KEYS, settings
from scvi.dataloaders import DataSplitter
from torch.utils.data import DataLoader, Sampler

logger = logging.getLogger(__name__)


class ConditionBalancedBatchSampler(Sampler):
    """Yields minibatches of indices in which every condition has about the same share.

    The MMD penalty compares conditions within a minibatch, so each minibatch must hold them
    all. Each condition's cells are drawn from its own shuffled stream (a new permutation when
    it runs out), so rare conditions are oversampled and every cell is seen about once per
    epoch in the largest condition. An epoch has ``ceil(n_cells / batch_size)`` minibatches,
    all of full size.

    Under distributed training every replica draws the same stream (same seed and epoch) and
    takes its own share of the minibatches, so each per-device minibatch holds all conditions.

    Parameters
    ----------
    conditions
        Condition code of each cell of the dataset this sampler indexes (positions ``0..n-1``).
    batch_size
        Cells per minibatch (per replica); capped at the number of cells.
    seed
        Seed of the stream; the epoch set by Lightning through :meth:`set_epoch` is mixed in.

    """

    def __init__(self, conditions: np.ndarray, batch_size: int, seed: int | None = None):
        conditions = np.asarray(conditions).ravel()
        self.groups = [np.flatnonzero(conditions == c) for c in np.unique(conditions)]
        self.batch_size = min(batch_size, len(conditions))
        self.seed = settings.seed if seed is None else seed
        self.epoch = 0
        if dist.is_available() and dist.is_initialized():
            self.num_replicas, self.rank = dist.get_world_size(), dist.get_rank()
        else:
            self.num_replicas, self.rank = 1, 0
        self.n_batches = max(1, math.ceil(len(conditions) / (self.batch_size * self.num_replicas)))

    def set_epoch(self, epoch: int) -> None:
        """Called by Lightning at the start of each epoch."""
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n_batches

    def __iter__(self):
        rng = np.random.default_rng([self.seed or 0, self.epoch])
        n_total = self.n_batches * self.num_replicas
        n_groups = len(self.groups)
        # Per minibatch, batch_size // n_groups cells of each condition, the remainder spread
        # over randomly chosen conditions.
        random_rank = rng.random((n_total, n_groups)).argsort(axis=1).argsort(axis=1)
        per_group = self.batch_size // n_groups + (random_rank < self.batch_size % n_groups)
        streams = [_stream(g, per_group[:, i].sum(), rng) for i, g in enumerate(self.groups)]
        starts = np.cumsum(per_group, axis=0) - per_group
        # Every replica draws the same minibatches and keeps every num_replicas-th one.
        for b in range(self.rank, n_total, self.num_replicas):
            parts = zip(streams, starts[b], per_group[b], strict=True)
            yield np.concatenate([s[o : o + n] for s, o, n in parts]).tolist()


def _stream(group: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` indices from ``group``: concatenated permutations, each cell once per pass."""
    n_passes = math.ceil(n / len(group))
    return np.concatenate([rng.permutation(group) for _ in range(n_passes)])[:n]


def stratified_split(
    conditions: np.ndarray, n_val: int, seed: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """Shuffled train/validation indices with each condition in proportion.

    Parameters
    ----------
    conditions
        Condition code of each cell.
    n_val
        Total number of validation cells wanted.
    seed
        Seed of the shuffle.

    Returns
    -------
    ``(train_indices, validation_indices)``.

    """
    rng = np.random.default_rng(seed)
    conditions = np.asarray(conditions).ravel()
    fraction = n_val / len(conditions)
    train, val = [], []
    for c in np.unique(conditions):
        idx = rng.permutation(np.flatnonzero(conditions == c))
        n_c = round(fraction * len(idx))
        val.append(idx[:n_c])
        train.append(idx[n_c:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(val))


class ConditionBalancedDataSplitter(DataSplitter):
    """scvi's DataSplitter with a stratified split and condition-balanced minibatches.

    Subclasses :class:`~scvi.dataloaders.DataSplitter`. The validation split is shuffled and
    stratified by condition; validation and test loaders are scvi's own. Accepts the arguments
    of :class:`~scvi.dataloaders.DataSplitter`.
    """

    def setup(self, stage: str | None = None):
        """Split the indices into train, validation and test sets, stratified by condition."""
        if self.external_indexing is not None:
            return super().setup(stage)
        conditions = self._conditions()
        train, val = stratified_split(conditions, self.n_val, settings.seed)
        # validate_data_split's sizes, so a requested test set stays out of both.
        self.val_idx = val
        self.train_idx = train[: self.n_train]
        self.test_idx = train[self.n_train :]

    def _conditions(self) -> np.ndarray:
        return self.adata_manager.get_from_registry(REGISTRY_KEYS.BATCH_KEY).ravel()

    def train_dataloader(self):
        """Training loader whose every minibatch holds every condition."""
        dataset = self.adata_manager.create_torch_dataset(
            indices=self.train_idx, load_sparse_tensor=self.load_sparse_tensor
        )
        batch_size = self.data_loader_kwargs.get("batch_size") or settings.batch_size
        sampler = ConditionBalancedBatchSampler(self._conditions()[self.train_idx], batch_size)
        # batch_size=None: the sampler yields whole minibatches, read with one __getitem__ call
        # (fast on sparse matrices), as scvi's AnnDataLoader does.
        return DataLoader(
            dataset,
            sampler=sampler,
            batch_size=None,
            num_workers=settings.dl_num_workers,
            persistent_workers=settings.dl_persistent_workers and settings.dl_num_workers > 0,
            pin_memory=self.pin_memory,
        )
