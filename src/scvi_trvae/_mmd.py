"""Maximum mean discrepancy between the conditions of a minibatch.

Convention (state it wherever an MMD weight is quoted):

* Kernel: multi-scale Gaussian, ``k(a, b) = sum_s exp(-||a - b||^2 / (2 s))`` summed (not
  averaged) over the 19 scales ``s`` in :data:`KERNEL_SCALES`, as in the scArches TRVAE, so an
  MMD weight here means the same as its ``beta``. The Keras original averages (divides by 19).
* Estimator: biased (V-statistic; the kernel diagonal is included), as in the original and
  scArches.
* Conditions: every unordered pair of conditions present in the minibatch, all computed from
  one kernel over the minibatch's pairs of cells (each pair once, see :func:`mmd_all_pairs`).
"""

from __future__ import annotations

import functools
import warnings

import torch
from scvi import settings

KERNEL_SCALES = (
    1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 5.0, 10.0, 15.0,
    20.0, 25.0, 30.0, 35.0, 100.0, 1e3, 1e4, 1e5, 1e6,
)  # fmt: skip


# Each unordered pair of distinct cells of a minibatch of n, once: cell i with its partners
# i + 1, ..., i + n // 2 (mod n), an (n, n // 2) layout. Every pair is in it once, except that
# for even n the pairs at offset n / 2 are in it twice (i with i + n/2, and i + n/2 with i).
# Half the kernel of the full (n, n) matrix, from strided views: no gather, no Python loop.
# A matrix over the pairs is read through an (n, n + n // 2) matrix whose last n // 2 columns
# repeat its first, so that the partners of every cell are one stride apart. Building the
# distances inside the compiled kernel, by gathers or from these views, was slower.


