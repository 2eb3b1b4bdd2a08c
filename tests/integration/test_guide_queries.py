"""The guide's "Common Query Operations", run as written against real PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from app.models import Category, Product


@pytest.fixture
def catalogue(db: Session) -> dict[str, Category]:
    electronics = Category(name="Electronics")
    books = Category(name="Books")
    db.add_all([electronics, books])
    db.add_all(
        [
            Product(name="Laptop", price=1500, category=electronics),
            Product(name="Phone", price=800, category=electronics),
            Product(name="Novel", price=20, category=books),
            Product(name="Cable", price=5, category=electronics),
        ]
    )
    db.commit()
    return {"electronics": electronics, "books": books}


def test_get_all_records_returns_every_product(db: Session, catalogue: dict[str, Category]) -> None:
    products = db.query(Product).all()
    assert sorted(p.name for p in products) == ["Cable", "Laptop", "Novel", "Phone"]


def test_get_by_id_returns_that_product(db: Session, catalogue: dict[str, Category]) -> None:
    product_id = db.query(Product).filter(Product.name == "Phone").one().id
    product = db.query(Product).filter(Product.id == product_id).first()
    assert product is not None
    assert product.name == "Phone"


def test_filter_records_by_price(db: Session, catalogue: dict[str, Category]) -> None:
    products = db.query(Product).filter(Product.price > 100).all()
    assert {p.name for p in products} == {"Laptop", "Phone"}


def test_order_records_by_price_desc(db: Session, catalogue: dict[str, Category]) -> None:
    products = db.query(Product).order_by(Product.price.desc()).all()
    assert [p.name for p in products] == ["Laptop", "Phone", "Novel", "Cable"]


def test_limit_and_offset_paginate(db: Session, catalogue: dict[str, Category]) -> None:
    skip, limit = 1, 2
    products = db.query(Product).order_by(Product.price.desc()).offset(skip).limit(limit).all()
    assert [p.name for p in products] == ["Phone", "Novel"]


def test_join_on_category_name(db: Session, catalogue: dict[str, Category]) -> None:
    products = db.query(Product).join(Category).filter(Category.name == "Electronics").all()
    assert {p.name for p in products} == {"Laptop", "Phone", "Cable"}


def test_count_records(db: Session, catalogue: dict[str, Category]) -> None:
    count = db.query(Product).filter(Product.price > 100).count()
    assert count == 2
