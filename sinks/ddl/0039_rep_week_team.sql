-- rep_week_activity (0011) took a week's team with any(). Within an org period the team is the
-- period's, but a rep the org does not cover has one row per week with the teams its events
-- name: for a rep who moved teams that week, either could come out, one read to the next
-- (rep_week_vs_target reads it: a team's weekly digest, the variation report). Now: the team of
-- the rep's latest event of the week, ties by name; the org's team as before. Otherwise the
-- same text.
CREATE OR REPLACE VIEW {db}.rep_week_activity AS
SELECT
    tenant,
    rep_id,
    argMax(org_team_id, (occurred_at, org_team_id)) AS team_id,
    any(org_role) AS role,
    period_from,
    any(period_to) AS period_to,
    toDateTime64(toMonday(occurred_at), 3, 'UTC') AS week_start,
    countIf(type = 'call' AND direction = 'outbound') AS call_attempts,
    countIf(type = 'call' AND direction = 'outbound' AND outcome = 'connected')
        AS connected_calls,
    countIf(type = 'email' AND email_action = 'sent') AS emails_sent,
    countIf(type = 'meeting' AND meeting_status = 'held') AS meetings_held
FROM {db}.activities_in_org
GROUP BY tenant, rep_id, period_from, week_start;
