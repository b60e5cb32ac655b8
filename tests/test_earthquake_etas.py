"""Tests for the ETAS catalogue simulator and the fortnightly gridding."""

from __future__ import annotations

import datetime
import math
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

sys.path.insert(0, str(Path(__file__).parents[1] / "plugins" / "earthquake"))

from saibench_earthquake.etas import (  # noqa: E402
    Catalogue,
    Etas,
    Region,
    branching_ratio,
    fortnightly,
    gutenberg_richter_b,
    omori_cdf,
    sample_omori_times,
    simulate,
)

SHORT = Region(end=datetime.date(1959, 12, 31))  # ten years, default space


def _arrays(c: Catalogue) -> list[np.ndarray]:
    return [c.time, c.lat, c.lon, c.depth, c.magnitude, c.generation]


def test_region_defaults() -> None:
    r = Region()
    assert (r.n_lat, r.n_lon, r.n_cells) == (40, 60, 2400)
    assert r.n_days == 25567


def test_determinism() -> None:
    e = Etas(mu=1.0)
    a, b, c = simulate(e, SHORT, 7), simulate(e, SHORT, 7), simulate(e, SHORT, 8)
    for x, y in zip(_arrays(a), _arrays(b)):
        assert x.tobytes() == y.tobytes()
    assert len(a) != len(c) or a.time.tobytes() != c.time.tobytes()
    assert np.all(np.diff(a.time) >= 0)
    assert a.time.dtype == np.float64 and a.magnitude.dtype == np.float64


def test_catalogue_inside_region() -> None:
    c = simulate(Etas(mu=1.0), SHORT, 1)
    assert np.all((c.lat >= 32) & (c.lat < 36) & (c.lon >= -120) & (c.lon < -114))
    assert np.all((c.time >= 0) & (c.time < SHORT.n_days))
    assert np.all((c.depth >= 0) & (c.depth <= 20))
    assert np.all((c.magnitude >= 2.5) & (c.magnitude <= 8.0))


def test_supercritical_rejected() -> None:
    with pytest.raises(ValueError, match="K=.*alpha="):
        Etas(K=0.2)
    with pytest.raises(ValueError):
        Etas(p=1.0)


def test_branching_ratio_analytic_against_quadrature() -> None:
    for e in (Etas(), Etas(alpha=1.5, K=0.0001), Etas(b=1.2, alpha=0.8)):
        m = np.linspace(e.m_c, e.m_max, 200_001)
        beta = e.b * math.log(10)
        pdf = beta * np.exp(-beta * (m - e.m_c)) / (1 - math.exp(-beta * (e.m_max - e.m_c)))
        numeric = e.K * np.trapezoid(pdf * 10 ** (e.alpha * (m - e.m_c)), m)
        assert branching_ratio(e) == pytest.approx(numeric, rel=1e-6)


@pytest.mark.parametrize("b", [1.0, 1.2])
def test_gutenberg_richter_b_of_simulation(b: float) -> None:
    e = Etas(mu=2.0, b=b)
    c = simulate(e, SHORT, 3)
    assert len(c) > 5000
    assert abs(gutenberg_richter_b(c.magnitude, e.m_c) - b) < 0.05


def test_b_estimator_hand_computation() -> None:
    m = np.array([2.5, 2.7, 3.0, 3.3, 4.0, 2.0])  # 2.0 is below completeness
    mean = (2.5 + 2.7 + 3.0 + 3.3 + 4.0) / 5  # 3.1
    assert gutenberg_richter_b(m, 2.5) == pytest.approx(0.4342944819 / (mean - 2.5))
    assert gutenberg_richter_b(m, 2.5, bin_width=0.1) == pytest.approx(0.4342944819 / (mean - 2.45))
    with pytest.raises(ValueError):
        gutenberg_richter_b(np.array([1.0]), 2.5)


@settings(max_examples=20, deadline=None)
@given(c=st.floats(0.001, 1.0), p=st.floats(1.05, 2.5), seed=st.integers(0, 2**31))
def test_omori_sampler_matches_cdf(c: float, p: float, seed: int) -> None:
    t = sample_omori_times(np.random.default_rng(seed), 4000, c, p)
    res = stats.kstest(t, lambda x: omori_cdf(x, c, p))
    assert res.pvalue > 1e-4


def test_omori_sampler_wrong_p_detected() -> None:
    t = sample_omori_times(np.random.default_rng(0), 20000, 0.01, 1.1)
    assert stats.kstest(t, lambda x: omori_cdf(x, 0.01, 1.25)).pvalue < 1e-6


