"""The guide's first example: an endpoint takes `db: Session = Depends(get_db)` and returns ORM objects."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.config.database import engine, get_db
from app.config.settings import get_settings
from app.main import app
from app.models import Category, Product


@pytest.fixture
def client(db: Session) -> Iterator[TestClient]:
    """The application, with `get_db` yielding the test's rolled-back session.

    No lifespan: its shutdown disposes the app's engine, whose connection the `db` session holds.
    """

    def override_get_db() -> Iterator[Session]:
        yield db

    app.dependency_overrides[get_db] = override_get_db
    try:
        yield TestClient(app)
    finally:
        app.dependency_overrides.pop(get_db, None)


def test_read_items_returns_orm_objects_as_json_of_their_columns(client: TestClient, db: Session) -> None:
    books = Category(name="Books")
    db.add_all([Product(name="Novel", price=20, category=books), Product(name="Atlas", price=45)])
    db.commit()

    response = client.get("/items/")

    assert response.status_code == 200
    items = sorted(response.json(), key=lambda item: item["name"])
    assert [(i["name"], i["price"]) for i in items] == [("Atlas", 45), ("Novel", 20)]
    novel = items[1]
    assert novel["category_id"] == books.id
    assert set(novel) >= {"id", "name", "description", "price", "category_id", "created_at", "updated_at"}
    assert "category" not in novel  # relationships are not columns
    assert "tags" not in novel
    assert novel["created_at"].endswith("Z") or "+" in novel["created_at"]  # tz-aware ISO 8601


def test_guide_read_items_written_verbatim_serves_json(db: Session) -> None:
    guide_app = FastAPI()
    Item = Product  # the guide's `Item` is any model

    # Use the database session in your endpoints
    @guide_app.get("/items/")
    def read_items(db: Session = Depends(get_db)):
        return db.query(Item).all()

    db.add(Product(name="Verbatim", price=1))
    db.commit()
    guide_app.dependency_overrides[get_db] = lambda: db
    response = TestClient(guide_app).get("/items/")
    assert response.status_code == 200
    assert [item["name"] for item in response.json()] == ["Verbatim"]


def test_products_by_category_endpoint_uses_the_controller(client: TestClient, db: Session) -> None:
    tools, toys = Category(name="Tools"), Category(name="Toys")
    db.add_all(
        [Product(name="Hammer", price=9, category=tools), Product(name="Kite", price=5, category=toys)]
    )
    db.commit()

    response = client.get(f"/categories/{tools.id}/products/by-controller")

    assert response.status_code == 200
    assert [p["name"] for p in response.json()] == ["Hammer"]


def test_get_db_without_override_serves_from_the_real_session_factory() -> None:
    response = TestClient(app).get("/items/")
    assert response.status_code == 200
    assert isinstance(response.json(), list)


def test_get_db_yields_a_session_and_returns_its_connection_when_done() -> None:
    before = engine.pool.checkedout()
    dependency = get_db()
    session = next(dependency)
    assert isinstance(session, Session)
    assert session.execute(Category.__table__.select().limit(1)).all() is not None
    assert engine.pool.checkedout() == before + 1
    with pytest.raises(StopIteration):
        next(dependency)
    assert engine.pool.checkedout() == before


def test_get_db_error_in_endpoint_rolls_back_closes_and_propagates() -> None:
    before = engine.pool.checkedout()
    dependency = get_db()
    session = next(dependency)
    session.add(Category(name="Never stored"))
    session.flush()
    assert session.in_transaction()
    with pytest.raises(ValueError, match="boom"):
        dependency.throw(ValueError("boom"))
    assert not session.in_transaction()
    assert engine.pool.checkedout() == before
    with engine.connect() as conn:
        stored = conn.execute(Category.__table__.select().where(Category.name == "Never stored")).all()
    assert stored == []


@pytest.fixture
def environment(db: Session) -> Iterator[Callable[[str], None]]:
    """Return `environment(name)`: the app's `/items/` answers as if ENVIRONMENT were `name`."""

    def choose(name: str) -> None:
        app.dependency_overrides[get_settings] = lambda: get_settings().model_copy(
            update={"environment": name}
        )

    yield choose
    app.dependency_overrides.pop(get_settings, None)


def _products(db: Session, count: int) -> list[int]:
    products = [Product(name=f"Item {n:03}", price=n) for n in range(count)]
    db.add_all(products)
    db.commit()
    return [p.id for p in products]


@pytest.mark.parametrize("name", ["production", "staging", "test"])
def test_read_items_outside_development_answers_a_bounded_page(
    client: TestClient, db: Session, environment: Callable[[str], None], name: str
) -> None:
    environment(name)
    default = get_settings().page_default_limit
    ids = _products(db, default + 3)

    first = client.get("/items/")

    assert first.status_code == 200
    assert [item["id"] for item in first.json()] == ids[:default]  # bounded, in id order
    assert first.headers["link"] == f'</items/?skip={default}&limit={default}>; rel="next"'
    rest = client.get(f"/items/?skip={default}&limit={default}")
    assert [item["id"] for item in rest.json()] == ids[default:]
    assert "link" not in rest.headers  # the last page
    assert client.get(f"/items/?limit={get_settings().page_max_limit + 1}").status_code == 422


def test_read_items_link_never_carries_the_requests_host(
    client: TestClient, db: Session, environment: Callable[[str], None]
) -> None:
    environment("production")
    _products(db, 3)
    response = client.get("/items/?limit=2", headers={"Host": "evil.example"})
    assert response.headers["link"] == '</items/?skip=2&limit=2>; rel="next"'


def test_read_items_in_development_returns_every_row_as_the_guide_writes_it(
    client: TestClient, db: Session, environment: Callable[[str], None]
) -> None:
    environment("development")
    ids = _products(db, get_settings().page_max_limit + 1)  # more than any page outside development

    response = client.get("/items/")

    assert response.status_code == 200
    assert sorted(item["id"] for item in response.json()) == ids
    assert "link" not in response.headers
    assert [i["id"] for i in client.get("/items/?limit=2").json()] == ids[:2]  # a page when asked for one


def test_products_by_category_outside_development_answers_a_bounded_page(
    client: TestClient, db: Session, environment: Callable[[str], None]
) -> None:
    environment("production")
    garden = Category(name="Garden")
    db.add_all([Product(name=f"Rake {n:03}", price=n, category=garden) for n in range(4)])
    db.add(Product(name="Elsewhere", price=1))
    db.commit()
    path = f"/categories/{garden.id}/products/by-controller"

    first = client.get(f"{path}?limit=3")

    assert [p["name"] for p in first.json()] == ["Rake 000", "Rake 001", "Rake 002"]
    assert first.headers["link"] == f'<{path}?skip=3&limit=3>; rel="next"'
    last = client.get(f"{path}?skip=3&limit=3")
    assert [p["name"] for p in last.json()] == ["Rake 003"]
    assert "link" not in last.headers
    default = get_settings().page_default_limit
    db.add_all([Product(name=f"Hoe {n:03}", price=n, category=garden) for n in range(default)])
    db.commit()
    assert len(client.get(path).json()) == default  # bounded without asking
    environment("development")
    assert len(client.get(path).json()) == default + 4  # every row, as the guide's controller returns them
