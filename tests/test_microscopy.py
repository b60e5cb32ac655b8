"""The microscopy plugin: its HRTEM simulator against textbook physics, its problems'
fixtures, its baselines against independent computations, and the U-Nets' shared encoder."""

from __future__ import annotations

import math
from pathlib import Path

import jax
import numpy as np
import pytest
import sklearn.metrics as skm
from saibench_microscopy import baselines, problems
from saibench_microscopy.imaging import Microscope, counts, frequencies, image, projected_potential, scherzer_defocus
from saibench_microscopy.networks import unet_denoiser, unet_segmenter
from saibench_microscopy.scattering import (
    CARBON,
    DEBYE_WALLER,
    GOLD,
    PENG_1996,
    interaction_constant,
    scattering_factor,
    wavelength,
)
from saibench_microscopy.simulate import simulate
from saibench_microscopy.specimen import (
    FOOTPRINT_RADIUS,
    GOLD_LATTICE,
    Geometry,
    Specimen,
    footprint,
    particle,
    specimen,
)
from saibench_standard import metrics_image

from saibench_core.compile import compile_model
from saibench_core.discovery import Catalog
from saibench_core.planner import Planner
from sail_types import Evaluation, Image, Input, Train

SMALL = Geometry(size=32, padding=8)  # fast, and still a few particles' worth of cell


# -- physics ---------------------------------------------------------------------------


def test_wavelength_and_interaction_constant_are_kirklands() -> None:
    for volts in (100e3, 200e3, 300e3):
        # Kirkland 2020, eq. 2.5 in its numerical form; eq. 5.6's second form for sigma
        assert wavelength(volts) == pytest.approx(12.2643 / math.sqrt(volts * (1 + 0.978476e-6 * volts)), rel=1e-5)
        sigma = 2 * math.pi / (wavelength(volts) * volts) * (510998.95 + volts) / (2 * 510998.95 + volts)
        assert interaction_constant(volts) == pytest.approx(sigma, rel=1e-6)
    assert wavelength(300e3) == pytest.approx(0.01969, abs=1e-5)


def test_an_atom_projected_potential_is_the_analytic_gaussian_sum() -> None:
    """The FFT-built potential of one gold column on a fine grid equals the real-space sum
    of Gaussians that Peng's f_e(s) = Σ a exp(−b s²) transforms into (periodic images
    included): v(r) = 2π a₀ e Σ a (4π / b') exp(−4π² r² / b'), b' = b + B."""
    geometry = Geometry(size=16, padding=0, oversampling=8)  # 0.05 Å spacing: the transform has decayed at Nyquist
    n, spacing = geometry.wave_pixels
    centre = np.array([[3.1, 2.7]])
    atoms = Specimen((centre,), (np.array([1]),), np.zeros((n, n), np.int64))
    v = projected_potential(atoms, geometry)
    grid = (np.arange(n) + 0.5) * spacing
    x, y = np.meshgrid(grid, grid)
    bohr, coulomb = 0.529177, 14.3996  # Å, and e / 4πε₀ in V·Å
    a, b = (np.asarray(p) for p in PENG_1996[GOLD])
    expected = np.zeros_like(v)
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            r2 = (x - centre[0, 0] - dx * geometry.cell) ** 2 + (y - centre[0, 1] - dy * geometry.cell) ** 2
            for ai, bi in zip(a, b + DEBYE_WALLER[GOLD], strict=True):
                expected += 2 * math.pi * bohr * coulomb * ai * 4 * math.pi / bi * np.exp(-4 * math.pi**2 * r2 / bi)
    np.testing.assert_allclose(v, expected, rtol=1e-3, atol=1e-3 * expected.max())
    assert v.sum() * spacing**2 == pytest.approx(2 * math.pi * bohr * coulomb * a.sum(), rel=1e-4)  # ∫v = 47.9 V·Å² × f_e(0)
    assert scattering_factor(CARBON, np.zeros(1))[0] == pytest.approx(2.509, abs=1e-3)  # Peng et al.: f_e(0) = Σ a


