"""`rag serve --replicas N`: N stateless replicas of the HTTP API on Ray Serve, one PostgreSQL.

Each replica is a Ray actor that builds the pipeline once (the model loaded once per replica)
and serves the same FastAPI app as `rag serve`, token and limits included. Ray Serve's proxy
on the head node spreads requests over the replicas, health-checks each one (`check_health`
reads the database's counts) and replaces one that dies or stops answering. The replicas
hold no index of their own: every read and write goes to the database, so any replica sees
every write at once.
"""

from __future__ import annotations

import time
from typing import Any

from rag.cluster.ingest import require_ray, settings_payload
from rag.settings import Settings

APP_NAME = "rag"
HEALTH_PERIOD_S = 5.0
HEALTH_TIMEOUT_S = 30.0


def replica_values(settings: Settings) -> dict[str, Any]:
    values = settings_payload(settings)
    values["api_token"] = settings.token()
    values["reload_check_s"] = -1  # nothing to follow: the database is the state
    return values


def build_app(settings: Settings, replicas: int, cpus_per_replica: float) -> Any:
    """The Serve application: `replicas` copies of the API deployment."""
    require_ray()
    from ray import serve

    @serve.deployment(
        name="Api",
        num_replicas=replicas,
        ray_actor_options={"num_cpus": cpus_per_replica},
        health_check_period_s=HEALTH_PERIOD_S,
        health_check_timeout_s=HEALTH_TIMEOUT_S,
        max_ongoing_requests=16,
    )
    @serve.ingress()
    class Api:
        def __init__(self, values: dict[str, Any]) -> None:
            from api.app import prepare_index
            from rag.pipeline import open_pipeline

            self.settings = Settings(**values)
            self.pipeline = open_pipeline(self.settings)
            prepare_index(self.pipeline)  # builds from the seeds when the database is empty

        def __serve_build_asgi_app__(self) -> Any:
            from api.app import create_app

            return create_app(self.settings, self.pipeline)

        def check_health(self) -> None:
            self.pipeline.info()  # raises when the database cannot be read

    return Api.bind(replica_values(settings))


def run_replicas(
    settings: Settings,
    *,
    host: str,
    port: int,
    replicas: int,
    address: str | None,
    cpus_per_replica: float = 1.0,
    blocking: bool = True,
) -> None:
    """Start Serve on the cluster at `address` (None: a local one) and run the API replicas."""
    if settings.store != "postgres":
        from rag.errors import RagError

        raise RagError("`rag serve --replicas` needs a shared store: set RAG_STORE=postgres")
    ray = require_ray()
    from ray import serve

    if not ray.is_initialized():
        ray.init(address=address, logging_level="ERROR")
    serve.start(http_options={"host": host, "port": port})
    serve.run(build_app(settings, replicas, cpus_per_replica), name=APP_NAME, route_prefix="/")
    while blocking:
        time.sleep(3600)
