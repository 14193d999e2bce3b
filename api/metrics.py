"""Prometheus metrics of one app: requests and latency by route and status, index size, answers.

Each app owns its registry (no module-level collectors), so several apps in one process, as in
the tests, count separately. Index size is read from the live snapshot at scrape time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector

from rag.errors import RagError
from rag.pipeline import Pipeline

# Seconds: from a cached /healthz to an /ask that waits behind a large write.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
UNMATCHED_ROUTE = "unmatched"  # 404s for unknown paths share one label, whatever the path
# Any other method a client invents shares one label too: labels must stay few.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class IndexCollector:
    """`rag_index_articles` and `rag_index_chunks` of the snapshot the app serves, if any."""

    def __init__(self, pipeline_of: Callable[[], Pipeline | None]) -> None:
        self.pipeline_of = pipeline_of

    def _families(self) -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily("rag_index_articles", "Articles in the live index snapshot."),
            GaugeMetricFamily("rag_index_chunks", "Chunks (FAISS vectors) in the live snapshot."),
        )

    def describe(self) -> Iterator[Metric]:
        yield from self._families()

    def collect(self) -> Iterator[Metric]:
        pipeline = self.pipeline_of()
        if pipeline is None:  # still starting
            return
        try:
            snapshot = pipeline.snapshot
        except RagError:  # no index yet, or a damaged one: /readyz says which
            return
        articles, chunks = self._families()
        articles.add_metric([], len(snapshot.articles))
        chunks.add_metric([], len(snapshot.chunks))
        yield articles
        yield chunks


@dataclass(frozen=True)
class Metrics:
    registry: CollectorRegistry
    requests: Counter
    latency: Histogram
    answers: Counter

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        method = method if method in KNOWN_METHODS else "other"
        labels = {"method": method, "route": route, "status": str(status)}
        self.requests.labels(**labels).inc()
        self.latency.labels(**labels).observe(seconds)

    def observe_answer(self, abstained: bool) -> None:
        self.answers.labels(outcome="abstained" if abstained else "answered").inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


def create_metrics(pipeline_of: Callable[[], Pipeline | None]) -> Metrics:
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)  # process_resident_memory_bytes, CPU, open fds
    registry.register(IndexCollector(pipeline_of))
    labels = ("method", "route", "status")
    return Metrics(
        registry=registry,
        requests=Counter("rag_http_requests", "HTTP requests answered.", labels, registry=registry),
        latency=Histogram(
            "rag_http_request_duration_seconds",
            "Time from a request's arrival to the end of its response.",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=registry,
        ),
        answers=Counter(
            "rag_answers",
            "POST /ask results: an answer or an abstention.",
            ("outcome",),
            registry=registry,
        ),
    )
