"""Property-based run of the whole API from its OpenAPI document, against the app under uvicorn.

Every operation, schemathesis' default checks, a bounded number of examples per operation
(PGBE_SCHEMATHESIS_EXAMPLES, default 10), once without a token and once with an admin's.
"""

from __future__ import annotations

import os
import re

import pytest
import schemathesis
from fastapi.routing import APIRoute, iter_route_contexts
from hypothesis import HealthCheck, Phase, settings
from schemathesis.config import SchemathesisConfig

from app.main import app
from pgbe.resources.cursors import CURSOR_PATTERN
from pgbe.testing.servers import AppServer
from tests.fault_fixtures import FaultCluster

EXAMPLES = int(os.environ.get("PGBE_SCHEMATHESIS_EXAMPLES", "10"))
POSITIVE = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]  # schemathesis' defaults
NEGATIVE = ["400", "401", "403", "404", "405", "406", "409", "415", "422", "428", "429", "5xx"]
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            # If-Match is a precondition on the row's state, which no schema can describe:
            # a stale or unknown tag is 412 whether the header is well-formed or not.
            "positive_data_acceptance": {"expected-statuses": [*POSITIVE, "412"]},
            "negative_data_rejection": {"expected-statuses": [*NEGATIVE, "412"]},
        },
        "operations": [
            {
                # The password policy (two kinds of characters, not the e-mail) is checked in code,
                # and email-validator refuses special-use domains (.test) that `format: email` allows.
                "include-path-regex": "^/(users|auth/register|auth/password|auth/email)$",
                "include-method": "POST",
                "checks": {"positive_data_acceptance": {"expected-statuses": [*POSITIVE, "412", "422"]}},
            },
            {
                "include-path-regex": "^/users/\\{id\\}$",
                "include-method": "PATCH",
                "checks": {"positive_data_acceptance": {"expected-statuses": [*POSITIVE, "412", "422"]}},
            },
        ],
    }
)
schema = schemathesis.openapi.from_dict(app.openapi(), config=CONFIG)
bounded = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure is reported as found
    suppress_health_check=list(HealthCheck),
)


def _without_minted_cursor(case: schemathesis.Case) -> schemathesis.Case:
    """Drop a well-formed `cursor`: a cursor is signed by the server, so one made up is refused (422).

    Like If-Match's 412, no schema can describe which cursors exist; a malformed one (that the
    schema already refuses) stays, for the negative checks.
    """
    query = case.query or {}
    cursor = query.get("cursor")
    if isinstance(cursor, str) and re.fullmatch(CURSOR_PATTERN, cursor):
        del query["cursor"]
    return case


@schema.parametrize()
@bounded
def test_api_without_token_conforms(case: schemathesis.Case, load_app: AppServer) -> None:
    _without_minted_cursor(case).call_and_validate(base_url=load_app.url)


@schema.parametrize()
@bounded
def test_api_with_admin_token_conforms(
    case: schemathesis.Case, load_app: AppServer, fault_cluster: FaultCluster
) -> None:
    headers = fault_cluster.bearer("admin")
    _without_minted_cursor(case).call_and_validate(base_url=load_app.url, headers=headers)


def test_schema_covers_every_route() -> None:
    operations = [result.ok() for result in schema.get_all_operations()]
    paths = {op.path for op in operations}
    assert {"/categories", "/products/{id}", "/auth/token", "/health/ready"} <= paths
    assert len(operations) >= 20
    routes = {
        (method, context.path_format)
        for context in iter_route_contexts(app.routes)  # included routers too
        if isinstance(context.original_route, APIRoute) and context.original_route.include_in_schema
        for method in context.methods
    }
    assert {(op.method.upper(), op.path) for op in operations} == routes


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
