-- `prospect_dispositions` (0010) was kept for "My prospects due a touch", which reads the
-- cadence rule views since 0013 (a cadence's exits come from `prospect_exits`, 0033). Nothing
-- in touchline has read it since, and every insert into `activities` still fed it: its view
-- was one of the nine each insert analyses, plans, writes a part for and merges later
-- (~5-7 ms of the store's CPU per insert of 1-5,000 rows; docs/performance.md, the
-- 2026-12-07 09:32 section). The view and its table go. A plain view of the same name and
-- columns keeps queries written against it working (read with `max(last_at)`, as before);
-- it is computed from the disposition rows of `activities` when it is read.

DROP VIEW IF EXISTS {db}.prospect_dispositions_mv;

DROP TABLE IF EXISTS {db}.prospect_dispositions;

CREATE VIEW IF NOT EXISTS {db}.prospect_dispositions AS
SELECT tenant, prospect_id, disposition, max(occurred_at) AS last_at
FROM {db}.activities
WHERE type = 'disposition'
GROUP BY tenant, prospect_id, disposition
