"""numpydoc validation of every public docstring, as scikit-learn's ``test_docstrings.py`` runs it.

Every name in ``kmeans_compress.__all__`` (functions and classes) and every public method a class
defines itself (not those inherited from scikit-learn) is checked with
:func:`numpydoc.validate.validate`; one test per object, named by its import path, whose failure
lists each problem with its numpydoc code. These are the pages of the API reference, so a
failure here is a gap a reader of the documentation sees.
"""

from __future__ import annotations

import inspect

import pytest

import kmeans_compress

validate = pytest.importorskip("numpydoc.validate").validate

# numpydoc codes not required here, each with its reason
IGNORED = {
    "GL01": "the summary may start on the line of the opening quotes (the house style, as scikit-learn's)",
    "ES01": "an extended summary is welcome but not required: one sentence can say it all",
    "SA01": "a See Also section is optional; the user guide links related names",
    "EX01": "examples are optional in docstrings: the lessons and the user guide hold them",
}


def _public_objects():
    paths = []
    for name in sorted(n for n in kmeans_compress.__all__ if n != "__version__"):
        obj = getattr(kmeans_compress, name)
        paths.append(f"kmeans_compress.{name}")
        if inspect.isclass(obj):
            for attr, value in sorted(vars(obj).items()):
                if attr.startswith("_"):
                    continue
                func = value.__func__ if isinstance(value, (classmethod, staticmethod)) else value
                if inspect.isfunction(func):
                    paths.append(f"kmeans_compress.{name}.{attr}")
    return paths


PUBLIC = _public_objects()


def test_every_public_name_is_checked():
    names = {path.split(".")[1] for path in PUBLIC}
    assert names == set(kmeans_compress.__all__) - {"__version__"}


@pytest.mark.parametrize("import_path", PUBLIC)
def test_docstring(import_path):
    result = validate(import_path)
    errors = [(code, text) for code, text in result["errors"] if code not in IGNORED]
    if errors:
        lines = "\n".join(f"  {code}: {text}" for code, text in errors)
        pytest.fail(f"{import_path} fails numpydoc validation:\n{lines}", pytrace=False)
