"""Every private scvi-tools import of the package, in one place.

These names are not part of scvi-tools' public API; pin scvi-tools to the tested minor range
and check this file when that range moves.
"""

from scvi.model._utils import _get_batch_code_from_category, use_distributed_sampler
from scvi.module._constants import MODULE_KEYS
from scvi.train._config import merge_kwargs

__all__ = [
    "MODULE_KEYS",
    "_get_batch_code_from_category",
    "merge_kwargs",
    "use_distributed_sampler",
]
