"""trVAE on scvi-tools: predict perturbation responses of cell types never seen perturbed."""

from importlib.metadata import version

from ._model import TRVAE
from ._module import TRVAEModule

__all__ = ["TRVAE", "TRVAEModule"]
__version__ = version("scvi-trvae")
