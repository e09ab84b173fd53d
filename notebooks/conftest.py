"""pytest configuration for the notebooks (run by nbval, see pyproject.toml).

The notebook's kernel is a separate process that inherits the environment, not pytest's
``sys.path``. Put this checkout first on the kernel's ``PYTHONPATH``, so that the notebook
imports the package being tested even where it is not installed (with the editable install
from requirements.txt this is the same code).
"""

import os
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parent.parent)


def pytest_configure(config):
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if _ROOT not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([_ROOT, *paths])
