"""The soak's RSS trend (a least-squares slope, so a steady climb shows and noise does not);
freshness's lag profile (when in the run the slow messages were sent)."""

from __future__ import annotations

from touchline.bench.runs import lag_profile, rss_trend


def test_a_steady_climb_is_its_slope_per_ten_minutes():
    series = [(float(t), 400.0 + t * 0.01) for t in range(0, 1200, 5)]  # 0.01 MB/s
    assert rss_trend(series, 600) == 6.0


def test_a_flat_series_with_noise_has_no_trend():
    series = [(float(t), 420.0 + (3 if (t // 5) % 2 else -3)) for t in range(0, 1200, 5)]
    assert abs(rss_trend(series, 600)) < 0.5


def test_too_few_samples_give_no_trend():
    assert rss_trend([(0.0, 1.0), (5.0, 2.0), (700.0, 3.0)], 600) is None


def test_the_lag_profile_says_when_the_slow_messages_were_sent():
    # 100 messages a second for 30 s, 0.5 s each, except a stall of the last second
    sent = [1000.0 + i / 100 for i in range(3000)]
    lags = [0.5 if i < 2900 else 1.2 - (i - 2900) / 500 for i in range(3000)]
    profile = lag_profile(sent, lags)
    assert profile["max_lag_by_second_s"] == [0.5] * 29 + [1.2]
    assert profile["slowest_1pct_sent_at_s"] == [29]
