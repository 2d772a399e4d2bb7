"""Which lane a read goes to: the quick one only for shapes known to have run within QUICK_MS."""

from __future__ import annotations

from touchline.sinks.read_lanes import NEWEST_WEIGHT, QUICK_LANE, QUICK_MS, READERS_LANE, ReadCosts

PANEL = "SELECT count() FROM touchline.activities WHERE occurred_at >= toDateTime({})"


def test_a_shape_is_quick_once_it_ran_within_the_limit_whatever_its_numbers():
    costs = ReadCosts()
    assert costs.lane(PANEL.format(1733356800)) == READERS_LANE  # not seen yet
    costs.record(PANEL.format(1733356800), 3.0)
    assert costs.lane(PANEL.format(1733357100)) == QUICK_LANE  # the next refresh
    assert costs.lane("SELECT 1 FROM touchline.accounts") == READERS_LANE


def test_the_weighted_mean_moves_a_shape_off_after_one_heavy_run_and_back_after_cheap_ones():
    assert (QUICK_MS, NEWEST_WEIGHT) == (50.0, 0.5)  # the numbers below follow from these
    costs = ReadCosts()
    costs.record(PANEL.format(1), 50.0)  # at the limit: quick
    assert costs.lane(PANEL.format(1)) == QUICK_LANE
    costs.record(PANEL.format(2), 101.0)  # mean 75.5
    assert costs.lane(PANEL.format(3)) == READERS_LANE
    costs.record(PANEL.format(4), 1.0)  # mean 38.25
    assert costs.lane(PANEL.format(5)) == QUICK_LANE


def test_only_the_most_recently_run_shapes_are_kept():
    costs = ReadCosts(shapes=2)
    for table in ("a", "b"):
        costs.record(f"SELECT 1 FROM {table}", 1.0)
    costs.record("SELECT 1 FROM a", 1.0)  # a ran last: b is the oldest
    costs.record("SELECT 1 FROM c", 1.0)
    assert [costs.lane(f"SELECT 1 FROM {t}") for t in "abc"] == \
        [QUICK_LANE, READERS_LANE, QUICK_LANE]
