"""What a paired comparison can and cannot show: its p-value, Holm's adjustment over a family of claims, and
the smallest true difference it could detect (power).

Each claim row of claims.md is a one-sample question about the mean of per-(task, seed) paired differences.
- ``p_value``: the two-sided one-sample t-test of mean 0 (scipy.stats.ttest_1samp), the test the row's 95%
  t-interval inverts (the interval excludes 0 exactly when p < 0.05).
- ``holm``: Holm's step-down adjustment (Holm 1979) over the rows judged together, so the chance that any row
  of the family "holds" by luck stays at 5%: sort the m p-values, multiply the i-th smallest by (m - i + 1),
  keep them non-decreasing, cap at 1.
- ``detectable``: the smallest true mean difference that this n and this spread (the sample standard deviation)
  would detect with 80% power in the same two-sided 5% t-test, solved on the noncentral t distribution. A row
  whose interval holds 0 rules out only differences beyond its bounds; one with a large ``detectable`` was never
  able to see a difference of the size the papers claim.
"""

from __future__ import annotations

import math
import statistics

from scipy import optimize, stats

ALPHA = 0.05
POWER = 0.80


def p_value(diffs: list[float]) -> float | None:
    """Two-sided p of mean(diffs) == 0, or None with fewer than 3 values. Zero spread: 0 or 1, exactly."""
    if len(diffs) < 3:
        return None
    if statistics.stdev(diffs) == 0:
        return 1.0 if statistics.mean(diffs) == 0 else 0.0
    return float(stats.ttest_1samp(diffs, 0.0).pvalue)


def holm(ps: dict[str, float | None]) -> dict[str, float | None]:
    """Holm-adjusted p-values over the family ``ps`` (None entries take no part and stay None)."""
    named = sorted(((p, k) for k, p in ps.items() if p is not None), key=lambda pk: (pk[0], pk[1]))
    m, out, running = len(named), {k: None for k in ps}, 0.0
    for i, (p, k) in enumerate(named):
        running = max(running, min(1.0, (m - i) * p))
        out[k] = running
    return out


def detectable(diffs: list[float], alpha: float = ALPHA, power: float = POWER) -> float | None:
    """The smallest |true mean difference| detected with ``power`` by the two-sided t-test at ``alpha`` with this
    n and spread; None with fewer than 3 values, 0.0 with no spread."""
    n = len(diffs)
    if n < 3:
        return None
    sd = statistics.stdev(diffs)
    if sd == 0:
        return 0.0
    df, crit = n - 1, float(stats.t.ppf(1 - alpha / 2, n - 1))

    def shortfall(ncp: float) -> float:  # power at noncentrality ncp, minus the target
        return float(stats.nct.sf(crit, df, ncp) + stats.nct.cdf(-crit, df, ncp)) - power

    high = crit + 2.0
    while shortfall(high) < 0:  # widen until the bracket holds the target (nct is NaN far out: never 100)
        high *= 1.5
    ncp = optimize.brentq(shortfall, 0.0, high)
    return ncp * sd / math.sqrt(n)


def interval(diffs: list[float]) -> tuple[float, float, float] | None:
    """(mean, low, high) of the 95% t-interval, or None with fewer than 3 values."""
    if len(diffs) < 3:
        return None
    mean, sem = statistics.mean(diffs), statistics.stdev(diffs) / len(diffs) ** 0.5
    half = float(stats.t.ppf(0.975, len(diffs) - 1)) * sem
    return mean, mean - half, mean + half


def verdict(ci: tuple[float, float, float] | None, claimed_sign: int, margin: float | None = None) -> str:
    """holds, fails or inconclusive (sdp/report/claims.py's docstring); "negligible" where the interval lies within
    +-``margin``."""
    if ci is None:
        return "inconclusive (fewer than 3 units)"
    _, low, high = ci
    if margin is not None and -margin < low and high < margin:
        return "negligible"
    if (low > 0 and claimed_sign > 0) or (high < 0 and claimed_sign < 0):
        return "holds"
    if (high < 0 and claimed_sign > 0) or (low > 0 and claimed_sign < 0):
        return "fails"
    return "inconclusive"


def none_differ(diffs: list[float]) -> str:
    """' (no difference in any unit)' where 3 or more units all differ by 0 (the frontier's "+0.00 [+0.00, +0.00]
    inconclusive" said nothing of it, where a secondary row said it: probe round 38, noticed); else ''."""
    return " (no difference in any unit)" * (len(diffs) >= 3 and not any(diffs))
