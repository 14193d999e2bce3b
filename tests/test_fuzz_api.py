"""Fuzz every operation of the API from its own OpenAPI schema, with schemathesis.

Valid and invalid requests (schemathesis' positive and negative modes) go to the app in-process,
on the fake embedder, with the write token, so writes are fuzzed too. Every response must be
free of 5xx and match the schema: a documented status code, content type and body shape.
Examples per operation and mode: RAG_FUZZ_EXAMPLES (default 25); derandomized, so CI repeats.

Hypothesis drives schemathesis' strategies directly: its pytest plugin (`@schema.parametrize`)
does not run under pytest 9.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from rag.settings import Settings

pytestmark = pytest.mark.slow  # schemathesis over every operation

pytest_plugins = ["api_fixtures"]

MAX_EXAMPLES = int(os.environ.get("RAG_FUZZ_EXAMPLES", "25"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def runs() -> list[tuple[str, GenerationMode]]:
    """Every operation with valid inputs, and those that take inputs with invalid ones too.

    Read from the schema of an app that is built but never started (no model, no index), so a
    new route is fuzzed without anyone listing it here.
    """
    found = []
    for path, methods in create_app(Settings()).openapi()["paths"].items():
        for method, spec in methods.items():
            label = f"{method.upper()} {path}"
            found.append((label, GenerationMode.POSITIVE))
            if spec.get("parameters") or spec.get("requestBody"):
                found.append((label, GenerationMode.NEGATIVE))
    return found


@pytest.mark.parametrize(("label", "mode"), runs())
def test_operation_matches_its_schema(
    make_client: Callable[..., TestClient], auth: dict[str, str], label: str, mode: GenerationMode
) -> None:
    client = make_client()  # lifespan run: the index is built from the seeds
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    method, path = label.split(" ", 1)
    operation = schema[path][method]
    calls: list[int] = []

    @given(case=operation.as_strategy(mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case: schemathesis.Case) -> None:
        response = case.call_and_validate(headers=auth, checks=CHECKS)
        calls.append(response.status_code)

    fuzz()
    assert calls, f"no request was generated for {label} ({mode.value})"