def test_vacuum_images_at_one_and_a_weak_phase_object_follows_linear_imaging_theory() -> None:
    geometry = Geometry(size=32, padding=0, oversampling=1)
    scope = Microscope()
    n, _ = geometry.wave_pixels
    assert np.array_equal(image(np.zeros((n, n)), geometry, scope), np.ones((32, 32)))
    v = np.random.default_rng(0).normal(size=(n, n)) * 1e-3  # V·Å: a phase of ~1e-6 rad
    k = frequencies(geometry)
    # Kirkland 2020 §3.5: I = 1 + 2 σ v ⊗ F⁻¹[A sin χ] to first order in the phase
    linear = 1 + 2 * np.fft.ifft2(np.fft.fft2(interaction_constant(scope.voltage) * v) * (k <= scope.aperture)
                                  * np.sin(scope.aberration(k))).real
    np.testing.assert_allclose(image(v, geometry, scope), linear, atol=1e-10)
    lam = wavelength(scope.voltage)
    assert scope.focus == pytest.approx(math.sqrt(1.5 * scope.cs * lam)) == scherzer_defocus(scope.cs, scope.voltage)


def test_counts_are_poisson_at_the_dose() -> None:
    rng = np.random.default_rng(1)
    dose, pixel, n = 50.0, 0.4, 200_000
    for level in (0.5, 1.0, 1.5):
        c = counts(np.full(n, level), dose, pixel, rng)
        mean = dose * pixel**2 * level
        assert abs(c.mean() - mean) < 5 * math.sqrt(mean / n)  # mean counts = dose × pixel area × intensity
        assert c.var(ddof=1) / mean == pytest.approx(1.0, abs=5 * math.sqrt(2 / n))  # variance = mean


def test_simulated_images_are_deterministic_per_seed_and_differ_across_seeds() -> None:
    a, b, c = simulate(3, 7, dose=100.0, geometry=SMALL), simulate(3, 7, dose=100.0, geometry=SMALL), simulate(3, 8, dose=100.0, geometry=SMALL)
    assert all(np.array_equal(getattr(a, f), getattr(b, f)) for f in ("clean", "noisy", "mask"))
    assert not np.array_equal(a.clean, c.clean) and not np.array_equal(a.noisy, c.noisy)
    assert np.array_equal(simulate(2, 7, dose=100.0, geometry=SMALL).clean, a.clean[:2])  # image i does not depend on n


def test_the_noisy_image_is_counts_over_the_vacuum_count_with_the_clean_image_as_mean() -> None:
    images = simulate(4, 3, dose=100.0, geometry=SMALL)
    recorded = images.noisy.astype(np.float64) * images.expected_counts
    assert images.expected_counts == pytest.approx(100.0 * 0.4**2)
    np.testing.assert_allclose(recorded, np.round(recorded), atol=1e-4)  # whole electrons
    expected = images.clean.astype(np.float64) * images.expected_counts
    assert abs(recorded.sum() - expected.sum()) < 5 * math.sqrt(expected.sum())
    assert 0.9 < images.clean.mean() < 1.0  # the aperture stops what the specimen scatters far
    inside, outside = images.clean[images.mask].mean(), images.clean[~images.mask].mean()
    assert inside < outside  # gold scatters more: scattering contrast


def test_higher_dose_gives_the_same_specimen_and_a_higher_psnr_of_the_noisy_image() -> None:
    runs = {dose: simulate(3, 5, dose=dose, geometry=SMALL) for dose in (10.0, 100.0, 1000.0)}
    clean = runs[10.0].clean
    assert all(np.array_equal(r.clean, clean) and np.array_equal(r.mask, runs[10.0].mask) for r in runs.values())
    r2 = float(clean.max() - clean.min()) ** 2
    psnr = {dose: 10 * math.log10(r2 / np.mean((r.noisy - r.clean) ** 2)) for dose, r in runs.items()}
    assert psnr[10.0] < psnr[100.0] < psnr[1000.0]
    for dose, value in psnr.items():  # Poisson: MSE = mean intensity / (dose × pixel²)
        assert value == pytest.approx(10 * math.log10(r2 * dose * 0.4**2 / clean.mean()), abs=0.5)


