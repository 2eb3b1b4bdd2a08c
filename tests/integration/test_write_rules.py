"""One set of write rules per model, whatever path writes it: generated endpoint, controller, admin site."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy.orm import Session

from app.config.database import database
from app.config.settings import get_settings
from app.controllers.product import product_controller
from app.controllers.user import user_controller
from app.models import Product, Tag, User
from app.schemas.product import ProductCreate, ProductRead, ProductUpdate
from pgbe.errors import ConflictError, ValidationError
from pgbe.http.problems import install_problem_handlers
from pgbe.query.computed import Count, Pluck
from pgbe.resources import Permissions, Resource, ResourceRegistry, register
from pgbe.schemas import CreateSchema
from pgbe.testing.api import ApiClient, rolled_back_client
from pgbe.writes import writes_for
from tests.admin_fixtures import EMAILS
from tests.integration.test_admin_users import _form

Bearer = Callable[[int, str], dict[str, str]]


class ProductWithVersion(CreateSchema):
    name: str
    price: int
    version: int


def test_write_rules_managed_columns_are_the_database_ones() -> None:
    assert writes_for(Product).managed == {"id", "version", "created_at", "updated_at"}


def test_declare_resource_body_with_managed_column_raises() -> None:
    with pytest.raises(ValueError, match="set by the database"):
        Resource(Product, read=ProductRead, create=ProductWithVersion)


@pytest.mark.parametrize("field", ["version", "id", "created_at"])
def test_controller_managed_column_raises_validation_error_and_writes_nothing(
    db: Session, field: str
) -> None:
    lamp = product_controller.create(db, obj_in={"name": "Lamp", "price": 25})
    value = "2020-01-01T00:00:00Z" if field == "created_at" else 99
    with pytest.raises(ValidationError) as info:
        product_controller.update(db, db_obj=lamp, obj_in={"price": 1, field: value})
    assert info.value.field == field
    db.refresh(lamp)
    assert (lamp.price, lamp.version) == (25, 1)


def test_controller_link_to_missing_row_is_a_conflict_like_the_endpoint(db: Session) -> None:
    with pytest.raises(ConflictError) as info:
        product_controller.create(db, obj_in={"name": "Lamp", "price": 25, "tag_ids": [999_999]})
    assert info.value.field == "tag_ids"


async def test_endpoint_link_to_missing_row_is_a_conflict_like_the_controller(
    api: ApiClient, bearer: Bearer
) -> None:
    body = {"name": "Lamp", "price": 25, "tag_ids": [999_999]}
    response = await api.post("/products", json=body, headers=bearer(1, "staff"))
    assert response.status_code == 409
    assert response.json()["field"] == "tag_ids"
    assert await api.conn.fetchval("SELECT count(*) FROM products WHERE name = 'Lamp'") == 0


def test_controller_create_user_runs_the_model_hook(db: Session) -> None:
    user = user_controller.create(
        db, obj_in={"email": "ada@example.com", "first_name": "Ada", "last_name": "L", "password": "p" * 12}
    )
    assert user.full_name == "Ada L"
    assert user.hashed_password.startswith("$argon2")
    assert user.role == "user"  # the model's Python default, as the endpoint fills it in


def test_base_controller_runs_hooks_for_any_model(db: Session) -> None:
    from pgbe.controllers import BaseController

    plain: BaseController[User, BaseModel, BaseModel] = BaseController(User)
    user = plain.create(
        db, obj_in={"email": "bo@example.com", "first_name": "Bo", "last_name": "K", "password": "q" * 12}
    )
    assert (user.full_name, user.hashed_password.startswith("$argon2")) == ("Bo K", True)
    plain.update(db, db_obj=user, obj_in={"first_name": "Bob"})
    assert user.full_name == "Bob K"


async def test_endpoint_update_user_name_runs_the_same_hook(api: ApiClient, bearer: Bearer) -> None:
    user = await api.conn.fetchval(
        "INSERT INTO users (email, first_name, last_name, full_name, hashed_password)"
        " VALUES ('cy@example.com', 'Cy', 'M', 'Cy M', 'x') RETURNING id"
    )
    response = await api.patch(f"/users/{user}", json={"first_name": "Cyd"}, headers=bearer(user, "user"))
    assert response.status_code == 200
    assert response.json()["full_name"] == "Cyd M"


async def test_admin_create_and_edit_user_run_the_model_hook(
    admin: httpx.AsyncClient, database_url: str
) -> None:
    created = await admin.post("/admin/users/create", data=_form(password="Fresh-Start-2026"))
    assert created.status_code in (302, 303), created.text
    with psycopg.connect(database_url) as conn:
        user_id, full_name = conn.execute(
            "SELECT id, full_name FROM users WHERE email = %s", (EMAILS[1],)
        ).fetchone() or (0, None)
    assert full_name == "Nia Hire"  # before, the admin site left it empty
    edited = await admin.post(f"/admin/users/edit/{user_id}", data=_form(last_name="Hired", password=""))
    assert edited.status_code in (302, 303), edited.text
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT full_name FROM users WHERE id = %s", (user_id,)).fetchone() == (
            "Nia Hired",
        )


def test_tag_model_without_rules_has_no_hooks() -> None:
    rules = writes_for(Tag)
    assert rules.hook(create=True) is None
    assert rules.hook(create=False) is None


async def test_admin_link_to_missing_tag_is_refused_and_writes_nothing(
    admin: httpx.AsyncClient, database_url: str
) -> None:
    # The form's own answer (400 with the field's error), not the API's 409: the choices are the rows
    # that exist, so an unknown id never reaches the write rules; what matters is that nothing is written.
    form = {"name": "Admin lamp", "price": "25", "tags": "999999"}
    try:
        response = await admin.post("/admin/products/create", data=form)
        assert response.status_code == 400, response.text
        assert "Not a valid choice" in response.text
        with psycopg.connect(database_url) as conn:
            assert conn.execute("SELECT count(*) FROM products WHERE name = 'Admin lamp'").fetchone() == (0,)
    finally:
        with psycopg.connect(database_url) as conn:
            conn.execute("DELETE FROM products WHERE name = 'Admin lamp'")


class ProductWithTagIds(ProductRead):
    tag_ids: Annotated[list[int], Pluck("tags", "id")]
    tag_names: Annotated[list[str], Pluck("tags", "name")]
    tags_count: Annotated[int, Count("tags")]


async def test_write_answer_shows_the_links_the_same_statement_wrote() -> None:
    # The statement's snapshot does not see its own link rows: the answer shows the ids sent.
    anyone = Permissions(create=lambda principal: None, update=lambda principal: None)
    tagged = Resource(
        Product,
        read=ProductWithTagIds,
        create=ProductCreate,
        update=ProductUpdate,
        path="/tagged",
        permissions=anyone,
    )
    app = FastAPI()
    install_problem_handlers(app)
    register(app, tagged, registry=ResourceRegistry(database, get_settings()))
    async with rolled_back_client(app, database) as client:
        one, two = [
            await client.conn.fetchval("INSERT INTO tags (name) VALUES ($1) RETURNING id", name)
            for name in ("answer-a", "answer-b")
        ]
        created = await client.post("/tagged", json={"name": "Lamp", "price": 25, "tag_ids": [two, one, two]})
        assert created.status_code == 201, created.text
        assert created.json()["tag_ids"] == sorted([one, two])
        assert created.json()["tags_count"] == 2
        assert created.json()["tag_names"] == ["answer-a", "answer-b"]
        item = f"/tagged/{created.json()['id']}"
        assert (await client.get(item)).json()["tag_ids"] == sorted([one, two])
        changed = await client.patch(item, json={"tag_ids": [two]})
        assert changed.status_code == 200, changed.text
        assert changed.json()["tag_ids"] == [two]
        assert changed.json()["tags_count"] == 1
        assert changed.json()["tag_names"] == ["answer-b"]
        assert (await client.get(item)).json() == changed.json()
