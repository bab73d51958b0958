"""Every private scvi-tools import, and private Lightning attribute, of the package, in one place.

These names are not part of scvi-tools' (Lightning's) public API; pin scvi-tools to the tested
minor range and check this file when that range moves.
"""

# scvi-tools 1.4's view_anndata_setup calls rich.pretty, which neither it nor `import rich` imports
# (seen with rich 15.0): without this, TRVAE.view_anndata_setup() raises AttributeError.
import rich.pretty  # noqa: F401
from lightning.pytorch.callbacks import EarlyStopping
from scvi.data._utils import get_anndata_attribute
from scvi.module._constants import MODULE_KEYS
from scvi.train._config import merge_kwargs

__all__ = [
    "MODULE_KEYS",
    "check_early_stopping_after_validation",
    "get_anndata_attribute",
    "merge_kwargs",
]


def check_early_stopping_after_validation(callbacks) -> None:
    """Make Lightning's early-stopping callbacks check their metric after each validation.

    Lightning (2.6) checks at the end of each training epoch when validation runs every epoch.
    scvi's Trainer builds the callback without the argument that says otherwise
    (``check_on_train_epoch_end``), hence the private attribute.
    """
    for callback in callbacks:
        if isinstance(callback, EarlyStopping):
            callback._check_on_train_epoch_end = False
