"""The fast path: reduced-histogram fit, exact pruned nearest search, Lloyd polish, PNG recompression."""

import io

import numpy as np
import pytest
from PIL import Image

from kmeans_compress import ColorHistogram, KMeansQuantizer, encode_palette_png, psnr
from kmeans_compress._reduce import NearestSearch, cell_codes, lloyd_polish, reduce_histogram


@pytest.fixture(scope="module")
def photo_like():
    """96x128 RGB image with ~10,000 distinct colours: smooth ramps plus noise."""
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:96, 0:128]
    base = np.stack([x * 1.9, y * 2.5, 128 + 100 * np.sin(x / 9.0) * np.cos(y / 7.0)], axis=-1)
    return np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8)


def _brute_nearest(points, centres):
    d2 = ((points[:, None, :] - centres[None, :, :]) ** 2).sum(-1)
    return d2.argmin(axis=1), d2.min(axis=1)


# --- reduced histogram ----------------------------------------------------------------------


def test_cell_codes_by_hand():
    colors = np.array([[0, 0, 0], [7, 8, 255], [255, 255, 255]], np.uint8)
    # 5 bits: 7 -> 0, 8 -> 1, 255 -> 31
    np.testing.assert_array_equal(cell_codes(colors, 5), [0, (0 << 10) | (1 << 5) | 31, (31 << 10) | (31 << 5) | 31])


def test_reduced_histogram_keeps_mass_and_means():
    colors = np.array([[0, 0, 0], [6, 0, 0], [200, 10, 10]], np.uint8)
    counts = np.array([3, 1, 5])
    points, weights, cells = reduce_histogram(colors, counts, colors.astype(float), 5)
    np.testing.assert_array_equal(cells, [0, 0, 1])
    np.testing.assert_array_equal(weights, [4, 5])
    np.testing.assert_allclose(points, [[1.5, 0, 0], [200, 10, 10]])  # (3*0 + 1*6) / 4 = 1.5


# --- exact nearest search -------------------------------------------------------------------


@pytest.mark.parametrize("k", [3, 16, 64, 256], ids=lambda k: f"k{k}")
def test_pruned_search_equals_brute_force(photo_like, k):
    hist = ColorHistogram.from_image(photo_like)
    feats = hist.colors.astype(np.float64)
    _, _, cells = reduce_histogram(hist.colors, hist.counts, feats, 5)
    rng = np.random.default_rng(k)
    centres = np.rint(feats[rng.choice(len(feats), k, replace=False)])
    labels, sq = NearestSearch(feats, cells).query(centres)
    want_labels, want_sq = _brute_nearest(feats, centres)
    np.testing.assert_array_equal(sq, want_sq)
    np.testing.assert_array_equal(labels, want_labels)  # ties go to the lowest index in both


def test_search_ties_go_to_lowest_index():
    points = np.array([[5.0, 0, 0]] * 10 + [[100.0, 0, 0]])
    centres = np.array([[0.0, 0, 0], [10.0, 0, 0], [100.0, 0, 0]])
    labels, sq = NearestSearch(points, np.zeros(len(points), int)).query(centres)
    assert labels.tolist() == [0] * 10 + [2]
    assert sq.tolist() == [25.0] * 10 + [0.0]


@pytest.mark.parametrize("overrelax", [0.0, 0.9, 1.0], ids=lambda b: f"overrelax{b}")
def test_lloyd_polish_never_raises_the_objective(photo_like, overrelax):
    hist = ColorHistogram.from_image(photo_like)
    feats = hist.colors.astype(np.float64)
    _, _, cells = reduce_histogram(hist.colors, hist.counts, feats, 5)
    search = NearestSearch(feats, cells)
    centres = feats[np.random.default_rng(0).choice(len(feats), 12, replace=False)]
    before = np.dot(hist.counts, search.query(centres)[1])
    for steps in (1, 2, 3, 6):
        polished = lloyd_polish(search, hist.counts, centres, steps, overrelax=overrelax)[0]
        assert np.dot(hist.counts, search.query(polished)[1]) < before


