"""The request histogram: a request counted by `HttpMetrics` as `Histogram.observe` would count it."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram

from pgbe.observability.metrics import LATENCY, HttpMetrics


def _samples(histogram: Histogram, *labels: str) -> list[tuple[str, float]]:
    [metric] = histogram.collect()
    return [
        (s.name.rsplit("_", 1)[-1] + str(s.labels.get("le")), s.value)
        for s in metric.samples
        if not s.name.endswith("_created") and all(v in s.labels.values() for v in labels)
    ]


def test_http_metrics_count_each_duration_in_the_buckets_observe_would() -> None:
    durations = [0.0001, 0.005, 0.0050001, 0.3, 10.0, 10.5, 99.0]
    reference = Histogram(
        "reference_seconds", "", ["route"], buckets=LATENCY._upper_bounds[:-1], registry=CollectorRegistry()
    )
    metrics = HttpMetrics()
    for seconds in durations:
        reference.labels("/metrics-test").observe(seconds)
        metrics.observe("GET", "/metrics-test", 200, seconds)

    assert _samples(LATENCY, "/metrics-test") == _samples(reference, "/metrics-test")
