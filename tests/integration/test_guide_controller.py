"""The guide's ProductController, written as the guide writes it, and every BaseController method."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.controllers.base_controller import BaseController
from app.controllers.category import category_controller
from app.controllers.product import product_controller as app_product_controller
from app.controllers.tag import tag_controller
from app.models import Category, Product, Tag, User
from app.models.product import Product as GuideProduct
from app.schemas.category import CategoryCreate, CategoryUpdate
from app.schemas.product import ProductCreate, ProductUpdate
from pgbe.errors import ConflictError, NotFoundError, ValidationError


# --- the guide's snippet, verbatim -------------------------------------------------------------
class ProductController(BaseController[Product, ProductCreate, ProductUpdate]):
    """Controller for product operations."""

    def __init__(self):
        """Initialize with Product model."""
        super().__init__(Product)

    # Add custom methods here
    def get_by_category(self, db: Session, category_id: int):
        """Get products by category."""
        return db.query(self.model).filter(self.model.category_id == category_id).all()


# Create singleton instance
product_controller = ProductController()
# -----------------------------------------------------------------------------------------------


@pytest.fixture
def categories(db: Session) -> tuple[Category, Category]:
    tools = category_controller.create(db, obj_in=CategoryCreate(name="Tools"))
    toys = category_controller.create(db, obj_in=CategoryCreate(name="Toys"))
    return tools, toys


@pytest.mark.parametrize("controller", [product_controller, app_product_controller], ids=["guide", "app"])
def test_get_by_category_returns_only_that_categorys_products(
    db: Session, categories: tuple[Category, Category], controller: ProductController
) -> None:
    tools, toys = categories
    controller.create(db, obj_in=ProductCreate(name="Hammer", price=9, category_id=tools.id))
    controller.create(db, obj_in=ProductCreate(name="Saw", price=19, category_id=tools.id))
    controller.create(db, obj_in=ProductCreate(name="Kite", price=5, category_id=toys.id))

    products = controller.get_by_category(db, tools.id)

    assert sorted(p.name for p in products) == ["Hammer", "Saw"]
    assert all(isinstance(p, GuideProduct) for p in products)


def test_guide_controller_model_is_product() -> None:
    assert product_controller.model is Product


def test_create_from_schema_commits_and_returns_refreshed_row(db: Session) -> None:
    product = product_controller.create(db, obj_in=ProductCreate(name="Lamp", price=25, description="Warm"))

    assert product.id is not None
    assert product.created_at is not None  # refreshed: set by the database
    assert product.version == 1
    assert not db.in_nested_transaction()  # committed (the test's savepoint was released)
    assert db.scalar(select(Product.name).where(Product.id == product.id)) == "Lamp"


def test_create_from_dict_ignores_keys_that_are_not_columns(db: Session) -> None:
    product = product_controller.create(db, obj_in={"name": "Desk", "price": 200, "not_a_column": 1})
    assert (product.name, product.price, product.description) == ("Desk", 200, None)


def test_create_with_tag_ids_sets_the_many_to_many_collection(db: Session) -> None:
    sale = tag_controller.create(db, obj_in={"name": "sale"})
    new = tag_controller.create(db, obj_in={"name": "new"})

    product = product_controller.create(
        db, obj_in=ProductCreate(name="Chair", price=50, tag_ids=[sale.id, new.id, sale.id])
    )

    assert sorted(t.name for t in product.tags) == ["new", "sale"]


def test_create_with_missing_tag_id_raises_conflict_naming_the_ids(db: Session) -> None:
    # the same answer as a generated endpoint's (409): a link to a row that does not exist
    with pytest.raises(ConflictError) as exc:
        product_controller.create(db, obj_in=ProductCreate(name="Chair", price=50, tag_ids=[999_999]))
    assert exc.value.field == "tag_ids"
    assert "999999" in exc.value.detail


def test_get_returns_row_or_none(db: Session) -> None:
    lamp = product_controller.create(db, obj_in={"name": "Lamp", "price": 25})
    assert product_controller.get(db, lamp.id) is lamp
    assert product_controller.get(db, 2_000_000_000) is None


def test_get_or_404_missing_raises_not_found(db: Session) -> None:
    with pytest.raises(NotFoundError, match="Product 2000000000 not found"):
        product_controller.get_or_404(db, 2_000_000_000)


def test_get_multi_pages_in_id_order(db: Session) -> None:
    created = [product_controller.create(db, obj_in={"name": f"P{i}", "price": i}) for i in range(5)]
    ids = [p.id for p in created]

    everything = [p.id for p in product_controller.get_multi(db, limit=1000) if p.id in ids]
    page = product_controller.get_multi(db, skip=1, limit=2)
    all_rows = product_controller.get_multi(db, limit=1000)

    assert everything == ids
    assert [p.id for p in page] == [p.id for p in all_rows[1:3]]
    assert len(product_controller.get_multi(db, limit=2)) == 2


def test_count_counts_rows(db: Session) -> None:
    before = product_controller.count(db)
    product_controller.create(db, obj_in={"name": "A", "price": 1})
    product_controller.create(db, obj_in={"name": "B", "price": 2})
    assert product_controller.count(db) == before + 2


def test_update_from_schema_changes_only_fields_that_were_set(db: Session) -> None:
    lamp = product_controller.create(db, obj_in=ProductCreate(name="Lamp", price=25, description="Warm"))

    updated = product_controller.update(db, db_obj=lamp, obj_in=ProductUpdate(price=30))

    assert (updated.name, updated.price, updated.description) == ("Lamp", 30, "Warm")
    assert updated.version == 2
    db.expire_all()
    stored = db.get(Product, lamp.id)
    assert stored is not None
    assert (stored.price, stored.description) == (30, "Warm")


def test_update_from_schema_explicit_none_clears_the_field(db: Session) -> None:
    lamp = product_controller.create(db, obj_in=ProductCreate(name="Lamp", price=25, description="Warm"))
    updated = product_controller.update(db, db_obj=lamp, obj_in=ProductUpdate(description=None))
    assert (updated.description, updated.price) == (None, 25)


def test_update_from_dict_changes_given_keys(db: Session) -> None:
    lamp = product_controller.create(db, obj_in={"name": "Lamp", "price": 25})
    updated = product_controller.update(db, db_obj=lamp, obj_in={"name": "Floor lamp"})
    assert (updated.name, updated.price) == ("Floor lamp", 25)


def test_update_tag_ids_replaces_the_collection(db: Session) -> None:
    sale = tag_controller.create(db, obj_in={"name": "sale"})
    new = tag_controller.create(db, obj_in={"name": "new"})
    lamp = product_controller.create(db, obj_in=ProductCreate(name="Lamp", price=25, tag_ids=[sale.id]))

    updated = product_controller.update(db, db_obj=lamp, obj_in=ProductUpdate(tag_ids=[new.id]))

    assert [t.name for t in updated.tags] == ["new"]
    assert [p.name for p in db.get_one(Tag, sale.id).products] == []


def test_remove_deletes_and_returns_the_row(db: Session) -> None:
    lamp = product_controller.create(db, obj_in={"name": "Lamp", "price": 25})

    removed = product_controller.remove(db, id=lamp.id)

    assert removed.name == "Lamp"
    assert product_controller.get(db, lamp.id) is None


def test_remove_missing_raises_not_found(db: Session) -> None:
    with pytest.raises(NotFoundError):
        product_controller.remove(db, id=2_000_000_000)


def test_create_duplicate_category_name_raises_conflict_naming_the_field(db: Session) -> None:
    category_controller.create(db, obj_in=CategoryCreate(name="Books"))

    with pytest.raises(ConflictError) as exc:
        category_controller.create(db, obj_in=CategoryCreate(name="Books"))

    assert exc.value.field == "name"
    assert exc.value.status_code == 409
    assert category_controller.get_by_name(db, "Books") is not None  # the first one is intact


def test_update_to_duplicate_category_name_raises_conflict(db: Session) -> None:
    category_controller.create(db, obj_in=CategoryCreate(name="Books"))
    music = category_controller.create(db, obj_in=CategoryCreate(name="Music"))

    with pytest.raises(ConflictError) as exc:
        category_controller.update(db, db_obj=music, obj_in=CategoryUpdate(name="Books"))

    assert exc.value.field == "name"
    db.refresh(music)
    assert music.name == "Music"


def test_create_product_with_missing_category_raises_conflict(db: Session) -> None:
    with pytest.raises(ConflictError) as exc:
        product_controller.create(db, obj_in=ProductCreate(name="Orphan", price=1, category_id=2_000_000_000))
    assert exc.value.field == "category_id"


def test_remove_category_still_referenced_raises_conflict(
    db: Session, categories: tuple[Category, Category]
) -> None:
    tools, _ = categories
    product_controller.create(db, obj_in=ProductCreate(name="Hammer", price=9, category_id=tools.id))

    with pytest.raises(ConflictError, match="still referenced"):
        category_controller.remove(db, id=tools.id)


def test_session_stays_usable_after_a_translated_conflict(db: Session) -> None:
    category_controller.create(db, obj_in=CategoryCreate(name="Books"))
    with pytest.raises(ConflictError):
        category_controller.create(db, obj_in=CategoryCreate(name="Books"))

    music = category_controller.create(db, obj_in=CategoryCreate(name="Music"))

    assert music.id is not None


def test_update_of_a_row_changed_meanwhile_raises_conflict(db: Session) -> None:
    lamp = product_controller.create(db, obj_in={"name": "Lamp", "price": 25})
    table = Product.__table__  # a plain SQL update, as another request would make it
    db.execute(update(table).where(table.c.id == lamp.id).values(price=99, version=table.c.version + 1))
    db.commit()

    with pytest.raises(ConflictError, match="changed or deleted"):
        product_controller.update(db, db_obj=lamp, obj_in={"price": 30})

    assert db.scalar(select(Product.price).where(Product.id == lamp.id)) == 99


def test_update_required_column_to_none_raises_validation_error_naming_it(db: Session) -> None:
    lamp = product_controller.create(db, obj_in={"name": "Lamp", "price": 25})
    with pytest.raises(ValidationError) as exc:
        product_controller.update(db, db_obj=lamp, obj_in={"name": None})
    assert exc.value.field == "name"
    assert exc.value.status_code == 422


def test_create_value_outside_integer_range_raises_validation_error(db: Session) -> None:
    with pytest.raises(ValidationError, match="out of range"):
        product_controller.create(db, obj_in={"name": "Lamp", "price": 2**31})


def test_check_constraint_violation_raises_validation_error(db: Session) -> None:
    user = User(email="ada@example.com", first_name="Ada", last_name="L", hashed_password="x")
    db.add(user)
    db.commit()
    with pytest.raises(ValidationError, match="role"):
        BaseController(User).update(db, db_obj=user, obj_in={"role": "superhero"})
