import warnings

import numpy as np
import pytest
from sklearn.cluster import KMeans

from kmeans_compress import ColorHistogram, KMeansQuantizer, psnr, quantize
from kmeans_compress._quantize import label_dtype


def _same_up_to_permutation(a, b):
    pairs = set(zip(a.ravel().tolist(), b.ravel().tolist(), strict=True))
    return len(pairs) == len(set(a.ravel().tolist())) == len(set(b.ravel().tolist()))


def test_three_colours_come_back_exactly(three_colors):
    q = KMeansQuantizer(n_colors=3).fit(three_colors)
    assert q.n_colors_ == 3
    assert sorted(map(tuple, q.palette_.tolist())) == [(0, 0, 0), (0, 0, 255), (255, 0, 0)]
    rebuilt = q.palette_[q.labels_]
    np.testing.assert_array_equal(rebuilt, three_colors)
    assert psnr(three_colors, rebuilt) == np.inf
    assert q.inertia_ == 0.0
    assert q.labels_.dtype == np.uint8 and q.labels_.shape == (4, 4)


def test_labels_match_expected_partition(three_colors):
    labels = KMeansQuantizer(n_colors=3).fit_predict(three_colors)
    expected = np.array([[0, 0, 1, 2]] * 4)
    assert _same_up_to_permutation(labels, expected)


def test_k_above_distinct_colours_warns_and_is_exact(three_colors):
    with pytest.warns(UserWarning, match="more than the 3 distinct colours"):
        q = KMeansQuantizer(n_colors=10).fit(three_colors)
    assert q.n_colors_ == 3 and q.kmeans_ is None
    np.testing.assert_array_equal(q.transform(three_colors), three_colors)


def test_histogram_counts_and_inverse(three_colors):
    hist = ColorHistogram.from_image(three_colors)
    assert hist.n_colors == 3 and hist.n_pixels == 16
    assert sorted(hist.counts.tolist()) == [4, 4, 8]
    labels = hist.pixel_labels(np.arange(3, dtype=np.uint8))
    np.testing.assert_array_equal(hist.colors[labels], three_colors)


def test_histogram_matches_numpy_unique(gradient):
    """The sorted-codes histogram and its lookup-table labels agree with np.unique on the pixels."""
    hist = ColorHistogram.from_image(gradient)
    colors, inverse, counts = np.unique(gradient.reshape(-1, 3), axis=0, return_inverse=True, return_counts=True)
    np.testing.assert_array_equal(hist.colors, colors)
    np.testing.assert_array_equal(hist.counts, counts)
    color_labels = (np.arange(hist.n_colors) % 7).astype(np.uint8)
    np.testing.assert_array_equal(
        hist.pixel_labels(color_labels), color_labels[inverse.reshape(-1)].reshape(gradient.shape[:2])
    )


def test_weighted_distinct_fit_matches_per_pixel_objective(gradient):
    """Weighted distinct colours give the same objective as fitting every pixel."""
    q = KMeansQuantizer(n_colors=6, n_init=4).fit(gradient)
    pixels = gradient.reshape(-1, 3).astype(np.float64)
    full = KMeans(n_clusters=6, n_init=4, random_state=0).fit(pixels)
    # q.inertia_ is measured after rounding the centres to 8 bits: allow that rounding
    assert q.inertia_ <= full.inertia_ * 1.03


def test_same_seed_same_palette_and_labels(gradient):
    a = KMeansQuantizer(n_colors=8, random_state=3).fit(gradient)
    b = KMeansQuantizer(n_colors=8, random_state=3).fit(gradient)
    np.testing.assert_array_equal(a.palette_, b.palette_)
    np.testing.assert_array_equal(a.labels_, b.labels_)


def test_every_pixel_gets_its_nearest_palette_colour(gradient):
    q = KMeansQuantizer(n_colors=5).fit(gradient)
    pix = gradient.reshape(-1, 1, 3).astype(np.int64)
    d2 = ((pix - q.palette_[None].astype(np.int64)) ** 2).sum(-1)
    best = d2.min(axis=1)
    chosen = d2[np.arange(len(d2)), q.labels_.ravel()]
    np.testing.assert_array_equal(chosen, best)


def test_pixel_array_input(gradient):
    q = KMeansQuantizer(n_colors=4).fit(gradient.reshape(-1, 3))
    assert q.labels_.shape == (gradient.shape[0] * gradient.shape[1],)


def test_predict_on_new_image(gradient, three_colors):
    q = KMeansQuantizer(n_colors=3).fit(three_colors)
    labels = q.predict(gradient)
    assert labels.shape == gradient.shape[:2]
    assert labels.max() < q.n_colors_


def test_quantize_one_call(gradient):
    res = quantize(gradient, 4)
    assert res.image.shape == gradient.shape
    assert len(np.unique(res.image.reshape(-1, 3), axis=0)) <= 4
    np.testing.assert_array_equal(res.image, res.palette[res.labels])
    assert "n_colors=4" in repr(res)