def _partner_columns(values: torch.Tensor) -> torch.Tensor:
    """``out[i, k] = values[(i + 1 + k) % n]`` for ``k < n // 2``."""
    n = values.shape[0]
    return torch.cat([values, values]).as_strided((n, n // 2), (1, 1), 1)


def _wrapped(rep: torch.Tensor) -> torch.Tensor:
    """An uninitialised (n, n + n // 2) matrix for the n cells of ``rep``.

    Its last n // 2 columns are to repeat its first.
    """
    n = rep.shape[0]
    return rep.new_empty(n, n + n // 2)


def _pair_entries(wrapped: torch.Tensor) -> torch.Tensor:
    """``out[i, k] = wrapped[i, i + 1 + k]`` for ``k < n // 2``: a view, no copy."""
    n, width = wrapped.shape
    return wrapped.as_strided((n, n // 2), (width + 1, 1), 1)


_MIN_EXPONENT = -80.0


def _pair_kernel_terms(
    sq_dist: torch.Tensor,
    condition: torch.Tensor,
    group: torch.Tensor,
    inverse_count: torch.Tensor,
    n_present: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``w * K`` over the pair layout, and ``w * dK/dD`` for the backward pass.

    ``K = sum_s exp(-c_s D)`` with ``c_s = 1 / (2 s)``, elementwise over the squared distances
    ``D`` of the pairs; ``w`` are the MMD weights of :func:`mmd_all_pairs`, from each cell's
    ``condition`` (its code within its group), ``group``, ``inverse_count`` (one over the cells
    of its group and condition) and ``n_present`` (conditions present in its group).

    Exponents below -80 are raised to -80 (``exp(-80)`` is 1.8e-35): the small scales would
    otherwise produce float32 denormals, which x86 CPUs process several times slower, for a
    change far below float32 resolution next to the kernel's diagonal of 1s. In place, so that
    it is also fast uncompiled.
    """
    same = condition[:, None] == _partner_columns(condition)
    same_group = (group[:, None] == _partner_columns(group)).to(sq_dist.dtype)
    weight = (n_present[:, None] * same - same_group) * (
        inverse_count[:, None] * _partner_columns(inverse_count)
    )
    # For even n the last column's pairs are in the layout twice. Arithmetic on n, not a branch,
    # so that compiled code does not specialise on its parity.
    weight[:, -1] *= 1.0 - 0.5 * ((sq_dist.shape[0] + 1) % 2)
    kernel = torch.zeros_like(sq_dist)
    slope = torch.zeros_like(sq_dist)
    for s in KERNEL_SCALES:
        c = 1.0 / (2.0 * s)
        term = (sq_dist * -c).clamp_min_(_MIN_EXPONENT).exp_()
        kernel += term
        slope.add_(term, alpha=-c)
    return kernel.mul_(weight), slope.mul_(weight)


@functools.cache
def _compiled_pair_kernel_terms():
    # Compiled, the weights and the 19 scales take one pass over the pairs instead of about
    # 100: the MMD takes a quarter less time. Compiling costs an import and, once per
    # process, about 5 s (12 s with no compile cache on disk yet), so it happens on first use.
    # One version serves every minibatch of 4 cells or more. With dynamic=True the 19 scales
    # would also become inputs, turned into 19 tensors at every call (a call on 8 cells took
    # 0.13 ms, against 0.03 ms with them constant): keep them constants.
    compiled = torch.compile(_pair_kernel_terms, dynamic=True)
    return torch._dynamo.config.patch(specialize_float=True)(compiled)


_compiling_failed = False


def _fused_pair_kernel_terms(*args: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`_pair_kernel_terms`, compiled; uncompiled where compiling fails."""
    global _compiling_failed
    if not _compiling_failed:
        try:
            return _compiled_pair_kernel_terms()(*args)
        except Exception as error:  # no C++ compiler or Triton here shows as any error type
            _compiling_failed = True
            reason = (str(error).strip().splitlines() or [""])[0]
            warnings.warn(
                f"torch.compile failed ({type(error).__name__}: {reason}); the MMD runs "
                "uncompiled, which is correct but slower. Set TORCH_COMPILE_DISABLE=1 to skip "
                "compiling.",
                RuntimeWarning,
                stacklevel=settings.warnings_stacklevel,
            )
    return _pair_kernel_terms(*args)


class _PairKernelSum(torch.autograd.Function):
    """``sum(w * K(D))`` over the pair layout, ``D`` the squared distances from one Gram matrix.

    Autograd would keep the 19 exponentials (19 tensors the size of ``D``) and make more passes
    over them backwards; this saves only ``w * dK/dD``, computed in the same pass. The Gram
    matrix is symmetric, so its gradient needs one matrix product, not autograd's two.
    """

    @staticmethod
    def forward(ctx, rep, condition, group, inverse_count, n_present) -> torch.Tensor:
        # Autograd records nothing inside forward, so the compiled kernel sees inputs that do
        # not require gradients, in training as in validation: one compiled version for both.
        n = rep.shape[0]
        gram = _wrapped(rep)
        torch.mm(rep, rep.T, out=gram[:, :n])
        gram[:, n:] = gram[:, : n // 2]
        sq_norm = gram.diagonal()  # within the first n columns
        sq_dist = sq_norm[:, None] + _partner_columns(sq_norm)
        sq_dist.sub_(_pair_entries(gram), alpha=2.0)
        # Rounding can leave near-identical cells a tiny negative distance. Their gradient
        # 2 (r_i - r_j) is near zero anyway, so the backward does not mask these entries.
        weighted_kernel, weighted_slope = _fused_pair_kernel_terms(
            sq_dist.clamp_min_(0.0), condition, group, inverse_count, n_present
        )
        ctx.save_for_backward(rep, weighted_slope)
        # Summed outside: compiled, a sum needs a second version across 4,096 pairs.
        return weighted_kernel.sum()

    @staticmethod
    def backward(ctx, grad_total: torch.Tensor):
        rep, weighted_slope = ctx.saved_tensors
        n = rep.shape[0]
        # Back to (n, n): g[i, j] is the gradient of the distance of i to its partner j.
        wrapped = _wrapped(rep).zero_()
        _pair_entries(wrapped).copy_(weighted_slope)
        g = wrapped[:, :n]
        g[:, : n // 2] += wrapped[:, n:]
        g = g + g.T
        # d||r_i - r_j||^2 / dr_i = 2 (r_i - r_j), summed over both ends of every pair.
        return (2.0 * grad_total) * (g.sum(1, keepdim=True) * rep - g @ rep), *[None] * 4


def mmd_all_pairs(
    representation: torch.Tensor,
    condition: torch.Tensor,
    n_conditions: int,
    group: torch.Tensor | None = None,
    n_groups: int = 1,
):
    """Sum over all pairs of conditions present of the squared MMD between their representations.

    For ``P`` conditions present, with ``n_c`` cells of condition ``c``, the sum of
    ``MMD^2(a, b) = mean K_aa + mean K_bb - 2 mean K_ab`` over pairs ``a < b`` is
    ``sum over cells i, j of w_ij K_ij`` with ``w_ij = (P [c_i = c_j] - 1) / (n_ci n_cj)``.
    ``K`` is symmetric and its diagonal is exactly 19 (a cell is at distance 0 from itself),
    so only the ``n (n - 1) / 2`` pairs of distinct cells are computed, each once.

    With ``group`` (a cell type), that sum is taken within each group and averaged over the
    groups that have two conditions or more in the minibatch: conditions are compared cell type
    by cell type, so that cell types present in only one condition are not pulled towards the
    others. Then ``w_ij = [g_i = g_j] (P_g [c_i = c_j] - 1) / (n_gci n_gcj)``.

    Parameters
    ----------
    representation
        Shape ``(n_cells, d)``: the first-decoder-layer activations ``y`` (or ``z``).
    condition
        Integer condition codes, shape ``(n_cells,)`` or ``(n_cells, 1)``.
    n_conditions
        Number of conditions the model knows.
    group
        Integer group codes, shaped like ``condition``; ``None``: one group.
    n_groups
        Number of groups the model knows.

    Returns
    -------
    A 0-d tensor; zero when no group has two conditions present.

    """
    n = representation.shape[0]
    condition = condition.reshape(-1).long()
    group = torch.zeros_like(condition) if group is None else group.reshape(-1).long()
    stratum = group * n_conditions + condition
    counts = torch.bincount(stratum, minlength=n_groups * n_conditions)
    counts = counts.to(representation.dtype).reshape(n_groups, n_conditions)
    # Absent conditions count zero cells and appear in no pair; no data-dependent branch, so
    # no device synchronisation in the step.
    present_per_group = (counts > 0).sum(1)
    # The mean over the groups with two conditions or more (1 / 0 groups: the MMD is 0 anyway).
    scale = 1.0 / (present_per_group > 1).sum().clamp_min(1).to(representation.dtype)
    inverse_count = (1.0 / counts.clamp_min(1.0)).reshape(-1)[stratum]
    n_present = present_per_group[group].to(representation.dtype)  # of each cell's group
    diagonal = len(KERNEL_SCALES) * ((n_present - 1) * inverse_count.square()).sum()
    if n < 2:
        return scale * diagonal
    pair_sum = _PairKernelSum.apply(representation, stratum, group, inverse_count, n_present)
    return scale * (diagonal + 2.0 * pair_sum)
