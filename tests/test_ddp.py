import subprocess
import sys
from pathlib import Path

import numpy as np


def test_ddp_on_two_cpu_processes(tmp_path):
    out = tmp_path / "history.npy"
    script = Path(__file__).with_name("ddp_train.py")
    result = subprocess.run(
        [sys.executable, script, out], capture_output=True, text=True, timeout=600, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    history = np.load(out, allow_pickle=True).item()
    assert len(history["mmd_train"]) == 2
    assert np.isfinite(history["mmd_train"]).all()