def test_a_particle_is_the_fcc_gold_sites_in_its_sphere_in_columns_along_001() -> None:
    rng = np.random.default_rng(2)
    centre, radius = np.array([10.0, 10.0, 0.0]), 6.0
    sites = particle(rng, centre, radius)
    assert np.all(np.linalg.norm(sites - centre, axis=1) <= radius + 1e-9)
    expected = 4 / GOLD_LATTICE**3 * 4 / 3 * math.pi * radius**3  # four sites per fcc cell
    assert 0.8 * expected < len(sites) < 1.2 * expected
    distances = np.linalg.norm(sites[:, None] - sites[None], axis=-1)
    assert np.min(distances[distances > 0]) == pytest.approx(GOLD_LATTICE / math.sqrt(2), rel=1e-6)  # nearest neighbours
    columns = np.unique(np.round(sites[:, :2], 6), axis=0)
    apart = np.linalg.norm(columns[:, None] - columns[None], axis=-1)
    assert np.min(apart[apart > 0]) == pytest.approx(GOLD_LATTICE / 2, rel=1e-6)  # [001] columns, a/2 apart
    assert len(columns) < len(sites)  # atoms stack in columns along the beam


def test_masks_are_the_pixels_near_the_particles_columns() -> None:
    atoms = specimen(np.random.default_rng(4), SMALL)
    mask = footprint(atoms.columns, SMALL)
    columns = np.concatenate(atoms.columns)
    expected = np.zeros_like(mask)
    for row in range(SMALL.size):  # written differently: a plain loop over pixels and columns
        for col in range(SMALL.size):
            x, y = (SMALL.padding + col + 0.5) * SMALL.pixel, (SMALL.padding + row + 0.5) * SMALL.pixel
            expected[row, col] = any(math.hypot(x - cx, y - cy) <= FOOTPRINT_RADIUS for cx, cy in columns)
    assert np.array_equal(mask, expected)
    visible = columns[np.all((columns > SMALL.padding * SMALL.pixel) & (columns < (SMALL.padding + SMALL.size) * SMALL.pixel), axis=1)]
    pixels = np.floor(visible / SMALL.pixel).astype(int) - SMALL.padding
    assert mask[pixels[:, 1], pixels[:, 0]].all()  # every column in the image lies in the mask
    assert sum(atoms.occupancy[i].sum() for i in range(len(atoms.columns))) > 0 and atoms.carbon.sum() > 0


# -- problems ----------------------------------------------------------------------------


def test_fixtures_come_from_separate_seeds_and_the_segmentation_sees_the_same_noisy_images() -> None:
    sizes = {"n_train": 8, "n_validation": 4, "n_test": 4}
    denoise = problems.particle_denoise(dose=50.0, **sizes)
    assert denoise.train.x.shape == (8, 64, 64, 1) and denoise.test.y.shape == (4, 64, 64, 1)
    assert denoise.train.x.dtype == denoise.train.y.dtype == np.float32
    assert denoise.validation is not None and len(denoise.validation) == 4
    every = np.concatenate([denoise.train.y, denoise.validation.y, denoise.test.y])[:, :, :, 0]
    assert len({im.tobytes() for im in every}) == len(every)  # no image in two fixtures
    segment = problems.particle_segment(dose=50.0, labels=0.25, **sizes)
    keep = problems.labelled_subset(8, 0.25, 0)
    assert len(keep) == 2 and np.array_equal(segment.train.x, denoise.train.x[keep])
    assert segment.train.y.dtype == np.int32 and segment.train.y.shape == (2, 64, 64)
    assert set(np.unique(segment.test.y)) <= {0, 1} and np.array_equal(segment.test.x, denoise.test.x)
    assert not np.array_equal(problems.particle_denoise(dose=50.0, split_seed=1, **sizes).test.y, denoise.test.y)
    with pytest.raises(ValueError, match=r"labels is the fraction"):
        problems.particle_segment(labels=0.0)
    with pytest.raises(ValueError, match=r"positive number of electrons"):
        problems.particle_denoise(dose=-1.0)


