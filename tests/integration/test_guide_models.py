"""The guide's models and each relationship kind, in both directions, on real PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.controllers.profile import profile_controller
from app.models import Category, Product, Profile, Tag, User, product_tag
from pgbe.db.errors import UNIQUE_VIOLATION, sqlstate_of
from pgbe.errors import ConflictError


def _user(db: Session, email: str = "ada@example.com") -> User:
    user = User(email=email, first_name="Ada", last_name="Lovelace", hashed_password="not-a-real-hash")
    db.add(user)
    db.flush()
    return user


def _links(db: Session) -> set[tuple[int, int]]:
    rows = db.execute(select(product_tag.c.product_id, product_tag.c.tag_id)).all()
    return {(r.product_id, r.tag_id) for r in rows}


def test_product_columns_match_the_guide(db: Session) -> None:
    columns = Product.__table__.c
    assert (columns.name.type.length, columns.name.nullable, columns.name.index) == (100, False, True)
    assert (columns.description.type.length, columns.description.nullable) == (500, True)
    assert not columns.price.nullable
    assert {fk.target_fullname for fk in columns.category_id.foreign_keys} == {"categories.id"}
    indexes = {i.name: [c.name for c in i.columns] for i in Product.__table__.indexes}
    assert indexes["idx_name_price"] == ["name", "price"]
    stored = set(db.scalars(text("SELECT indexname FROM pg_indexes WHERE tablename = 'products'")))
    assert {"idx_name_price", "ix_products_name"} <= stored


def test_one_to_many_category_products_and_product_category_agree(db: Session) -> None:
    electronics = Category(name="Electronics")
    laptop = Product(name="Laptop", price=1500)
    electronics.products.append(laptop)  # from the "one" side
    phone = Product(name="Phone", price=800, category=electronics)  # from the "many" side
    db.add_all([electronics, phone])
    db.commit()
    db.expire_all()

    category = db.get(Category, electronics.id)
    assert category is not None
    assert sorted(p.name for p in category.products) == ["Laptop", "Phone"]
    reloaded_phone = db.get(Product, phone.id)
    assert reloaded_phone is not None
    assert reloaded_phone.category is category
    assert reloaded_phone.category_id == electronics.id


def test_one_to_many_moving_a_product_updates_both_sides(db: Session) -> None:
    books, music = Category(name="Books"), Category(name="Music")
    record = Product(name="Record", price=30, category=books)
    db.add_all([books, music, record])
    db.commit()

    record.category = music
    db.commit()
    db.expire_all()

    assert [p.name for p in music.products] == ["Record"]
    assert books.products == []
    assert record.category_id == music.id


def test_many_to_many_add_from_product_side_writes_product_tags(db: Session) -> None:
    lamp = Product(name="Lamp", price=25)
    sale, new = Tag(name="sale"), Tag(name="new")
    lamp.tags.extend([sale, new])
    db.add(lamp)
    db.commit()

    assert _links(db) >= {(lamp.id, sale.id), (lamp.id, new.id)}
    db.expire_all()
    assert [p.name for p in sale.products] == ["Lamp"]
    assert sorted(t.name for t in lamp.tags) == ["new", "sale"]


def test_many_to_many_add_from_tag_side_is_seen_from_product(db: Session) -> None:
    sale = Tag(name="sale")
    chair, desk = Product(name="Chair", price=50), Product(name="Desk", price=200)
    sale.products.extend([chair, desk])
    db.add(sale)
    db.commit()
    db.expire_all()

    assert [t.name for t in chair.tags] == ["sale"]
    assert [t.name for t in desk.tags] == ["sale"]
    assert {(chair.id, sale.id), (desk.id, sale.id)} <= _links(db)


def test_many_to_many_remove_from_product_side_deletes_the_link_only(db: Session) -> None:
    sale, new = Tag(name="sale"), Tag(name="new")
    lamp = Product(name="Lamp", price=25, tags=[sale, new])
    db.add(lamp)
    db.commit()

    lamp.tags.remove(sale)
    db.commit()
    db.expire_all()

    assert (lamp.id, sale.id) not in _links(db)
    assert (lamp.id, new.id) in _links(db)
    assert db.get(Tag, sale.id) is not None  # the tag itself stays
    assert sale.products == []


def test_many_to_many_remove_from_tag_side_deletes_the_link(db: Session) -> None:
    sale = Tag(name="sale")
    chair, desk = Product(name="Chair", price=50), Product(name="Desk", price=200)
    sale.products.extend([chair, desk])
    db.add(sale)
    db.commit()

    sale.products.remove(chair)
    db.commit()
    db.expire_all()

    assert chair.tags == []
    assert [t.name for t in desk.tags] == ["sale"]
    assert (chair.id, sale.id) not in _links(db)


def test_many_to_many_deleting_a_product_removes_its_links(db: Session) -> None:
    sale = Tag(name="sale")
    lamp = Product(name="Lamp", price=25, tags=[sale])
    db.add(lamp)
    db.commit()
    lamp_id = lamp.id

    db.delete(lamp)
    db.commit()

    assert all(product_id != lamp_id for product_id, _ in _links(db))
    assert db.get(Tag, sale.id) is not None


def test_one_to_one_user_profile_is_a_scalar_both_ways(db: Session) -> None:
    user = _user(db)
    user.profile = Profile(bio="Analyst")
    db.commit()
    db.expire_all()

    assert User.profile.property.uselist is False
    assert isinstance(user.profile, Profile)
    assert user.profile.bio == "Analyst"
    assert user.profile.user is user
    assert user.profile.user_id == user.id


def test_one_to_one_user_without_profile_has_none(db: Session) -> None:
    user = _user(db)
    db.commit()
    db.expire_all()
    assert user.profile is None


def test_one_to_one_second_profile_for_user_is_refused_by_the_database(db: Session) -> None:
    user = _user(db)
    db.add(Profile(user_id=user.id, bio="first"))
    db.flush()

    savepoint = db.begin_nested()
    db.add(Profile(user_id=user.id, bio="second"))
    with pytest.raises(IntegrityError) as exc:
        db.flush()
    savepoint.rollback()

    assert sqlstate_of(exc.value) == UNIQUE_VIOLATION
    assert exc.value.orig is not None
    assert exc.value.orig.diag.constraint_name == "uq_profiles_user_id"  # type: ignore[attr-defined]


def test_one_to_one_second_profile_through_controller_raises_conflict_on_user_id(db: Session) -> None:
    user = _user(db)
    profile_controller.create(db, obj_in={"user_id": user.id, "bio": "first"})

    with pytest.raises(ConflictError) as exc:
        profile_controller.create(db, obj_in={"user_id": user.id, "bio": "second"})

    assert exc.value.field == "user_id"
    assert profile_controller.count(db) == 1


def test_one_to_one_deleting_user_deletes_profile(db: Session) -> None:
    user = _user(db)
    user.profile = Profile(bio="bye")
    db.commit()
    profile_id = user.profile.id

    db.delete(user)
    db.commit()

    assert db.get(Profile, profile_id) is None


def test_models_are_mapped_to_tables_with_audit_columns(db: Session) -> None:
    category = Category(name="Garden")
    db.add(category)
    db.flush()
    state = inspect(category)
    assert state.persistent
    db.refresh(category)
    assert category.created_at.tzinfo is not None
    assert category.updated_at.tzinfo is not None
    assert category.version == 1
