-- rule_cadences_behind (0013) picked the rep's team with any() and the next channel with
-- topK(1): with a rep's prospects in two teams (a rep who moved teams within the 90 days) or two
-- channels next equally often, either could come out, one evaluation to the next. The team is a
-- label of the "Cadence behind" alert (a new alert instance, maybe another manager, when it
-- changes) and the channel is in the coaching message. Now: the team of the rep's most recently
-- started prospect in the cadence, and the channel next for the most behind prospects, ties
-- by name. Otherwise the same rows and columns.
CREATE OR REPLACE VIEW {db}.rule_cadences_behind AS
SELECT * EXCEPT (behind_next)
FROM
(
    SELECT c.tenant AS tenant, c.rep_id AS rep_id,
           argMax(c.team_id, (c.started_at, c.team_id)) AS team_id,
           c.cadence_id AS cadence_id, any(p.plan_version) AS plan_version, count() AS active,
           countIf(c.steps_behind >= p.cadence_behind_steps) AS behind,
           maxIf(c.steps_behind, c.steps_behind >= p.cadence_behind_steps) AS worst,
           groupArrayIf(c.next_channel, c.steps_behind >= p.cadence_behind_steps) AS behind_next,
           arraySort(x -> (-x.2, x.1), arrayMap(ch -> (ch, countEqual(behind_next, ch)),
                                                arrayDistinct(behind_next)))[1].1 AS next_channel,
           countIf(c.steps_behind >= p.cadence_behind_steps AND c.skipped_calls > 0)
               AS skipping_calls,
           any(p.cadence_behind_steps) AS threshold_steps,
           any(p.cadence_behind_min_prospects) AS min_prospects
    FROM {db}.cadence_progress(tenant = {tenant:String}, rep = '',
                               now = {now:DateTime64(3, 'UTC')}) AS c
    INNER JOIN {db}.plan_at(tenant = {tenant:String}, now = {now:DateTime64(3, 'UTC')}) AS p
        ON c.tenant = p.tenant
    WHERE c.active
    GROUP BY c.tenant, c.rep_id, c.cadence_id
    HAVING behind >= any(p.cadence_behind_min_prospects)
);
