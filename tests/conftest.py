from pathlib import Path

import pytest
import scvi

from scvi_trvae.data import synthetic_perturbation

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _seed():
    scvi.settings.seed = 0


@pytest.fixture
def adata():
    """Tiny log-normalised data: 3 cell types x 2 conditions x 40 cells, 50 genes."""
    return synthetic_perturbation(n_cells=40, n_genes=50, n_cell_types=3, n_response_genes=10)


def _shared(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"{path} not found: real-data tests need ../shared/data beside the checkout")
    return path


@pytest.fixture(scope="session")
def kang_path():
    return _shared("kang2018_pbmc.h5ad")


@pytest.fixture(scope="session")
def donors_path():
    return _shared("kang2018_pbmc_donors_counts.h5ad")
