-- bench/insert_cost.py variant: the six views an insert into `activities` fed for the coaching
-- rules and the stage-name checks (0010's prospect_dispositions, 0021, 0033, 0034, 0044, 0047)
-- dropped: what they cost an insert together (the panels' three views and the projection stay)
DROP VIEW IF EXISTS {db}.account_activity_mv;
DROP VIEW IF EXISTS {db}.prospect_dispositions_mv;
DROP VIEW IF EXISTS {db}.prospect_exits_mv;
DROP VIEW IF EXISTS {db}.stage_names_mv;
DROP VIEW IF EXISTS {db}.opportunity_activity_mv;
DROP VIEW IF EXISTS {db}.cadence_touches_mv;
