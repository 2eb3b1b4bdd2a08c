"""The example domain's controllers: one singleton per model, and their own methods."""

from __future__ import annotations

import importlib

import pytest
from sqlalchemy.orm import Session

from app.controllers.base_controller import BaseController
from app.controllers.category import category_controller
from app.controllers.profile import profile_controller
from app.controllers.tag import tag_controller
from app.controllers.user import user_controller
from app.models import Category, Product, Profile, Tag, User
from app.schemas.category import CategoryCreate
from app.schemas.profile import ProfileUpdate
from app.schemas.tag import TagCreate, TagUpdate
from app.schemas.user import UserCreate, UserUpdate
from pgbe.auth.passwords import verify_password
from pgbe.errors import ConflictError

PASSWORD = "Analytical-Engine-1843"


@pytest.mark.parametrize("model", [Category, Product, Tag, User, Profile], ids=lambda m: m.__name__)
def test_every_model_has_a_controller_singleton(model: type) -> None:
    module = importlib.import_module(f"app.controllers.{model.__name__.lower()}")
    controller = getattr(module, f"{model.__name__.lower()}_controller")
    assert isinstance(controller, BaseController)
    assert controller.model is model
    assert type(controller).__name__ == f"{model.__name__}Controller"


def test_category_controller_get_by_name(db: Session) -> None:
    books = category_controller.create(db, obj_in=CategoryCreate(name="Books"))
    assert category_controller.get_by_name(db, "Books") is books
    assert category_controller.get_by_name(db, "Nope") is None


def test_tag_controller_crud_round_trip(db: Session) -> None:
    sale = tag_controller.create(db, obj_in=TagCreate(name="sale"))
    renamed = tag_controller.update(db, db_obj=sale, obj_in=TagUpdate(name="bargain"))
    assert renamed.name == "bargain"
    tag_controller.remove(db, id=sale.id)
    assert tag_controller.get(db, sale.id) is None


def test_user_controller_create_stores_a_hash_and_the_full_name(db: Session) -> None:
    ada = user_controller.create(
        db,
        obj_in=UserCreate(email="ada@example.com", first_name="Ada", last_name="Lovelace", password=PASSWORD),
    )
    assert ada.hashed_password != PASSWORD
    valid, _ = verify_password(PASSWORD, ada.hashed_password)
    assert valid
    assert not verify_password("Wrong-Password-1843", ada.hashed_password)[0]
    assert ada.full_name == "Ada Lovelace"
    assert (ada.role, ada.is_active) == ("user", True)


def test_user_controller_update_name_keeps_full_name_in_step(db: Session) -> None:
    ada = user_controller.create(
        db,
        obj_in={"email": "ada@example.com", "first_name": "Ada", "last_name": "Byron", "password": PASSWORD},
    )
    updated = user_controller.update(db, db_obj=ada, obj_in=UserUpdate(last_name="Lovelace"))
    assert updated.full_name == "Ada Lovelace"


def test_user_controller_get_by_email_ignores_case(db: Session) -> None:
    ada = user_controller.create(
        db, obj_in={"email": "ada@example.com", "first_name": "Ada", "last_name": "L", "password": PASSWORD}
    )
    assert user_controller.get_by_email(db, "ADA@Example.com") is ada


def test_user_controller_email_differing_only_by_case_raises_conflict(db: Session) -> None:
    user_controller.create(
        db, obj_in={"email": "ada@example.com", "first_name": "Ada", "last_name": "L", "password": PASSWORD}
    )
    grace = user_controller.create(
        db,
        obj_in={"email": "grace@example.com", "first_name": "Grace", "last_name": "H", "password": PASSWORD},
    )

    with pytest.raises(ConflictError) as created:
        user_controller.create(
            db, obj_in={"email": "Ada@Example.com", "first_name": "A", "last_name": "L", "password": PASSWORD}
        )
    with pytest.raises(ConflictError) as updated:
        user_controller.update(db, db_obj=grace, obj_in=UserUpdate(email="ADA@example.com"))

    assert created.value.field == updated.value.field == "email"
    same = user_controller.update(db, db_obj=grace, obj_in=UserUpdate(email="Grace@example.com"))
    assert same.email == "Grace@example.com"


def test_profile_controller_get_by_user_and_partial_update(db: Session) -> None:
    ada = user_controller.create(
        db, obj_in={"email": "ada@example.com", "first_name": "Ada", "last_name": "L", "password": PASSWORD}
    )
    profile = profile_controller.create(
        db, obj_in={"user_id": ada.id, "bio": "Analyst", "website": "https://a.example"}
    )

    assert profile_controller.get_by_user(db, ada.id) is profile
    updated = profile_controller.update(db, db_obj=profile, obj_in=ProfileUpdate(bio="Mathematician"))
    assert (updated.bio, updated.website) == ("Mathematician", "https://a.example")
