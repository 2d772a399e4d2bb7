-- bench/insert_cost.py variant: `activities` alone, every materialized view fed by its inserts
-- and its projection dropped (the lower bound of an insert's cost)
DROP VIEW {db}.touch_counts_mv;
DROP VIEW {db}.activity_by_rep_hour_mv;
DROP VIEW {db}.arrivals_by_source_second_mv;
DROP VIEW {db}.account_activity_mv;
DROP VIEW {db}.prospect_exits_mv;
DROP VIEW {db}.stage_names_mv;
DROP VIEW {db}.opportunity_activity_mv;
DROP VIEW {db}.cadence_touches_mv;
ALTER TABLE {db}.activities DROP PROJECTION by_rep;
