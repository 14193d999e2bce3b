"""`rag serve`: the HTTP service under uvicorn (registered into `rag` by rag/cli.py)."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from api.config import OpsSettings
from api.logs import configure_logging

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
MAX_PORT = 65535


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app, prepare_index
    from rag.cli import _settings
    from rag.heap import limit_arenas
    from rag.pipeline import open_pipeline

    configure_logging(args.log_level, OpsSettings().log_json)
    settings = _settings(args)
    limit_arenas(settings.malloc_arenas)  # before any thread starts (rag/heap.py)
    if args.replicas:
        from rag.cluster.serve import run_replicas

        run_replicas(
            settings,
            host=args.host,
            port=args.port,
            replicas=args.replicas,
            address=args.ray,
            cpus_per_replica=args.cpus_per_replica,
        )
        return 0
    # Load the model and the index before binding the port, so a bad model or a damaged
    # index is one line on stderr (rag/cli.py prints RagError) instead of a traceback.
    pipeline = open_pipeline(settings)
    prepare_index(pipeline)
    if settings.token() is None:
        logging.getLogger("api").warning("RAG_API_TOKEN is not set: write endpoints answer 403")
    app = create_app(settings, pipeline)
    # Our middleware writes the access lines (with request ids and timings); uvicorn's own
    # logging setup would replace the handlers configure_logging installed.
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        log_config=None,
        access_log=False,
        server_header=False,
    )
    return 0


def port_number(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_PORT:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (1-{MAX_PORT})")
    return int(text)


def register(sub: Any, add: Any) -> None:
    p = add("serve", cmd_serve, "serve the HTTP API and the page to ask from")
    p.add_argument("--host", default=DEFAULT_HOST, help=f"address to bind (default {DEFAULT_HOST})")
    p.add_argument("--port", type=port_number, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}")
    p.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    p.add_argument(
        "--replicas",
        type=int,
        default=0,
        help="run N API replicas on Ray Serve over RAG_STORE=postgres (the cluster extra)",
    )
    p.add_argument("--ray", metavar="ADDRESS", help="--replicas: the Ray cluster (default: local)")
    p.add_argument("--cpus-per-replica", type=float, default=1.0, help="--replicas: default 1")
