import numpy as np
import pytest

from scvi_trvae._dataloaders import ConditionBalancedBatchSampler, stratified_split


@pytest.mark.parametrize("batch_size", [32, 33, 100])
def test_every_minibatch_holds_every_condition_equally(batch_size):
    conditions = np.array([0] * 300 + [1] * 40 + [2] * 7)  # very unequal
    sampler = ConditionBalancedBatchSampler(conditions, batch_size, seed=0)
    batches = list(sampler)
    assert len(batches) == len(sampler) == int(np.ceil(347 / batch_size))
    for batch in batches:
        assert len(batch) == batch_size
        counts = np.bincount(conditions[batch], minlength=3)
        assert counts.max() - counts.min() <= 1


def test_largest_condition_seen_once_per_pass():
    conditions = np.array([0] * 200 + [1] * 50)
    batches = list(ConditionBalancedBatchSampler(conditions, 50, seed=0))
    drawn = np.concatenate(batches)
    zeros = drawn[conditions[drawn] == 0]
    assert len(np.unique(zeros)) == len(zeros)  # no repeats within a pass


def test_epochs_differ_and_seed_reproduces():
    conditions = np.repeat([0, 1], 50)
    a = ConditionBalancedBatchSampler(conditions, 20, seed=1)
    b = ConditionBalancedBatchSampler(conditions, 20, seed=1)
    assert list(a) == list(b)
    first = list(a)
    a.set_epoch(1)
    assert list(a) != first


def test_replicas_get_disjoint_balanced_shares():
    conditions = np.repeat([0, 1, 2], 100)
    replicas = []
    for rank in (0, 1):
        sampler = ConditionBalancedBatchSampler(conditions, 30, seed=0)
        sampler.num_replicas, sampler.rank = 2, rank
        sampler.n_batches = 5
        replicas.append(list(sampler))
    assert len(replicas[0]) == len(replicas[1]) == 5
    cells = [set(np.concatenate(r)) for r in replicas]
    assert not cells[0] & cells[1]
    for batch in replicas[0] + replicas[1]:
        assert set(conditions[batch]) == {0, 1, 2}


def test_batch_size_capped_at_cells():
    sampler = ConditionBalancedBatchSampler(np.array([0, 1, 1]), 128, seed=0)
    assert [len(b) for b in sampler] == [3]


def test_stratified_split():
    conditions = np.array([0] * 900 + [1] * 100)
    train, val = stratified_split(conditions, 100, seed=0)
    assert len(val) == 100 and len(train) == 900
    assert not set(train) & set(val)
    assert np.bincount(conditions[val]).tolist() == [90, 10]
    assert not np.array_equal(np.sort(val), val)  # shuffled
