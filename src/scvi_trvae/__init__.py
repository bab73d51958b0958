"""trVAE on scvi-tools: predict perturbation responses of cell types never seen perturbed."""

from importlib.metadata import version

from . import data, metrics, pl
from ._model import TRVAE
from ._module import TRVAEModule

__all__ = ["TRVAE", "TRVAEModule", "data", "metrics", "pl"]
__version__ = version("scvi-trvae")
