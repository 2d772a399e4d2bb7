"""Bad-input fuzzing (hypothesis): validation path, vendor mappings, the real pipeline."""

from __future__ import annotations

from hypothesis import HealthCheck, settings


def fuzz(max_examples: int) -> settings:
    """Settings of a fuzz test: N examples, no deadline (a shared CI box), no example DB."""
    return settings(max_examples=max_examples, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))
