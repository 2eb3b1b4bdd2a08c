"""The benchmark cases: the same HTTP requests sent to pgbe and to the hand-written floor."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Case:
    """One request shape; `{id}` in the path is a random product id, `{rand}` in the body a number."""

    key: str
    title: str
    method: str
    path: str
    body: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    authenticated: bool = False
    target: str = "catalogue"  # the application under test (bench.targets)
    # The id used for the one request whose body is compared between pgbe and the floor.
    check_id: int = 4242

    @property
    def writes(self) -> bool:
        """Tell whether the case changes the database."""
        return self.method != "GET"

    def check_path(self) -> str:
        """Return the path of the comparison request."""
        return self.path.replace("{id}", str(self.check_id))

    def check_body(self) -> str | None:
        """Return the body of the comparison request."""
        return None if self.body is None else self.body.replace("{rand}", "12345")


JSON = {"Content-Type": "application/json"}

CASES: tuple[Case, ...] = (
    Case("E1", "GET one product with its category", "GET", "/products/{id}?include=category"),
    Case("E2", "GET 50 products with category and tags", "GET", "/products?limit=50&include=category,tags"),
    Case(
        "E3",
        "POST a product (staff token)",
        "POST",
        "/products",
        body='{"name":"Bench product {rand}","description":"Made by the benchmark","price":{rand},'
        '"sku":"B-{rand}","category_id":7,"tag_ids":[1,2,3]}',
        headers=JSON,
        authenticated=True,
    ),
    Case(
        "E4",
        "GET products filtered on price and category name, sorted, with total",
        "GET",
        "/products?price__gte=20000&price__lt=80000&category.name=Category%207&sort=-price,name&limit=20",
    ),
    Case(
        "E5",
        "PATCH a product's price (staff token)",
        "PATCH",
        "/products/{id}",
        body='{"price":{rand}}',
        headers=JSON,
        authenticated=True,
    ),
    Case(
        "E6",
        "GET 20 Conduit articles, signed in (author, following, favorited, favorites count, tags)",
        "GET",
        "/api/articles?limit=20",
        authenticated=True,
        target="conduit",
    ),
)


def select(keys: str | None) -> tuple[Case, ...]:
    """Return the cases named in a comma-separated list (all when None)."""
    if not keys:
        return CASES
    wanted = {k.strip().upper() for k in keys.split(",") if k.strip()}
    unknown = wanted - {c.key for c in CASES}
    if unknown:
        raise SystemExit(f"unknown case(s): {', '.join(sorted(unknown))}")
    return tuple(c for c in CASES if c.key in wanted)
