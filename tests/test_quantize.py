import numpy as np
import pytest
from sklearn.cluster import KMeans

from kmeans_compress import ColorHistogram, KMeansQuantizer, psnr, quantize
from kmeans_compress._quantize import label_dtype


def _same_up_to_permutation(a, b):
    pairs = set(zip(a.ravel().tolist(), b.ravel().tolist()))
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
    np.testing.assert_array_equal(hist.pixel_labels(color_labels), color_labels[inverse.reshape(-1)].reshape(gradient.shape[:2]))


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
        ({"n_colors": 4, "n_init": 0}, "n_init must be .auto. or a positive integer"),
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