def test_aftershock_fraction_matches_branching_ratio() -> None:
    # short-tailed Omori law and capped magnitude so window and region losses are small
    e = Etas(mu=3.0, p=2.0, c=0.01, m_max=6.0, K=0.125, alpha=0.8)
    n = branching_ratio(e)
    assert 0.4 < n < 0.7
    fractions = [float(np.mean(simulate(e, SHORT, s).generation > 0)) for s in range(3)]
    assert abs(np.mean(fractions) - n) < 0.04


def _slow_grid(c: Catalogue, r: Region, cells: int) -> tuple[np.ndarray, list[int]]:
    n_bins = math.ceil(r.n_days / 14)
    totals: dict[int, int] = {}
    recs = []
    for t, la, lo, z, m in zip(c.time.tolist(), c.lat.tolist(), c.lon.tolist(), c.depth.tolist(), c.magnitude.tolist()):
        i = min(int(math.floor((la - r.lat_min) / r.cell_deg)), r.n_lat - 1)
        j = min(int(math.floor((lo - r.lon_min) / r.cell_deg)), r.n_lon - 1)
        k = i * r.n_lon + j
        totals[k] = totals.get(k, 0) + 1
        recs.append((int(t // 14), k, m, z))
    order = sorted(range(r.n_cells), key=lambda k: (-totals.get(k, 0), k))[:cells]
    pos = {k: n for n, k in enumerate(order)}
    out = np.zeros((n_bins, cells, 4))
    esum = np.zeros((n_bins, cells))
    ezsum = np.zeros((n_bins, cells))
    for tb, k, m, z in recs:
        if k not in pos:
            continue
        q = pos[k]
        out[tb, q, 0] += m >= 3.29
        out[tb, q, 1] += 1
        esum[tb, q] += 10 ** (1.5 * m)
        ezsum[tb, q] += 10 ** (1.5 * m) * z
    for tb in range(n_bins):
        for q in range(cells):
            if esum[tb, q] > 0:
                out[tb, q, 2] = math.log10(esum[tb, q]) / 1.5
                out[tb, q, 3] = ezsum[tb, q] / esum[tb, q]
    return out, order


def test_fortnightly_against_slow_loop() -> None:
    r = Region(lat_min=33.0, lat_max=34.0, lon_min=-117.0, lon_max=-116.0, end=datetime.date(1951, 12, 31))
    cat = simulate(Etas(mu=1.0), r, 5)
    assert len(cat) > 100
    feats = fortnightly(cat, r, cells=30)
    slow, order = _slow_grid(cat, r, 30)
    assert feats.values.shape == (math.ceil(r.n_days / 14), 30, 4)
    assert feats.values.dtype == np.float32
    assert feats.cell_index.tolist() == order
    np.testing.assert_allclose(feats.values, slow, rtol=1e-5, atol=1e-4)
    assert feats.bin_start_day[1] == 14
    assert feats.feature_names[1] == "multiplicity"


def test_fortnightly_hand_example() -> None:
    r = Region(end=datetime.date(1950, 1, 28))  # 28 days: two bins
    cat = Catalogue(
        time=np.array([0.5, 1.0, 20.0]),
        lat=np.array([32.05, 32.05, 35.95]),
        lon=np.array([-119.95, -119.95, -114.05]),
        depth=np.array([5.0, 10.0, 3.0]),
        magnitude=np.array([3.0, 4.0, 2.6]),
        generation=np.zeros(3, dtype=np.int64),
    )
    f = fortnightly(cat, r, cells=3)
    assert f.cell_index.tolist() == [0, 2399, 1]  # tie at zero broken by index
    e3, e4 = 10 ** 4.5, 10**6.0
    np.testing.assert_allclose(f.values[0, 0], [1, 2, math.log10(e3 + e4) / 1.5, (5 * e3 + 10 * e4) / (e3 + e4)], rtol=1e-6)
    np.testing.assert_allclose(f.values[1, 1], [0, 1, 2.6, 3.0], rtol=1e-6)
    assert np.all(f.values[1, 0] == 0) and np.all(f.values[:, 2] == 0)


def test_default_configuration_fast_and_sized() -> None:
    t0 = time.perf_counter()
    cat = simulate(Etas(), Region(), 0)
    feats = fortnightly(cat, Region())
    assert time.perf_counter() - t0 < 15
    assert 3e4 < len(cat) < 3e5
    assert feats.values.shape == (1827, 500, 4)
    assert np.isfinite(feats.values).all()
    assert abs(gutenberg_richter_b(cat.magnitude, 2.5) - 1.0) < 0.05
    assert replace(Etas(), mu=1.0).mu == 1.0