@pytest.mark.parametrize(("n", "dtype"), [(1, np.uint8), (256, np.uint8), (257, np.uint16), (70000, np.uint32)])
def test_label_dtype(n, dtype):
    assert label_dtype(n) == dtype


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"n_colors": 0}, "n_colors must be an integer from 1 to 256"),
        ({"n_colors": 257}, "got 257"),
        ({"n_colors": 2.5}, "got 2.5"),
        ({"n_colors": True}, "got True"),
        ({"n_colors": 4, "color_space": "hsv"}, "color_space must be one of"),
        ({"n_colors": 4, "n_init": 0}, "n_init must be a positive integer or 'auto', got 0"),
        ({"n_colors": 4, "max_iter": 0}, "max_iter must be a positive integer"),
    ],
    ids=["k0", "k257", "kfloat", "kbool", "space", "n_init", "max_iter"],
)
def test_invalid_parameters(three_colors, params, match):
    with pytest.raises(ValueError, match=match):
        KMeansQuantizer(**params).fit(three_colors)


@pytest.mark.parametrize(
    ("data", "exc", "match"),
    [
        (np.zeros((4, 4, 3), np.float64), TypeError, "Expected uint8 pixel values"),
        (np.zeros((4, 4, 5), np.uint8), ValueError, "Reshape your data"),
        (np.zeros((4,), np.uint8), ValueError, "got shape"),
        (np.zeros((0, 3), np.uint8), ValueError, "at least one pixel"),
    ],
    ids=["float", "5-channels", "1d", "empty"],
)
def test_invalid_input(data, exc, match):
    with pytest.raises(exc, match=match):
        KMeansQuantizer(n_colors=2).fit(data)


def test_not_fitted():
    with pytest.raises(AttributeError, match="not fitted yet"):
        KMeansQuantizer().predict(np.zeros((2, 2, 3), np.uint8))


def test_predict_channel_mismatch(three_colors):
    q = KMeansQuantizer(n_colors=2).fit(three_colors)
    with pytest.raises(ValueError, match="4 channels but the quantizer was fitted on 3"):
        q.predict(np.zeros((2, 2, 4), np.uint8) + 1)


# --- a scikit-learn estimator ------------------------------------------------------------------


def test_clone_and_get_set_params():
    from sklearn.base import clone

    q = KMeansQuantizer(8, color_space="lab", random_state=3)
    copy = clone(q)
    assert copy is not q and copy.get_params() == q.get_params()
    assert copy.get_params()["n_colors"] == 8
    assert copy.set_params(n_colors=5) is copy and copy.n_colors == 5 and q.n_colors == 8


def test_clone_of_a_fitted_quantizer_is_unfitted(three_colors):
    from sklearn.base import clone
    from sklearn.exceptions import NotFittedError

    q = KMeansQuantizer(3).fit(three_colors)
    with pytest.raises(NotFittedError, match="not fitted yet"):
        clone(q).predict(three_colors)


def test_invalid_parameter_set_later_is_caught_by_fit(three_colors):
    q = KMeansQuantizer(3).set_params(refine_iter=-1)
    with pytest.raises(ValueError, match="refine_iter must be a non-negative integer, got -1"):
        q.fit(three_colors)


def test_in_a_pipeline_as_the_last_step(three_colors):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    # a first step that brightens the image; the quantizer then sees its output
    brighten = FunctionTransformer(lambda X: np.minimum(X.astype(np.uint16) + 10, 255).astype(np.uint8))
    pipe = make_pipeline(brighten, KMeansQuantizer(3)).fit(three_colors)
    expected = np.unique(np.minimum(three_colors.reshape(-1, 3).astype(int) + 10, 255), axis=0)
    np.testing.assert_array_equal(np.unique(pipe[-1].palette_, axis=0), expected)
    out = pipe.transform(three_colors)
    assert out.shape == three_colors.shape and out.dtype == np.uint8


def test_grid_search_over_n_colors(three_colors):
    from sklearn.model_selection import GridSearchCV

    pixels = three_colors.reshape(-1, 3)
    # score: minus inertia on the held-out pixels, as sklearn's KMeans.score does
    search = GridSearchCV(
        KMeansQuantizer(),
        {"n_colors": [1, 2, 3]},
        cv=2,
        scoring=lambda est, X, y=None: -float(((est.transform(X).astype(int) - X) ** 2).sum()),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # folds with fewer colours than n_colors
        search.fit(pixels)
    assert search.best_params_ == {"n_colors": 3}


def test_html_repr_for_notebooks():
    html = KMeansQuantizer(12, dither=True)._repr_html_()
    assert "KMeansQuantizer" in html and "n_colors" in html and "12" in html
    assert repr(KMeansQuantizer(12)) == "KMeansQuantizer(n_colors=12)"
