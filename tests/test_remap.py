"""The quantizer's public stages: histogram (one image or merged), fit, remap, a quantizer from a palette."""

import inspect
import pickle
import warnings

import numpy as np
import pytest

from kmeans_compress import ColorHistogram, KMeansQuantizer, measure, quantize
from kmeans_compress._reduce import kmeans_plusplus


def _photo(shape=(40, 50), seed=0, alpha=False):
    """Smooth gradients with noise: many distinct colours (the reduced-histogram route at k <= 64)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0 : shape[0], 0 : shape[1]]
    base = np.stack([x * 4.0, y * 5.0, 128 + 90 * np.sin(x / 6.0)], axis=-1)
    image = np.clip(base + rng.normal(0, 10, base.shape), 0, 255).astype(np.uint8)
    if alpha:
        a = np.full(shape, 255, np.uint8)
        a[: shape[0] // 4] = 0
        a[shape[0] // 4 : shape[0] // 3] = 128
        image = np.dstack([image, a])
    return image


# --- k-means++ ---------------------------------------------------------------------------------


@pytest.mark.parametrize("n_clusters", [1, 5, 16], ids=lambda k: f"k{k}")
def test_kmeans_plusplus_gives_scikit_learns_seeds(n_clusters):
    from sklearn.cluster import kmeans_plusplus as sk_kmeans_plusplus

    rng = np.random.default_rng(3)
    points = rng.normal(0, 30, (400, 3))
    weights = rng.integers(1, 50, 400).astype(np.float64)
    ours = kmeans_plusplus(points, weights, n_clusters, np.random.RandomState(7))
    theirs, _ = sk_kmeans_plusplus(points, n_clusters, sample_weight=weights, random_state=np.random.RandomState(7))
    np.testing.assert_array_equal(ours, theirs)


# --- histograms --------------------------------------------------------------------------------


@pytest.mark.parametrize("alpha", [False, True], ids=["rgb", "rgba"])
def test_merge_of_two_halves_is_the_whole_images_histogram(alpha):
    image = _photo(alpha=alpha)
    whole = ColorHistogram.from_image(image)
    merged = ColorHistogram.merge([ColorHistogram.from_image(image[:17]), ColorHistogram.from_image(image[17:])])
    np.testing.assert_array_equal(merged.colors, whole.colors)
    np.testing.assert_array_equal(merged.counts, whole.counts)
    assert merged.n_pixels == whole.n_pixels == 40 * 50
    assert merged.shape is None and not merged.has_pixels and whole.has_pixels


def test_merge_by_hand():
    a = np.array([[[0, 0, 0], [9, 9, 9]]], np.uint8)
    b = np.array([[[9, 9, 9], [9, 9, 9], [5, 0, 0]]], np.uint8)
    merged = ColorHistogram.merge([ColorHistogram.from_image(a), ColorHistogram.from_image(b)])
    assert merged.colors.tolist() == [[0, 0, 0], [5, 0, 0], [9, 9, 9]]
    assert merged.counts.tolist() == [1, 1, 3]


def test_merge_validation():
    rgb = ColorHistogram.from_image(np.zeros((2, 2, 3), np.uint8))
    rgba = ColorHistogram.from_image(np.zeros((2, 2, 4), np.uint8))
    with pytest.raises(ValueError, match=r"different channel counts, got \[3, 4\]"):
        ColorHistogram.merge([rgb, rgba])
    with pytest.raises(ValueError, match="at least one histogram"):
        ColorHistogram.merge([])
    with pytest.raises(TypeError, match="takes ColorHistogram objects, got ndarray"):
        ColorHistogram.merge([rgb, np.zeros((2, 2, 3), np.uint8)])
    with pytest.raises(ValueError, match="cannot map back to pixels"):
        ColorHistogram.merge([rgb]).pixel_labels(np.zeros(1, np.uint8))


# --- fit on a histogram, or on several images ---------------------------------------------------


@pytest.mark.parametrize("alpha", [False, True], ids=["rgb", "rgba"])
@pytest.mark.parametrize("k", [4, 32], ids=lambda k: f"k{k}")
def test_fit_on_a_histogram_gives_the_images_palette(k, alpha):
    image = _photo(alpha=alpha)
    direct = KMeansQuantizer(k).fit(image)
    on_hist = KMeansQuantizer(k).fit(ColorHistogram.from_image(image))
    on_merged = KMeansQuantizer(k).fit(ColorHistogram.merge([ColorHistogram.from_image(image)]))
    np.testing.assert_array_equal(on_hist.palette_, direct.palette_)
    np.testing.assert_array_equal(on_hist.labels_, direct.labels_)
    np.testing.assert_array_equal(on_merged.palette_, direct.palette_)
    assert on_merged.inertia_ == direct.inertia_
    assert not hasattr(on_merged, "labels_")  # a merged histogram cannot map back to pixels


def test_fit_on_a_list_of_images_is_a_fit_on_their_summed_histogram():
    a, b = _photo(seed=1), _photo((30, 20), seed=2)
    many = KMeansQuantizer(8).fit([a, b])
    summed = KMeansQuantizer(8).fit(ColorHistogram.merge([ColorHistogram.from_image(a), ColorHistogram.from_image(b)]))
    np.testing.assert_array_equal(many.palette_, summed.palette_)
    assert not hasattr(many, "labels_") and many.n_distinct_colors_ == summed.n_distinct_colors_
    labels_b = many.remap(b)  # each image remapped onto the one palette
    assert labels_b.shape == (30, 20) and labels_b.max() < many.n_colors_


def test_a_refit_on_several_images_forgets_the_earlier_labels():
    q = KMeansQuantizer(4).fit(_photo())
    assert hasattr(q, "labels_")
    q.fit((_photo(seed=1), _photo(seed=2)))
    assert not hasattr(q, "labels_")


# --- remap -------------------------------------------------------------------------------------


@pytest.mark.parametrize("alpha", [False, True], ids=["rgb", "rgba"])
@pytest.mark.parametrize("k", [3, 16, 100], ids=lambda k: f"k{k}")
def test_remap_of_the_fitted_image_is_labels_(k, alpha):
    image = _photo(alpha=alpha)
    q = KMeansQuantizer(k).fit(image)
    labels = q.remap(image)
    assert labels.dtype == q.labels_.dtype == np.uint8
    np.testing.assert_array_equal(labels, q.labels_)
    np.testing.assert_array_equal(q.predict(image), q.labels_)


@pytest.mark.parametrize("budget", [0.05, "auto"], ids=["0.05dB", "auto"])
def test_remap_with_runs_is_the_fit_with_runs(budget):
    image = _photo()
    runs = KMeansQuantizer(8, run_budget=budget).fit(image)
    plain = KMeansQuantizer(8).fit(image)
    np.testing.assert_array_equal(runs.palette_, plain.palette_)
    np.testing.assert_array_equal(plain.remap(image, run_budget=budget), runs.labels_)
    assert not np.array_equal(runs.labels_, plain.labels_)  # runs moved some pixels
    np.testing.assert_array_equal(runs.without_runs().labels_, plain.labels_)
    assert runs.label_corrections_ is not None and plain.label_corrections_ is None
    assert plain.without_runs() is None
    np.testing.assert_array_equal(runs.remap(image), plain.labels_)  # remap's own default: nearest


def test_remap_with_dither_is_the_dithered_fit():
    image = _photo()
    dithered = KMeansQuantizer(6, dither=True).fit(image)
    plain = KMeansQuantizer(6).fit(image)
    np.testing.assert_array_equal(plain.remap(image, dither=True), dithered.labels_)
    assert not np.array_equal(dithered.labels_, plain.labels_)
    rgba = KMeansQuantizer(6).fit(_photo(alpha=True))
    with pytest.warns(UserWarning, match="ignored for images with alpha"):
        labels = rgba.remap(_photo(alpha=True), dither=True)
    np.testing.assert_array_equal(labels, rgba.labels_)


def test_remap_validates_its_options():
    q = KMeansQuantizer(2).fit(_photo())
    with pytest.raises(ValueError, match="dither must be True or False, got 'yes'"):
        q.remap(_photo(), dither="yes")
    with pytest.raises(ValueError, match="run_budget must be a finite number >= 0, got -1"):
        q.remap(_photo(), run_budget=-1)
    with pytest.raises(ValueError, match="4 channels but the quantizer was fitted on 3"):
        q.remap(_photo(alpha=True))


# --- a quantizer from a given palette ----------------------------------------------------------


@pytest.mark.parametrize("alpha", [False, True], ids=["rgb", "rgba"])
@pytest.mark.parametrize("space", ["rgb", "lab"])
def test_from_palette_round_trip(space, alpha):
    image = _photo(alpha=alpha)
    q = KMeansQuantizer(12, color_space=space).fit(image)
    again = KMeansQuantizer.from_palette(q.palette_, color_space=space)
    np.testing.assert_array_equal(again.predict(image), q.labels_)
    np.testing.assert_array_equal(again.transform(image), q.palette_[q.labels_])
    assert again.n_colors == again.n_colors_ == q.n_colors_ and again.kmeans_ is None


def test_from_palette_keeps_the_order_and_options():
    palette = np.array([[255, 255, 255], [0, 0, 0]], np.uint8)  # not by luminance: kept as given
    image = np.array([[[250, 250, 250], [3, 3, 3]]], np.uint8)
    q = KMeansQuantizer.from_palette(palette, dither=True)
    np.testing.assert_array_equal(q.palette_, palette)
    assert q.remap(image).tolist() == [[0, 1]]
    assert q.dither is True and q.predict(image).shape == (1, 2)


@pytest.mark.parametrize(
    ("palette", "match"),
    [
        (np.zeros((2, 3), np.float64), "Expected a uint8 palette"),
        (np.zeros((257, 3), np.uint8), r"1 <= k <= 256.*shape \(257, 3\)"),
        (np.zeros((2, 5), np.uint8), r"shape \(2, 5\)"),
    ],
    ids=["float", "too-many", "channels"],
)
def test_from_palette_validates(palette, match):
    with pytest.raises(ValueError, match=match):
        KMeansQuantizer.from_palette(palette)
    with pytest.raises(ValueError, match="color_space must be one of"):
        KMeansQuantizer.from_palette(np.zeros((2, 3), np.uint8), color_space="hsv")


# --- measure reads documented state ------------------------------------------------------------


def test_measure_refuses_another_image_of_the_same_shape_through_its_histogram():
    image = _photo()
    q = KMeansQuantizer(4).fit(image)
    assert q.color_counts_.sum() == 40 * 50 and q.colors_.shape[1] == 3
    assert np.isfinite(measure(image, q).psnr)
    many = KMeansQuantizer(4).fit([image, image])
    with pytest.raises(AttributeError):
        measure(image, many)  # no labels_: a palette for several images is measured per remap


# --- the estimator -----------------------------------------------------------------------------


def test_quantize_shows_its_parameters():
    params = inspect.signature(quantize).parameters
    for name, param in inspect.signature(KMeansQuantizer).parameters.items():
        assert params[name].default == param.default
    assert "params" not in params


def test_empty_and_sparse_input_are_refused_clearly():
    import scipy.sparse

    with pytest.raises(ValueError, match="at least one pixel"):
        KMeansQuantizer(2).fit(np.empty((0, 3)))
    with pytest.raises(TypeError, match=r"sparse .*needs dense uint8 pixels"):
        KMeansQuantizer(2).fit(scipy.sparse.csr_matrix(np.ones((4, 3), np.uint8)))


def test_pickle_and_idempotent_fit_on_pixels():
    pixels = _photo().reshape(-1, 3)
    q = KMeansQuantizer(5).fit(pixels)
    again = pickle.loads(pickle.dumps(q))
    np.testing.assert_array_equal(again.predict(pixels), q.predict(pixels))
    np.testing.assert_array_equal(KMeansQuantizer(5).fit(pixels).fit(pixels).palette_, q.palette_)


_FLOAT = "feeds float data (make_blobs or random normals); an image quantizer takes uint8 pixels"
_SHAPE = "feeds data with 1 or 2 features; pixels have 3 (RGB) or 4 (RGBA) channels"

#: Every check that feeds non-image data, with its reason; any other failure fails the test.
EXPECTED_FAILED_CHECKS = {
    "check_clustering": _SHAPE,
    "check_complex_data": "feeds complex data, which is not pixels (refused with TypeError, not ValueError)",
    "check_dict_unchanged": _FLOAT,
    "check_dont_overwrite_parameters": _FLOAT,
    "check_dtype_object": "feeds object data, which is not pixels (refused with TypeError)",
    "check_estimators_dtypes": "feeds float32, int32 and int64 data; only uint8 is pixels",
    "check_estimators_fit_returns_self": _FLOAT,
    "check_estimators_nan_inf": "feeds NaN and inf, which only float data holds (refused as non-uint8, TypeError)",
    "check_estimators_overwrite_params": _FLOAT,
    "check_estimators_pickle": _FLOAT + " (pickling is tested on pixels here)",
    "check_f_contiguous_array_estimator": _FLOAT,
    "check_fit2d_1feature": _SHAPE,
    "check_fit2d_1sample": _SHAPE + " (the message says the shape, not '1 sample')",
    "check_fit2d_predict1d": _FLOAT,
    "check_fit_check_is_fitted": _SHAPE,
    "check_fit_idempotent": _SHAPE + " (idempotence is tested on pixels here)",
    "check_fit_score_takes_y": _FLOAT,
    "check_methods_sample_order_invariance": _FLOAT,
    "check_methods_subset_invariance": _FLOAT,
    "check_n_features_in": _SHAPE,
    "check_n_features_in_after_fitting": _FLOAT,
    "check_pipeline_consistency": _FLOAT,
    "check_positive_only_tag_during_fit": "feeds negative float values, which are not pixels (TypeError)",
    "check_readonly_memmap_input": _FLOAT,
    "check_transformer_data_not_an_array": _FLOAT,
    "check_transformer_general": _FLOAT,
    "check_transformer_n_iter": _FLOAT,
    "check_transformer_preserve_dtypes": _FLOAT,
}


def test_scikit_learn_estimator_checks():
    from sklearn.utils.estimator_checks import check_estimator

    failed = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # skipped checks and the quantizer's "fewer colours" warnings
        results = check_estimator(
            KMeansQuantizer(n_colors=3), expected_failed_checks=EXPECTED_FAILED_CHECKS, on_fail=None,
        )
    for result in results:
        if result["status"] == "failed":
            failed.append(f"{result['check_name']}: {result['exception']!r}")
    assert failed == []
    passed = {r["check_name"] for r in results if r["status"] == "passed"}
    assert "check_estimators_empty_data_messages" in passed and "check_estimator_sparse_array" in passed
    xfailed = {r["check_name"] for r in results if r["status"] == "xfail"}
    assert xfailed == set(EXPECTED_FAILED_CHECKS)  # no expected failure has started to pass unnoticed
