import itertools

import pytest
import torch

from scvi_trvae import _mmd
from scvi_trvae._mmd import KERNEL_SCALES, mmd_all_pairs


def reference_kernel(a, b):
    """The kernel from its definition, distances from differences (exact zeros)."""
    sq = (a[:, None, :] - b[None, :, :]).square().sum(-1)
    scales = torch.tensor(KERNEL_SCALES, dtype=a.dtype)
    return torch.exp(-sq[..., None] / (2 * scales)).sum(-1)


def mmd_pair(a, b):
    """Biased squared MMD of two samples, written out directly."""
    k = reference_kernel
    return k(a, a).mean() + k(b, b).mean() - 2 * k(a, b).mean()


def test_kernel_convention():
    # Two cells at squared distance 3, one per condition: MMD^2 = k(a, a) + k(b, b) - 2 k(a, b).
    rep = torch.tensor([[0.0], [3.0**0.5]], dtype=torch.float64)
    kernel_at_3 = sum(torch.exp(torch.tensor(-3.0 / (2 * s))) for s in KERNEL_SCALES)
    expected = 2 * len(KERNEL_SCALES) - 2 * kernel_at_3
    torch.testing.assert_close(mmd_all_pairs(rep, torch.tensor([0, 1]), 2), expected.double())


def test_zero_for_identical_samples():
    # float64: in float32 the 1e-6 scale turns the rounding of ||a||^2 + ||b||^2 - 2ab for two
    # copies of a cell into a visible kernel difference (distinct cells are never that close).
    x = torch.randn(30, 8, dtype=torch.float64)
    rep = torch.cat([x, x])
    condition = torch.cat([torch.zeros(30), torch.ones(30)]).long()
    assert mmd_all_pairs(rep, condition, 2).abs() < 1e-9


def test_diagonal_is_exact_for_large_values():
    # Rounding in ||a||^2 + ||b||^2 - 2ab leaves a cell a non-zero distance to itself; at the
    # 1e-6 scale that alone would move the kernel's diagonal well below 1 per scale.
    x, y = torch.randn(40, 16) * 30 + 100, torch.randn(40, 16) * 30 + 100
    condition = torch.cat([torch.zeros(40), torch.ones(40)]).long()
    expected = mmd_pair(x.double(), y.double()).float()
    torch.testing.assert_close(mmd_all_pairs(torch.cat([x, y]), condition, 2), expected)


def test_grows_with_shift():
    torch.manual_seed(0)
    a, b = torch.randn(64, 8), torch.randn(64, 8)
    condition = torch.cat([torch.zeros(64), torch.ones(64)]).long()
    values = [mmd_all_pairs(torch.cat([a, b + shift]), condition, 2) for shift in (0.0, 0.5, 2.0)]
    assert values[0] < values[1] < values[2]


def test_all_pairs_equals_pairwise_loop():
    torch.manual_seed(0)
    n_conditions = 4
    condition = torch.randint(0, n_conditions, (90,))
    rep = torch.randn(90, 5) + condition[:, None] * 0.7
    loop = sum(
        mmd_pair(rep[condition == i], rep[condition == j])
        for i, j in itertools.combinations(range(n_conditions), 2)
    )
    assert torch.allclose(mmd_all_pairs(rep, condition, n_conditions), loop, rtol=1e-4)


def test_absent_condition_is_skipped():
    torch.manual_seed(0)
    condition = torch.tensor([0] * 20 + [2] * 20)  # condition 1 is absent
    rep = torch.randn(40, 5) + condition[:, None]
    expected = mmd_pair(rep[:20], rep[20:])
    assert torch.allclose(mmd_all_pairs(rep, condition, 3), expected, rtol=1e-4)
    assert mmd_all_pairs(rep[:20], condition[:20], 3) == 0  # a single condition


