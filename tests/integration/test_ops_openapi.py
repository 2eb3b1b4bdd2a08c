"""The OpenAPI of generated resources for client generators, and a generated client's round trip."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

import app.main as app_main
from app.schemas.product import ProductCreate, ProductRead, ProductUpdate
from pgbe.testing.api import ApiClient

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    app_main.app.openapi_schema = None
    return app_main.app.openapi()


def test_generated_operations_have_stable_ids(schema: dict[str, Any]) -> None:
    ids = {
        (method, path): operation["operationId"]
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if path.startswith("/products")
    }

    assert ids == {
        ("get", "/products"): "products.list",
        ("post", "/products"): "products.create",
        ("get", "/products/{id}"): "products.get",
        ("patch", "/products/{id}"): "products.update",
        ("delete", "/products/{id}"): "products.delete",
    }


def test_response_headers_declared(schema: dict[str, Any]) -> None:
    products, product = schema["paths"]["/products"], schema["paths"]["/products/{id}"]

    assert set(products["post"]["responses"]["201"]["headers"]) == {"Location", "ETag"}
    assert set(product["get"]["responses"]["200"]["headers"]) == {"ETag"}
    assert set(product["patch"]["responses"]["200"]["headers"]) == {"ETag"}


def test_sort_and_include_values_are_enums(schema: dict[str, Any]) -> None:
    components = schema["components"]["schemas"]
    params = {p["name"]: p for p in schema["paths"]["/products"]["get"]["parameters"]}

    assert {"$ref": "#/components/schemas/ProductsSort"} in params["sort"]["schema"]["anyOf"]
    assert {"$ref": "#/components/schemas/ProductsInclude"} in params["include"]["schema"]["anyOf"]
    assert components["ProductsInclude"]["enum"] == ["category", "tags"]
    assert {"price", "-price", "category.name", "-category.name"} <= set(components["ProductsSort"]["enum"])


def test_tags_are_described(schema: dict[str, Any]) -> None:
    tags = {tag["name"]: tag["description"] for tag in schema["tags"]}

    assert "Product" in tags
    assert tags["Product"].endswith("list (filter, sort, paginate), get, create, change and delete.")


def test_examples_are_valid_bodies(schema: dict[str, Any]) -> None:
    products, product = schema["paths"]["/products"], schema["paths"]["/products/{id}"]
    create = products["post"]["requestBody"]["content"]["application/json"]["examples"]["example"]["value"]
    update = product["patch"]["requestBody"]["content"]["application/json"]["examples"]["example"]["value"]
    read = product["get"]["responses"]["200"]["content"]["application/json"]["example"]
    page = products["get"]["responses"]["200"]["content"]["application/json"]["example"]

    ProductCreate.model_validate(create)
    ProductUpdate.model_validate(update)
    ProductRead.model_validate(read)
    assert page["items"] == [read]


@pytest.fixture(scope="module")
def client_package(schema: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """A Python client generated from /openapi.json by openapi-python-client, imported."""
    tool = shutil.which("openapi-python-client", path=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    if tool is None:
        pytest.skip("openapi-python-client is not installed (pip install -e '.[dev]')")
    folder = tmp_path_factory.mktemp("client")
    spec = folder / "openapi.json"
    spec.write_text(json.dumps(schema))
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}  # its ruff post-hooks
    result = subprocess.run(
        [
            tool,
            "generate",
            "--path",
            str(spec),
            "--output-path",
            str(folder / "shop_client"),
            "--meta",
            "none",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module("shop_client")
    finally:
        sys.path.remove(str(folder))
        for name in [m for m in sys.modules if m == "shop_client" or m.startswith("shop_client.")]:
            del sys.modules[name]


async def test_generated_client_round_trip(
    client_package: ModuleType, api: ApiClient, bearer: Callable[[int, str], dict[str, str]]
) -> None:
    def module(name: str) -> Any:
        return importlib.import_module(f"shop_client.{name}")

    models = module("models")
    create, get, list_, update, delete = (
        module(f"api.product.products_{name}") for name in ("create", "get", "list", "update", "delete")
    )
    token = bearer(1, "staff")["Authorization"].removeprefix("Bearer ")
    await api.get(
        "/health/live"
    )  # stores the token's account and session (the generated client is not `api`)
    client = module("client").AuthenticatedClient(base_url="http://test", token=token)
    client.set_async_httpx_client(
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app_main.app),
            base_url="http://test",
            headers={"Authorization": f"Bearer {token}"},
        )
    )
    async with client:
        created = await create.asyncio_detailed(
            client=client, body=models.ProductCreate(name="Kettle", price=2500)
        )
        assert created.status_code == 201
        product = created.parsed
        assert isinstance(product, models.ProductRead)
        assert created.headers["location"] == f"/products/{product.id}"

        read = await get.asyncio_detailed(product.id, client=client)
        assert read.parsed.name == "Kettle"
        etag = read.headers["etag"]

        page = await list_.asyncio(
            client=client, name_icontains="kett", price_gte=2000, sort=models.ProductsSort("-price")
        )
        assert [p.id for p in page.items] == [product.id]
        assert page.total == 1

        stale = await update.asyncio_detailed(
            product.id, client=client, body=models.ProductUpdate(price=1), if_match='"999"'
        )
        assert stale.status_code == 412
        changed = await update.asyncio_detailed(
            product.id, client=client, body=models.ProductUpdate(price=2600), if_match=etag
        )
        assert changed.status_code == 200
        assert changed.parsed.price == 2600

        deleted = await delete.asyncio_detailed(product.id, client=client, if_match=changed.headers["etag"])
        assert deleted.status_code == 204
        gone = await get.asyncio_detailed(product.id, client=client)
        assert gone.status_code == 404
        assert isinstance(gone.parsed, models.Problem)