# -- baselines ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def noisy() -> dict[str, np.ndarray]:
    images = simulate(6, 11, dose=100.0)
    return {"x": images.noisy[..., None], "y": images.clean[..., None], "mask": images.mask.astype(np.int32)}


def _fitted(method: object, x: np.ndarray, y: np.ndarray) -> object:
    built = method(Input(Image("h", "w", 1), {"h": 64, "w": 64, "c": 1, "k": 2}))  # type: ignore[operator]
    return built.fit(Train(x, y))


def _blur_by_hand(x: np.ndarray, sigma: float) -> np.ndarray:
    """A separable Gaussian filter written out: kernel to 4σ, edges mirrored (scipy's 'reflect')."""
    radius = int(4 * sigma + 0.5)
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    out = np.asarray(x, np.float64)
    for axis in (1, 2):
        padded = np.pad(out, [(radius, radius) if a == axis else (0, 0) for a in range(out.ndim)], mode="symmetric")
        out = sum(t * np.take(padded, np.arange(i, i + out.shape[axis]), axis=axis) for i, t in enumerate(taps))
    return out


def test_noisy_input_and_gaussian_blur_against_a_filter_written_out(noisy: dict[str, np.ndarray]) -> None:
    x, y = noisy["x"], noisy["y"]
    assert np.array_equal(_fitted(baselines.noisy_input, x, y)(x), x)  # type: ignore[operator]
    np.testing.assert_allclose(baselines.blurred(x, 1.5), _blur_by_hand(x, 1.5), atol=1e-10)
    errors = [np.mean((_blur_by_hand(x, s) - y) ** 2) for s in baselines.BLUR_SIGMAS]
    best = baselines.BLUR_SIGMAS[int(np.argmin(errors))]
    np.testing.assert_allclose(_fitted(baselines.gaussian_blur, x, y)(x), _blur_by_hand(x, best), atol=1e-10)  # type: ignore[operator]


def test_nl_means_is_scikit_images_at_the_strength_of_best_training_psnr(noisy: dict[str, np.ndarray]) -> None:
    from skimage.metrics import peak_signal_noise_ratio
    from skimage.restoration import denoise_nl_means, estimate_sigma

    x, y = noisy["x"][:3], noisy["y"][:3]

    def by_hand(h: float) -> np.ndarray:
        out = []
        for im in x[..., 0].astype(np.float64):
            sigma = estimate_sigma(im)
            out.append(denoise_nl_means(im, h=h * sigma, sigma=sigma, fast_mode=True, patch_size=5, patch_distance=6))
        return np.asarray(out)[..., None]

    r = float(y.max() - y.min())
    best = max(baselines.NLM_STRENGTHS, key=lambda h: peak_signal_noise_ratio(y.astype(np.float64), by_hand(h), data_range=r))
    predicted = _fitted(baselines.nl_means, x, y)(x)  # type: ignore[operator]
    np.testing.assert_allclose(predicted, by_hand(best), atol=1e-10)
    assert peak_signal_noise_ratio(y, predicted, data_range=r) > peak_signal_noise_ratio(y, x, data_range=r)


