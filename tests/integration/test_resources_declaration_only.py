"""A `Resource` is a declaration only: `register()` makes its runtime, so one declaration serves two apps."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from app.config.database import database
from app.config.settings import get_settings
from app.models import Category
from app.schemas.category import CategoryRead
from pgbe.http.problems import install_problem_handlers
from pgbe.resources import Resource, ResourceRegistry, ResourceRuntime, register
from pgbe.testing.api import rolled_back_client


async def test_one_declaration_serves_two_applications_with_their_own_runtimes() -> None:
    shelves = Resource(Category, read=CategoryRead, path="/shelves")
    before = dict(vars(shelves))
    apps, registries = [FastAPI(), FastAPI()], []
    for app in apps:
        install_problem_handlers(app)
        registries.append(register(app, shelves, registry=ResourceRegistry(database, get_settings())))
    first, second = (registry.runtimes[0] for registry in registries)
    assert first is not second
    assert first.resource is second.resource is shelves
    assert vars(shelves) == before  # registering stored nothing on the declaration
    assert not any(isinstance(v, ResourceRegistry | ResourceRuntime) for v in vars(shelves).values())
    for app in apps:
        async with rolled_back_client(app, database) as client:
            await client.conn.execute("INSERT INTO categories (name) VALUES ('Declared once')")
            page = await client.get("/shelves", params={"name": "Declared once"})
            assert page.status_code == 422  # no filter declared: refused, by each app alike
            assert (await client.get("/shelves")).json()["total"] >= 1


def test_resource_takes_no_controller() -> None:
    # `controller=` was stored and never read; it is gone rather than silently ignored
    with pytest.raises(TypeError, match="controller"):
        Resource(Category, read=CategoryRead, controller=object())  # type: ignore[call-arg]