@pytest.mark.parametrize("overrelax", [0.0, 0.9], ids=lambda b: f"overrelax{b}")
@pytest.mark.parametrize("k", [1, 3, 20, 70], ids=lambda k: f"k{k}")
def test_lloyd_polish_equals_plain_lloyd(photo_like, k, overrelax):
    """The pruned steps give the same centres as Lloyd steps that compare every colour with every centre."""
    hist = ColorHistogram.from_image(photo_like)
    feats = hist.colors.astype(np.float64)
    _, _, cells = reduce_histogram(hist.colors, hist.counts, feats, 5)
    start = feats[np.random.default_rng(k).choice(len(feats), k, replace=False)]
    got, labels = lloyd_polish(NearestSearch(feats, cells), hist.counts, start, 6, overrelax=overrelax)
    want = start.copy()
    for step in range(6):
        want_labels = _brute_nearest(feats, want)[0]
        mass = np.bincount(want_labels, weights=hist.counts, minlength=k)
        before = want.copy()
        for j in range(3):
            sums = np.bincount(want_labels, weights=hist.counts * feats[:, j], minlength=k)
            want[mass > 0, j] = sums[mass > 0] / mass[mass > 0]
        if step < 5:  # every step but the last goes past the means
            want += overrelax * (want - before)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(labels, want_labels)


# --- the quantizer --------------------------------------------------------------------------


@pytest.mark.parametrize("k", [4, 16, 64], ids=lambda k: f"k{k}")
def test_reduced_fit_close_to_exact_fit(photo_like, k):
    """The default (reduced histogram + polish) loses at most 0.25 dB against the exact fit."""
    fast = KMeansQuantizer(k).fit(photo_like)
    exact = KMeansQuantizer(k, histogram_bits=None).fit(photo_like)
    assert fast.kmeans_.cluster_centers_.shape[0] == k
    assert len(exact.kmeans_.labels_) == exact.n_distinct_colors_  # fitted on every distinct colour
    assert len(fast.kmeans_.labels_) < fast.n_distinct_colors_  # fitted on the reduced histogram
    p_fast = psnr(photo_like, fast.palette_[fast.labels_])
    p_exact = psnr(photo_like, exact.palette_[exact.labels_])
    assert p_fast >= p_exact - 0.25


def test_labels_are_exactly_nearest(photo_like):
    q = KMeansQuantizer(32).fit(photo_like)
    pixels = photo_like.reshape(-1, 3).astype(np.float64)
    _want, want_sq = _brute_nearest(pixels, q.palette_.astype(np.float64))
    got_sq = ((pixels - q.palette_[q.labels_.ravel()]) ** 2).sum(1)
    np.testing.assert_array_equal(got_sq, want_sq)
    assert q.inertia_ == pytest.approx(want_sq.sum())


def test_fast_fit_is_deterministic(photo_like):
    a = KMeansQuantizer(16, random_state=5).fit(photo_like)
    b = KMeansQuantizer(16, random_state=5).fit(photo_like)
    np.testing.assert_array_equal(a.palette_, b.palette_)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert encode_palette_png(a.palette_, a.labels_) == encode_palette_png(b.palette_, b.labels_)


def test_few_colours_are_fitted_exactly(gradient):
    """Below 4,096 distinct colours the histogram is not reduced, whatever histogram_bits says."""
    q = KMeansQuantizer(8, histogram_bits=2).fit(gradient)
    assert len(q.kmeans_.labels_) == q.n_distinct_colors_


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"histogram_bits": 0}, "histogram_bits must be an integer from 1 to 8 or None"),
        ({"histogram_bits": 9}, "histogram_bits must be an integer from 1 to 8 or None"),
        ({"histogram_bits": 5.0}, "histogram_bits must be an integer from 1 to 8 or None"),
        ({"refine_iter": -1}, "refine_iter must be a non-negative integer"),
        ({"refine_iter": True}, "refine_iter must be a non-negative integer"),
        ({"n_init": "many"}, "n_init must be a positive integer or 'auto', got 'many'"),
    ],
    ids=["bits0", "bits9", "bitsfloat", "refine-neg", "refine-bool", "n_init-str"],
)
def test_speed_parameter_validation(three_colors, params, match):
    with pytest.raises(ValueError, match=match):
        KMeansQuantizer(2, **params).fit(three_colors)


