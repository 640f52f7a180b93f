"""rxdesk benchmarks; see bench/__main__.py."""

import statistics


def median_of(samples: list[float]) -> float:
    return statistics.median(samples)
