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
# benchmarks_*.md are included by benchmarks.md (benchmarks_tables.md is written by
# benchmarks/holdout.py).
exclude_patterns = ["_build", "**.ipynb_checkpoints", "benchmarks_*.md"]
nitpicky = False

# No intersphinx: builds run without network (CI reaches only the package registry), so
# references to scvi-tools, anndata and torch objects render as plain text.
suppress_warnings = ["config.cache"]

html_theme = "sphinx_book_theme"
html_title = "scvi-trvae"
html_static_path = ["_static"]