def test_threshold_ious_for_every_threshold_at_once_match_each_computed_alone() -> None:
    rng = np.random.default_rng(5)
    smoothed, truth = rng.normal(size=(3, 9, 7)), rng.random((3, 9, 7)) < 0.3
    smoothed[0, 0, :3] = 0.25  # ties at a threshold
    cuts = np.sort(np.concatenate([np.quantile(smoothed, np.linspace(0, 1, 17)), [0.25]]))
    dark, bright = baselines.threshold_ious(smoothed, truth, cuts)
    for t, d, b in zip(cuts, dark, bright, strict=True):
        assert d == pytest.approx(skm.jaccard_score(truth.ravel(), (smoothed < t).ravel(), zero_division=1.0))
        assert b == pytest.approx(skm.jaccard_score(truth.ravel(), (smoothed > t).ravel(), zero_division=1.0))


def test_the_threshold_segmenter_takes_the_best_training_iou_and_scores_both_classes(noisy: dict[str, np.ndarray]) -> None:
    x, mask = noisy["x"], noisy["mask"]
    scores = _fitted(baselines.threshold, x, mask)(x)  # type: ignore[operator]
    assert scores.shape == (6, 64, 64, 2) and np.allclose(scores.sum(axis=-1), 1.0)
    chosen = baselines.pooled_iou(scores.argmax(-1) == 1, mask == 1)
    best = 0.0
    for sigma in baselines.SMOOTHING_SIGMAS:  # brute force over the same grid
        s = baselines.blurred(x, sigma)[..., 0]
        for t in np.quantile(s, np.linspace(0, 1, baselines.THRESHOLDS)):
            best = max(best, baselines.pooled_iou(s < t, mask == 1), baselines.pooled_iou(s > t, mask == 1))
    assert chosen == pytest.approx(best) and chosen > 0.3


def test_iou_and_dice_of_class_index_masks_are_sklearns() -> None:
    rng = np.random.default_rng(6)
    truth, predicted = (rng.random((4, 16, 16)) < 0.3).astype(np.int32), (rng.random((4, 16, 16)) < 0.4).astype(np.int64)
    ev = Evaluation(y_true=truth, y_pred=predicted, scores=np.eye(2)[predicted], train_seconds=0.0, compile_seconds=0.0,
                    inference_seconds=0.0, n_train=1, n_test=4, epochs=0)
    assert metrics_image.iou(ev) == pytest.approx(skm.jaccard_score(truth.ravel(), predicted.ravel()))
    assert metrics_image.dice(ev) == pytest.approx(skm.f1_score(truth.ravel(), predicted.ravel()))


def test_image_metrics_attach_by_task(catalog: Catalog) -> None:
    planner = Planner(catalog, contained=False)
    on = {name: set(planner.attached(catalog.get("problem", name))[0]) for name in ("particle_denoise", "particle_segment")}  # type: ignore[arg-type]
    assert {"psnr", "ssim"} <= on["particle_denoise"] and not {"iou", "dice"} & on["particle_denoise"]
    assert {"iou", "dice"} <= on["particle_segment"] and not {"psnr", "ssim"} & on["particle_segment"]


# -- networks ----------------------------------------------------------------------------


def _tree(params: object) -> dict[str, tuple[int, ...]]:
    flat, _ = jax.tree_util.tree_flatten_with_path(params)
    return {jax.tree_util.keystr(path): tuple(leaf.shape) for path, leaf in flat}


def test_denoiser_and_segmenter_share_the_encoders_parameter_paths_and_shapes() -> None:
    x = Input(Image(64, 64, 1), {"h": 64, "w": 64, "c": 1, "k": 2})
    trees = {}
    for name, factory, dims in (("denoiser", unet_denoiser, {"c": 1}), ("segmenter", unet_segmenter, {"k": 2})):
        layer = factory(x, width=8)
        assert layer.output_shape((64, 64, 1), dims) == ((64, 64, 1) if name == "denoiser" else (64, 64, 2))
        model = compile_model(layer, dims)
        trees[name] = _tree(jax.eval_shape(lambda key, m=model: m.init(key, (64, 64, 1))[0], jax.random.key(0)))
    encoder = {name: {p: s for p, s in tree.items() if p.startswith("[0]")} for name, tree in trees.items()}
    assert encoder["denoiser"] == encoder["segmenter"] and len(encoder["denoiser"]) > 10
    heads = {name: {p: s for p, s in tree.items() if not p.startswith("[0]")} for name, tree in trees.items()}
    assert heads["denoiser"] == {"[1]['b']": (1,), "[1]['w']": (1, 1, 8, 1)}
    assert heads["segmenter"] == {"[1]['b']": (2,), "[1]['w']": (1, 1, 8, 2)}


