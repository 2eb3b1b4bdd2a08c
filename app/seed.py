"""Demo data of the example domain for `pgbe seed` (development databases only)."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy.orm import Session

from app.models import Category, Product, Profile, Tag, User
from pgbe.auth.passwords import hash_password
from pgbe.seeding import SeedStep, get_or_create

DEMO_ADMIN_EMAIL = "admin@example.com"
DEMO_ADMIN_PASSWORD = "pgbe-demo-admin"  # noqa: S105 - documented demo account, development only

CATEGORIES = [
    ("Books", "Printed books and e-books"),
    ("Electronics", "Phones, laptops and accessories"),
    ("Kitchen", "Cookware, knives and small appliances"),
    ("Garden", "Tools, seeds and outdoor furniture"),
    ("Toys", "Games and toys for every age"),
    ("Sports", "Equipment for running, cycling and the gym"),
    ("Office", "Desks, chairs and stationery"),
    ("Music", "Instruments and audio gear"),
]

TAGS = ["bestseller", "new", "eco", "gift idea", "sale", "handmade", "premium", "limited edition"]

# name, category, price in cents, sku, tags
PRODUCTS: list[tuple[str, str, int, str, list[str]]] = [
    ("The Pragmatic Programmer", "Books", 3999, "BK-1001", ["bestseller"]),
    ("Designing Data-Intensive Applications", "Books", 4599, "BK-1002", ["bestseller", "gift idea"]),
    ("PostgreSQL: Up and Running", "Books", 3499, "BK-1003", ["new"]),
    ("Wireless Noise-Cancelling Headphones", "Electronics", 24900, "EL-2001", ["premium", "gift idea"]),
    ("USB-C Charging Hub", "Electronics", 3990, "EL-2002", ["sale"]),
    ("Mechanical Keyboard", "Electronics", 11900, "EL-2003", ["new", "premium"]),
    ("Cast Iron Skillet 28 cm", "Kitchen", 4950, "KI-3001", ["bestseller"]),
    ("Chef's Knife 20 cm", "Kitchen", 8900, "KI-3002", ["premium", "handmade"]),
    ("Pour-Over Coffee Set", "Kitchen", 3450, "KI-3003", ["gift idea"]),
    ("Bamboo Cutting Board", "Kitchen", 2200, "KI-3004", ["eco"]),
    ("Heirloom Tomato Seeds", "Garden", 450, "GA-4001", ["eco", "new"]),
    ("Stainless Steel Trowel", "Garden", 1890, "GA-4002", []),
    ("Folding Garden Chair", "Garden", 5900, "GA-4003", ["sale"]),
    ("Wooden Train Set", "Toys", 4490, "TO-5001", ["handmade", "gift idea"]),
    ("1000-Piece Puzzle: Alpine Lake", "Toys", 1999, "TO-5002", ["bestseller"]),
    ("Strategy Board Game", "Toys", 3990, "TO-5003", ["limited edition"]),
    ("Trail Running Shoes", "Sports", 12900, "SP-6001", ["new"]),
    ("Adjustable Dumbbells", "Sports", 19900, "SP-6002", ["premium"]),
    ("Yoga Mat, Natural Rubber", "Sports", 4900, "SP-6003", ["eco"]),
    ("Ergonomic Office Chair", "Office", 34900, "OF-7001", ["premium"]),
    ("Recycled Paper Notebook", "Office", 890, "OF-7002", ["eco", "sale"]),
    ("Fountain Pen", "Office", 6500, "OF-7003", ["gift idea", "limited edition"]),
    ("Acoustic Guitar", "Music", 27900, "MU-8001", ["handmade"]),
    ("Studio Monitor Speakers", "Music", 29900, "MU-8002", ["premium"]),
]

# email, first name, last name, role, bio, website
USERS: list[tuple[str, str, str, str, str, str | None]] = [
    ("alice.martin@example.com", "Alice", "Martin", "staff", "Runs the catalogue.", None),
    ("bob.nguyen@example.com", "Bob", "Nguyen", "staff", "Buyer for kitchen and garden.", None),
    (
        "chloe.dubois@example.com",
        "Chloé",
        "Dubois",
        "user",
        "Reads two books a week.",
        "https://chloe.example.com",
    ),
    ("david.okafor@example.com", "David", "Okafor", "user", "Trail runner and coffee nerd.", None),
    ("emma.schmidt@example.com", "Emma", "Schmidt", "user", "Plays guitar badly, loudly.", None),
    ("farid.haddad@example.com", "Farid", "Haddad", "user", "Gardener.", "https://farid.example.org"),
    ("grace.kim@example.com", "Grace", "Kim", "user", "Board game collector.", None),
    ("hugo.rossi@example.com", "Hugo", "Rossi", "user", "Home cook.", None),
]


def _add_category(db: Session, row: tuple[str, str]) -> bool:
    name, description = row
    return get_or_create(db, Category, lookup={"name": name}, defaults={"description": description})[1]


def _add_tag(db: Session, name: str) -> bool:
    return get_or_create(db, Tag, lookup={"name": name})[1]


def _add_product(db: Session, row: tuple[str, str, int, str, list[str]]) -> bool:
    name, category_name, price, sku, tag_names = row
    category, _ = get_or_create(db, Category, lookup={"name": category_name})
    product, created = get_or_create(
        db,
        Product,
        lookup={"sku": sku},
        defaults={"name": name, "price": price, "description": f"{name}, from our {category_name.lower()}"},
    )
    if created:
        product.category_id = category.id
        product.tags = [get_or_create(db, Tag, lookup={"name": t})[0] for t in tag_names]
        db.flush()
    return created


def _add_user(db: Session, row: tuple[str, str, str, str, str, str | None], password: str | None) -> bool:
    email, first, last, role, bio, website = row
    defaults: dict[str, Any] = {
        "first_name": first,
        "last_name": last,
        "full_name": f"{first} {last}",
        "role": role,
        "is_superuser": role == "admin",
        "hashed_password": hash_password(password or secrets.token_urlsafe(24)),
    }
    user, created = get_or_create(db, User, lookup={"email": email}, defaults=defaults)
    get_or_create(db, Profile, lookup={"user_id": user.id}, defaults={"bio": bio, "website": website})
    return created


def seed_steps(*, demo_admin: bool) -> list[SeedStep[Any]]:
    """Return the demo data steps; `demo_admin` adds admin@example.com with the documented password."""
    users: list[tuple[str, str, str, str, str, str | None]] = list(USERS)
    if demo_admin:
        users.insert(0, (DEMO_ADMIN_EMAIL, "Ada", "Admin", "admin", "Demo administrator.", None))

    def add_user(db: Session, row: tuple[str, str, str, str, str, str | None]) -> bool:
        return _add_user(db, row, DEMO_ADMIN_PASSWORD if row[0] == DEMO_ADMIN_EMAIL else None)

    return [
        SeedStep("categories", CATEGORIES, _add_category),
        SeedStep("tags", TAGS, _add_tag),
        SeedStep("products", PRODUCTS, _add_product),
        SeedStep("users", users, add_user),
    ]
