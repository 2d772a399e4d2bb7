"""Which rules a leader's Coach pass judges (touchline.plan.rules `judged_on_pass`)."""

from __future__ import annotations

from touchline.plan.rules import IN_TURN, KINDS, judged_on_pass


def test_every_pass_judges_speed_to_lead_and_one_other_rule_in_turn():
    turns = [[r.kind for r in judged_on_pass(n)] for n in range(2 * len(IN_TURN))]
    assert all("lead_sla" in kinds and len(kinds) == 2 for kinds in turns), turns
    others = [next(k for k in kinds if k != "lead_sla") for kinds in turns]
    first = others[:len(IN_TURN)]
    assert sorted(first) == sorted(k for k in KINDS if k != "lead_sla")  # each once in 6 passes
    assert others[len(IN_TURN):] == first  # then the same order again
    assert len(IN_TURN) == 6
