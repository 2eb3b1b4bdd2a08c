"""Check that pgbe and the floor answer a case with the same status and body before measuring."""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable
from typing import Any

import httpx

from bench.cases import Case

# Values a write sets from the clock or a sequence: compared by type, not by value.
VOLATILE = frozenset({"created_at", "updated_at"})


def _send(base_url: str, case: Case, token: str | None) -> httpx.Response:
    headers = dict(case.headers)
    if case.authenticated and token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.request(
        case.method, base_url + case.check_path(), content=case.check_body(), headers=headers, timeout=30
    )


def _mask(value: Any, *, mask_id: bool) -> Any:
    if isinstance(value, dict):
        return {
            k: (type(v).__name__ if k in VOLATILE or (mask_id and k == "id") else _mask(v, mask_id=False))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_mask(v, mask_id=False) for v in value]
    return value


def _cursors_by_presence(response: httpx.Response) -> Any:
    """A list body with its signed `next`/`prev` cursors reduced to whether they are there.

    The floor cannot sign pgbe's cursors; it answers placeholders where pgbe answers a cursor.
    """
    try:
        body = response.json()
    except json.JSONDecodeError:
        return response.content
    if isinstance(body, dict) and ("next" in body or "prev" in body):
        return {k: (v is not None if k in ("next", "prev") else v) for k, v in body.items()}
    return body


def _diff(a: str, b: str) -> str:
    lines = difflib.unified_diff(a.splitlines(), b.splitlines(), "pgbe", "floor", lineterm="", n=1)
    return "\n".join(list(lines)[:40])


def compare_responses(
    pgbe_url: str, floor_url: str, case: Case, token: str | None, *, between: Callable[[], None]
) -> list[str]:
    """Send the case's check request to both servers; return the differences (empty when alike).

    Reads must match byte for byte. Writes are sent to pgbe, the database is restored (`between`),
    then sent to the floor; their JSON must match except the timestamps (and the new row's id).
    """
    a = _send(pgbe_url, case, token)
    if case.writes:
        between()
    b = _send(floor_url, case, token)
    problems = []
    if a.status_code != b.status_code:
        problems.append(
            f"status: pgbe {a.status_code}, floor {b.status_code}: {a.text[:300]} | {b.text[:300]}"
        )
    if not 200 <= a.status_code < 300:
        problems.append(f"pgbe answered {a.status_code}: {a.text[:500]}")
    if a.headers.get("content-type") != b.headers.get("content-type"):
        problems.append(
            f"content-type: pgbe {a.headers.get('content-type')}, floor {b.headers.get('content-type')}"
        )
    if not case.writes:
        if a.content != b.content and _cursors_by_presence(a) != _cursors_by_presence(b):
            problems.append(
                "bodies differ:\n" + _diff(a.text, b.text) + f"\npgbe: {a.text[:300]}\nfloor: {b.text[:300]}"
            )
        return problems
    try:
        ja, jb = (
            _mask(a.json(), mask_id=case.method == "POST"),
            _mask(b.json(), mask_id=case.method == "POST"),
        )
    except json.JSONDecodeError as exc:
        return [*problems, f"not JSON: {exc}"]
    if ja != jb:
        problems.append("bodies differ:\n" + _diff(json.dumps(ja, indent=1), json.dumps(jb, indent=1)))
    if ("location" in a.headers) != ("location" in b.headers):
        problems.append(f"Location: pgbe {a.headers.get('location')}, floor {b.headers.get('location')}")
    return problems
