"""Sphinx configuration."""

from datetime import datetime
from importlib.metadata import metadata

info = metadata("scvi-trvae")
project = info["Name"]
version = release = info["Version"]
author = "scvi-trvae developers"
copyright = f"{datetime.now():%Y}, {author}"

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx.ext.napoleon",
    "sphinx_autodoc_typehints",
    "sphinxcontrib.programoutput",
]
autosummary_generate = True
autodoc_member_order = "groupwise"
autodoc_default_options = {"inherited-members": False}
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = True
typehints_defaults = "braces"
always_document_param_types = False
myst_enable_extensions = ["colon_fence", "dollarmath"]
nb_execution_mode = "off"  # tutorials are committed with their outputs; CI runs them apart
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
nitpicky = False

intersphinx_mapping = {
    "anndata": ("https://anndata.readthedocs.io/en/stable/", None),
    "python": ("https://docs.python.org/3", None),
    "scanpy": ("https://scanpy.readthedocs.io/en/stable/", None),
    "scvi": ("https://docs.scvi-tools.org/en/stable/", None),
    "torch": ("https://pytorch.org/docs/stable/", None),
}
# No network during builds here: the inventories are fetched when reachable, never required.
intersphinx_timeout = 2
suppress_warnings = ["intersphinx.external", "config.cache"]

html_theme = "sphinx_book_theme"
html_title = "scvi-trvae"
html_static_path = ["_static"]