def test_per_pixel_class_targets_are_checked_against_the_scores_shape() -> None:
    from saibench_core.execute.checks import DeclaredTypeError, check_fixture
    from sail_types import Image

    x, masks = np.zeros((2, 4, 4, 1), np.float32), np.zeros((2, 4, 4), np.int32)
    check_fixture("problem p", Image(4, 4, 1), Image(4, 4, 2), "train", x, masks, {}, classes=True)
    with pytest.raises(DeclaredTypeError, match=r"one class index per element, of per-sample shape \(4, 4\)"):
        check_fixture("problem p", Image(4, 4, 1), Image(4, 4, 2), "train", x, np.zeros((2, 4, 5), np.int32), {}, classes=True)
    with pytest.raises(DeclaredTypeError, match="have dtype float32"):
        check_fixture("problem p", Image(4, 4, 1), Image(4, 4, 2), "train", x, masks.astype(np.float32), {}, classes=True)
    with pytest.raises(DeclaredTypeError, match=r"contain class 2, outside \[0, 2\)"):
        check_fixture("problem p", Image(4, 4, 1), Image(4, 4, 2), "train", x, masks + 2, {}, classes=True)


# -- end to end: pre-training, fine-tuning, sample efficiency ----------------------------


@pytest.mark.slow
def test_the_segmenter_is_fine_tuned_from_the_denoisers_encoder_and_makes_a_sample_efficiency_curve(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import saibench_core as sb

    monkeypatch.setenv("SAIBENCH_WEIGHTS", str(tmp_path / "weights"))
    monkeypatch.setenv("SAIBENCH_DATA_CACHE", str(tmp_path / "data"))
    sizes = {f"{p}.{n}": [8] for p in ("particle_denoise", "particle_segment") for n in ("n_train", "n_validation", "n_test")}
    grid = {**sizes, "particle_segment.labels": [0.25, 1.0], "unet_denoiser.width": [4], "unet_segmenter.width": [4],
            "unet_adam.epochs": [2], "unet_adam.batch_size": [4]}
    plan = sb.plan(problem="particle_segment", model="unet_*", grid=grid)
    runs = list(plan)
    assert [(r.problem, r.model, r.origin) for r in runs][:1] == [("particle_denoise", "unet_denoiser", "")]
    assert sorted((r.hyper["problem"]["labels"], r.origin) for r in runs[1:]) == [
        (0.25, ""), (0.25, "particle_denoise×unet_denoiser"), (1.0, ""), (1.0, "particle_denoise×unet_denoiser")]
    results = sb.run(runs, db=tmp_path / "db.sqlite", save_weights=tmp_path / "saved")
    assert results.counts == {"ok": 5, "failed": 0, "skipped": 0}
    tuned = [r for r in results.records if r.run.start_from]  # the carried parameters: weights.load, tests/test_pretraining.py
    assert len(tuned) == 2 and all(r.details["started_from"] == {"run": "particle_denoise×unet_denoiser", "keep": "[0]"} for r in tuned)
    curves = [c for c in sb.sample_efficiency(results.leaderboards()) if c.ranking == "by_iou"]
    assert {(c.label, len(c.points)) for c in curves} == {
        ("unet_segmenter", 2), ("unet_segmenter ← particle_denoise×unet_denoiser", 2), ("reference: majority class", 2)}