# --- PNG recompression ----------------------------------------------------------------------


@pytest.mark.parametrize("optimizer", ["oxipng", "pillow"])
@pytest.mark.parametrize("k", [2, 3, 16, 200], ids=lambda k: f"k{k}")
def test_encoders_round_trip_exactly(photo_like, optimizer, k):
    if optimizer == "oxipng":
        pytest.importorskip("oxipng")
    q = KMeansQuantizer(k).fit(photo_like)
    data = encode_palette_png(q.palette_, q.labels_, optimizer=optimizer)
    with Image.open(io.BytesIO(data)) as im:
        assert im.mode == "P"
        np.testing.assert_array_equal(np.asarray(im), q.labels_)  # indices and palette order kept
        np.testing.assert_array_equal(np.asarray(im.convert("RGB")), q.palette_[q.labels_])
    assert data[24] == {2: 1, 3: 2, 16: 4, 200: 8}[k]  # IHDR bit depth stays minimal


def test_oxipng_keeps_trns_and_is_smaller_than_pillow(photo_like):
    pytest.importorskip("oxipng")
    palette = np.array([[0, 0, 0, 0], [255, 0, 0, 128], [0, 255, 0, 255], [9, 9, 9, 255]], np.uint8)
    labels = (photo_like[..., 0] % 4).astype(np.uint8)
    ox = encode_palette_png(palette, labels, optimizer="oxipng")
    pil = encode_palette_png(palette, labels, optimizer="pillow")
    with Image.open(io.BytesIO(ox)) as a, Image.open(io.BytesIO(pil)) as b:
        np.testing.assert_array_equal(np.asarray(a.convert("RGBA")), np.asarray(b.convert("RGBA")))
        np.testing.assert_array_equal(np.asarray(a.convert("RGBA")), palette[labels])
    assert len(ox) <= len(pil)


def test_optimizer_validation():
    with pytest.raises(ValueError, match="optimizer must be one of"):
        encode_palette_png(np.zeros((2, 3), np.uint8), np.zeros((2, 2), np.uint8), optimizer="zopfli")


@pytest.mark.parametrize(("n_clusters", "n_init"), [(3, 10), (16, 3), (40, 1)], ids=["k3", "k16", "k40"])
def test_lloyd_runs_give_what_kmeans_fit_gives_to_the_bit(monkeypatch, n_clusters, n_init):
    """The direct call of scikit-learn's Lloyd loop is a pure speed-up: same centres, labels, inertia."""
    from kmeans_compress import _centres

    if _centres._kmeans_single_lloyd is None:
        pytest.skip("this scikit-learn has no _kmeans_single_lloyd: KMeans.fit is used anyway")
    rng = np.random.default_rng(1)
    colors = rng.integers(0, 256, (900, 3)).astype(np.uint8)
    counts = rng.integers(1, 50, 900).astype(np.int64)
    features = colors.astype(np.float64)
    kwargs = {"n_init": n_init, "max_iter": 300, "tol": 1e-4, "random_state": 0}
    kwargs.update(histogram_bits=None, refine_iter=0)
    direct = _centres.fit_centres(colors, counts, features, n_clusters, **kwargs)[3]
    monkeypatch.setattr(_centres, "_kmeans_single_lloyd", None)
    fitted = _centres.fit_centres(colors, counts, features, n_clusters, **kwargs)[3]
    np.testing.assert_array_equal(direct.cluster_centers_, fitted.cluster_centers_)
    np.testing.assert_array_equal(direct.labels_, fitted.labels_)
    assert direct.inertia_ == fitted.inertia_ and direct.n_iter_ == fitted.n_iter_
    np.testing.assert_array_equal(direct.init, fitted.init)
    np.testing.assert_array_equal(direct.predict(features[:50]), fitted.predict(features[:50]))