def test_by_group_averages_the_groups_with_two_conditions():
    torch.manual_seed(0)
    condition = torch.randint(0, 3, (80,))
    group = torch.randint(0, 3, (80,))
    condition[group == 2] = 1  # group 2 has one condition: no term, and not in the average
    rep = torch.randn(80, 5) + condition[:, None] * 0.7 + group[:, None]
    per_group = [
        sum(
            mmd_pair(rep[(group == g) & (condition == i)], rep[(group == g) & (condition == j)])
            for i, j in itertools.combinations(range(3), 2)
        )
        for g in (0, 1)
    ]
    expected = (per_group[0] + per_group[1]) / 2
    assert torch.allclose(mmd_all_pairs(rep, condition, 3, group, 3), expected, rtol=1e-4)
    # One group is the global MMD.
    global_mmd = mmd_all_pairs(rep, condition, 3)
    assert torch.allclose(mmd_all_pairs(rep, condition, 3, torch.zeros_like(group), 3), global_mmd)


def test_gradient_flows():
    rep = torch.randn(40, 5, requires_grad=True)
    condition = torch.tensor([0, 1] * 20)
    mmd_all_pairs(rep, condition, 2).backward()
    assert torch.isfinite(rep.grad).all()
    assert rep.grad.abs().sum() > 0


def pair_terms_inputs(n_cells):
    """Squared distances in the pair layout, three conditions in two groups, weights' inputs."""
    torch.manual_seed(0)
    sq_dist = torch.rand(n_cells, n_cells // 2) * 300
    condition = torch.arange(n_cells) % 3
    group = torch.arange(n_cells) % 2
    inverse_count = 1.0 / torch.bincount(condition * 2 + group)[condition * 2 + group].float()
    return sq_dist, condition * 2 + group, group, inverse_count, torch.full((n_cells,), 3.0)


def test_compiled_and_uncompiled_pair_kernels_agree():
    inputs = pair_terms_inputs(512)
    compiled = _mmd._compiled_pair_kernel_terms()(*inputs)
    eager = _mmd._pair_kernel_terms(*inputs)
    for a, b in zip(compiled, eager, strict=True):
        torch.testing.assert_close(a, b)


def test_falls_back_to_uncompiled_with_a_warning(monkeypatch):
    def broken():
        def fail(*args):
            raise RuntimeError("no C++ compiler\nmore compiler output")

        return fail

    monkeypatch.setattr(_mmd, "_compiled_pair_kernel_terms", broken)
    monkeypatch.setattr(_mmd, "_compiling_failed", False)
    rep, condition = torch.randn(40, 5), torch.tensor([0, 1] * 20)
    with pytest.warns(RuntimeWarning, match="no C\\+\\+ compiler\\); the MMD runs uncompiled"):
        value = mmd_all_pairs(rep, condition, 2)
    assert _mmd._compiling_failed  # and later steps go straight to the uncompiled kernel
    expected = mmd_pair(rep[condition == 0].double(), rep[condition == 1].double())
    torch.testing.assert_close(value, expected.float())


def test_mmd_gradient_matches_the_pairwise_formula():
    torch.manual_seed(0)
    condition = torch.arange(10) % 3
    rep = torch.randn(10, 4, dtype=torch.float64, requires_grad=True)
    (grad_fast,) = torch.autograd.grad(mmd_all_pairs(rep, condition, 3), rep)
    loop = sum(
        mmd_pair(rep[condition == i], rep[condition == j])
        for i, j in itertools.combinations(range(3), 2)
    )
    (grad_plain,) = torch.autograd.grad(loop, rep)
    torch.testing.assert_close(grad_fast, grad_plain)


@pytest.mark.parametrize("n_cells", [7, 8])  # odd, and even (pairs at offset n/2 twice)
def test_mmd_gradient_matches_finite_differences(n_cells):
    torch.manual_seed(0)
    rep = torch.randn(n_cells, 3, dtype=torch.float64, requires_grad=True)
    condition = torch.arange(n_cells) % 3
    assert torch.autograd.gradcheck(lambda r: mmd_all_pairs(r, condition, 3), (rep,))
