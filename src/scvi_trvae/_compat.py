"""Every private scvi-tools import of the package, in one place.

These names are not part of scvi-tools' public API; pin scvi-tools to the tested minor range
and check this file when that range moves.
"""

# scvi-tools 1.4's view_anndata_setup calls rich.pretty, which neither it nor `import rich` imports
# (seen with rich 15.0): without this, TRVAE.view_anndata_setup() raises AttributeError.
import rich.pretty  # noqa: F401
from scvi.data._utils import get_anndata_attribute
from scvi.module._constants import MODULE_KEYS
from scvi.train._config import merge_kwargs

__all__ = ["MODULE_KEYS", "get_anndata_attribute", "merge_kwargs"]
