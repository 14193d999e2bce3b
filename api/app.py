"""The FastAPI app: built by `create_app`, which loads the model and the index once, at start-up."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from starlette.concurrency import run_in_threadpool

from api.admission import ComputeSlots
from api.config import ApiSettings
from api.errors import install_error_handlers
from api.limits import BodySizeLimit
from api.metrics import create_metrics
from api.request_context import RequestContext
from api.routes import ask, docs, documents, health, metrics, page
from rag import __version__
from rag.errors import IndexNotFound, RagError
from rag.heap import limit_arenas
from rag.pipeline import Pipeline, open_pipeline
from rag.settings import Settings
from rag.store import Snapshot

log = logging.getLogger("api")


def prepare_index(pipeline: Pipeline) -> Snapshot | None:
    """Build the index from the seed articles when there is none, then load it (once).

    With neither an index nor seeds the server still starts: /readyz answers 503 until the
    first POST /documents creates the index.
    """
    store, seeds = pipeline.store, pipeline.settings.seeds_dir
    if not store.exists():
        if not seeds.is_dir():
            log.warning(
                "no index at %s and no seed folder at %s; POST /documents to start one",
                store.root,
                seeds,
            )
            return None
        log.info("no index at %s yet; building it from %s", store.root, seeds)
        report = pipeline.ensure_index()
        for problem in report.skipped if report else []:
            log.warning("skipped %s", problem)
    try:
        return pipeline.snapshot  # loaded on first use, then kept
    except IndexNotFound as exc:  # the seed folder held no article
        log.warning("%s", exc)
        return None


def _prepare_writes(pipeline: Pipeline) -> None:
    try:
        pipeline.prepare_writes()
    except Exception:  # the first write builds it then, and reports what is wrong
        log.exception("could not prepare for writes ahead of the first one")


def create_app(
    settings: Settings | None = None,
    pipeline: Pipeline | None = None,
    api_settings: ApiSettings | None = None,
) -> FastAPI:
    """The app; the pipeline (model + index) is built in the lifespan unless one is given."""
    settings = settings or (pipeline.settings if pipeline else Settings())
    api_settings = api_settings or settings

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        limit_arenas(api_settings.malloc_arenas)  # before the request threads start
        ready = app.state.pipeline or await run_in_threadpool(open_pipeline, settings)
        snapshot = await run_in_threadpool(prepare_index, ready)
        # the embedder's sessions load while the index opens; ready means both are
        await run_in_threadpool(ready.embedder.wait_ready)
        # and the answerer: the trained reader loads (on a fresh clone, exports itself: 20 s)
        # before the first question instead of during it
        try:
            await run_in_threadpool(lambda: ready.answerer)
        except RagError as exc:  # each /ask says so; /search still serves
            log.error("the answerer cannot load: %s", exc)
        app.state.pipeline = ready
        if snapshot is not None and api_settings.token() is not None:  # writes can come
            threading.Thread(
                target=_prepare_writes, args=(ready,), name="prepare-writes", daemon=True
            ).start()
        if snapshot is not None:
            log.info(
                "serving %d articles (%d chunks) from %s",
                len(snapshot.articles),
                len(snapshot.chunks),
                ready.store.root,
            )
        yield

    # Swagger UI and ReDoc from fastapi-offline's copies, so /docs and /redoc work offline.
    app = FastAPIOffline(
        title="conflict-rag",
        version=__version__,
        summary="Cited, extractive answers from conflict reporting.",
        lifespan=lifespan,
        favicon_url=page.FAVICON_URL,
        static_url=docs.DOCS_ASSETS_URL,
        redoc_url=None,  # api/routes/docs.py serves /redoc
    )
    app.state.pipeline = pipeline
    app.state.api_settings = api_settings
    app.state.compute_slots = ComputeSlots(api_settings.query_slots())
    app.state.metrics = create_metrics(lambda: app.state.pipeline)
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, limit=api_settings.max_body_bytes)
    if api_settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=api_settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    # Added last, so outermost: it sees every response, 413s and CORS refusals included.
    app.add_middleware(RequestContext, metrics=app.state.metrics)
    for module in (ask, docs, documents, health, metrics, page):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=page.STATIC_DIR), name="static")
    return app
