"""The soak's RSS trend: a least-squares slope, so a steady climb shows and noise does not."""

from __future__ import annotations

from touchline.bench.runs import rss_trend


def test_a_steady_climb_is_its_slope_per_ten_minutes():
    series = [(float(t), 400.0 + t * 0.01) for t in range(0, 1200, 5)]  # 0.01 MB/s
    assert rss_trend(series, 600) == 6.0


def test_a_flat_series_with_noise_has_no_trend():
    series = [(float(t), 420.0 + (3 if (t // 5) % 2 else -3)) for t in range(0, 1200, 5)]
    assert abs(rss_trend(series, 600)) < 0.5


def test_too_few_samples_give_no_trend():
    assert rss_trend([(0.0, 1.0), (5.0, 2.0), (700.0, 3.0)], 600) is None
