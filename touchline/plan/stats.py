"""Small statistics for the Improve reports: proportions with Wilson score intervals."""

from __future__ import annotations

import math
from dataclasses import dataclass

#: z for a two-sided 95% interval
Z95 = 1.959963984540054


@dataclass(frozen=True)
class Proportion:
    """`hits` of `n`, with its Wilson score interval."""

    hits: int
    n: int
    low: float
    high: float

    @property
    def rate(self) -> float:
        """Hits / n (0 when n is 0)."""
        return self.hits / self.n if self.n else 0.0

    def __str__(self) -> str:
        if not self.n:
            return "-"
        return f"{self.hits}/{self.n} {self.rate:.1%} [{self.low:.1%}, {self.high:.1%}]"


def wilson(hits: int, n: int, z: float = Z95) -> Proportion:
    """Wilson score interval of hits/n (0..1 bounds; n=0 gives the whole [0, 1]).

    Raises:
        ValueError: hits is negative or larger than n.
    """
    if n < 0 or hits < 0 or hits > n:
        raise ValueError(f"need 0 <= hits <= n, got hits={hits}, n={n}")
    if n == 0:
        return Proportion(0, 0, 0.0, 1.0)
    p = hits / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return Proportion(hits, n, max(0.0, centre - half), min(1.0, centre + half))


def clearly_different(a: Proportion, b: Proportion) -> bool:
    """True when the two 95% intervals do not overlap (a conservative test)."""
    return bool(a.n and b.n and (a.high < b.low or b.high < a.low))
