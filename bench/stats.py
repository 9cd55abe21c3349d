"""Percentiles and a text histogram, so a latency distribution is seen, not just summarised."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sequence."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summary(name: str, values_ms: Sequence[float]) -> str:
    return (
        f"{name:<28} n={len(values_ms):<4} p50={percentile(values_ms, 50):7.2f} ms  "
        f"p90={percentile(values_ms, 90):7.2f} ms  p99={percentile(values_ms, 99):7.2f} ms  "
        f"max={max(values_ms):7.2f} ms"
    )


def histogram(values_ms: Sequence[float], *, width: int = 50, buckets: int = 12) -> str:
    """Log-spaced buckets from the smallest to the largest value, one bar per bucket."""
    low = max(min(values_ms), 0.01)
    high = max(max(values_ms), low * 1.01)
    ratio = (high / low) ** (1 / buckets)
    edges = [low * ratio**i for i in range(buckets + 1)]
    counts = [0] * buckets
    for value in values_ms:
        index = min(buckets - 1, max(0, int(math.log(max(value, low) / low, ratio)))) if ratio > 1 else 0
        counts[index] += 1
    peak = max(counts) or 1
    lines = []
    for i, count in enumerate(counts):
        bar = "#" * round(count / peak * width)
        lines.append(f"  {edges[i]:8.2f} - {edges[i + 1]:8.2f} ms | {bar} {count}")
    return "\n".join(lines)
