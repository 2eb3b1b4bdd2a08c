"""`pgbe new resource`: model, schemas, controller, resource declaration and tests of one entity."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
import uuid
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, Table

from pgbe.naming import label, snake_case, table_name
from pgbe.scaffold.fields import (
    FieldSpec,
    ScaffoldError,
    check_class_name,
    check_identifier,
    check_python_name,
)

# kind -> (SQLAlchemy type, Python type, schema type for writes)
_TYPES: dict[str, tuple[str, str, str]] = {
    "str": ("String({length})", "str", "Annotated[str, Chars({length}, min=1)]"),
    "text": ("Text", "str", "Text"),
    "int": ("Integer", "int", "Int4"),
    "bool": ("Boolean", "bool", "bool"),
    "float": ("Float", "float", "float"),
    "date": ("Date", "date", "date"),
    "datetime": ("DateTime(timezone=True)", "datetime", "AwareDatetime"),
    "fk": ("Integer", "int", "Id"),
}
_FILTERS = {
    "str": ["eq", "icontains", "startswith"],
    "text": ["icontains"],
    "int": ["eq", "gt", "gte", "lt", "lte", "in"],
    "float": ["gt", "gte", "lt", "lte"],
    "bool": ["eq"],
    "date": ["eq", "gte", "lt"],
    "datetime": ["gte", "lt"],
    "fk": ["eq", "in"],
}
_SAMPLES: dict[str, tuple[object, object]] = {  # kind -> (value in the create body, value of the update)
    "str": ("Sample {name}", "Changed"),
    "text": ("Some text about {name}.", "Changed text."),
    "int": (42, 7),
    "bool": (True, False),
    "float": (1.5, 2.5),
    "date": ("2024-01-31", "2024-02-29"),
    "datetime": ("2024-01-31T12:00:00+00:00", "2024-02-29T08:30:00+00:00"),
}


def _sample(field: FieldSpec, which: int) -> str:
    """The Python source of a sample value of `field` (0: to create, 1: to update), within its length."""
    value = _SAMPLES[field.kind][which]
    if isinstance(value, str):
        text = value.format(name=field.name.replace("_", " "))[: field.length]
        return json.dumps(text)  # a double-quoted literal, as the rest of the generated code
    return repr(value)


@dataclass(frozen=True)
class ResourcePlan:
    """Everything the generator writes for one resource."""

    name: str
    fields: list[FieldSpec]
    targets: dict[str, tuple[str, str]]  # fk table -> (class name, module) of the referenced model
    inserts: dict[str, str]  # fk table -> test code inserting a row and returning its id

    @property
    def module(self) -> str:
        return snake_case(self.name)

    @property
    def table(self) -> str:
        return table_name(self.name)

    def values(self) -> dict[str, str]:
        """The placeholders of the resource templates."""
        singular = label(self.name)
        plural = label(self.name, plural=True)
        article = "an" if singular[0].lower() in "aeiou" else "a"
        return {
            "Name": self.name,
            "module": self.module,
            "table": self.table,
            "path": f"/{self.table}",
            "label": singular,
            "plural_label": plural,
            "plural_lower": plural.lower(),
            "a_label": f"{article.capitalize()} {singular.lower()}",
            "a_lower": f"{article} {singular.lower()}",
        }


def plan_resource(name: str, fields: list[FieldSpec], base: Any, root: Path) -> ResourcePlan:
    """Check the name against the project (its declarative `base`, its files); resolve foreign keys."""
    metadata: MetaData = base.metadata
    check_class_name(name)
    module = snake_case(name)
    check_python_name(module, "module")  # never in SQL: `Order` makes order.py and table orders
    table = table_name(name)
    check_identifier(table, "table")
    if table in metadata.tables:
        raise ScaffoldError(f"table {table!r} already exists: choose another resource name")
    for path in _paths(root, module, table).values():
        if path.exists():
            raise ScaffoldError(f"{path.relative_to(root)} already exists: nothing was written")
    classes = {m.local_table.name: (m.class_.__name__, m.class_.__module__) for m in base.registry.mappers}
    targets: dict[str, tuple[str, str]] = {}
    inserts: dict[str, str] = {}
    for field in fields:
        if field.target is None:
            continue
        if field.target not in metadata.tables or field.target not in classes:
            known = ", ".join(sorted(classes))
            raise ScaffoldError(f"field {field.name!r}: no table {field.target!r} (tables: {known})")
        targets[field.target] = classes[field.target]
        inserts[field.target] = _insert_row(metadata.tables[field.target])
    return ResourcePlan(name, fields, targets, inserts)


def _insert_row(table: Table) -> str:
    """Return test code that inserts a minimal row of `table` through `api.conn` and yields its id."""
    columns, values = [], []
    for column in table.columns:
        if column.primary_key or column.nullable or column.default is not None or column.server_default:
            continue
        if column.foreign_keys:
            raise ScaffoldError(f"cannot write test data for {table.name}: {column.name} needs another table")
        try:
            python_type = column.type.python_type
        except NotImplementedError:
            python_type = object
        samples: dict[type, str] = {
            str: repr(f"{column.name[:8]}-sample"[: getattr(column.type, "length", None) or 100]),
            int: "1",
            bool: "True",
            float: "1.0",
            dt.date: "dt.date(2024, 1, 31)",
            dt.datetime: "dt.datetime(2024, 1, 31, tzinfo=dt.UTC)",
            uuid.UUID: "uuid.uuid4()",
        }
        if python_type not in samples:
            raise ScaffoldError(f"cannot write test data for {table.name}.{column.name} ({column.type})")
        columns.append(column.name)
        values.append(samples[python_type])
    # The table and column names come from the project's own models.
    if columns:
        head = f"INSERT INTO {table.name} ({', '.join(columns)})"
        tail = f" VALUES ({', '.join(f'${i}' for i in range(1, len(values) + 1))}) RETURNING id"
    else:
        head, tail = f"INSERT INTO {table.name}", " DEFAULT VALUES RETURNING id"
    args = "".join(f", {v}" for v in values)
    return f'await api.conn.fetchval(\n        "{head}"\n        "{tail}"{args}\n    )'


def _paths(root: Path, module: str, table: str) -> dict[str, Path]:
    return {
        "model": root / "app" / "models" / f"{module}.py",
        "schemas": root / "app" / "schemas" / f"{module}.py",
        "controller": root / "app" / "controllers" / f"{module}.py",
        "test": root / "tests" / f"test_{table}.py",
    }


def _template(name: str) -> str:
    return files("pgbe").joinpath("templates", "resource", f"{name}.tmpl").read_text()


def _render(text: str, values: dict[str, str]) -> str:
    return re.sub(r"\{\{(\w+)\}\}", lambda m: values[m.group(1)], text)


def _model(plan: ResourcePlan) -> str:
    sa_names = {"ForeignKey"} if plan.targets else set()
    lines = []
    for f in plan.fields:
        sa_type, py_type, _ = _TYPES[f.kind]
        sa_type = sa_type.format(length=f.length)
        sa_names.add(sa_type.partition("(")[0])
        args = [sa_type]
        if f.kind == "fk":
            args.append(f'ForeignKey("{f.target}.id", ondelete="RESTRICT")')
        args.append(f"nullable={f.optional}")
        if f.unique:
            args.append("unique=True")
        if f.index or f.kind == "fk":
            args.append("index=True")
        if f.kind == "bool":
            sa_names.add("false")
            args.append("server_default=false()")
        annotation = f"{py_type} | None" if f.optional else py_type
        lines.append(f"    {f.column}: Mapped[{annotation}] = mapped_column({', '.join(args)})")
        if f.kind == "fk" and f.target is not None:
            cls = plan.targets[f.target][0]
            related = f"{cls} | None" if f.optional else cls
            # foreign_keys keeps two references to the same table (author, editor) apart
            lines.append(f"    {f.name}: Mapped[{related}] = relationship(foreign_keys=[{f.column}])")
    imports = ["from typing import TYPE_CHECKING", ""] if plan.targets else []
    py_types = {_TYPES[f.kind][1] for f in plan.fields}
    dated = sorted(t for t in ("date", "datetime") if t in py_types)
    if dated:
        imports += [f"from datetime import {', '.join(dated)}", ""]
    imports.append(f"from sqlalchemy import {', '.join(sorted(sa_names, key=str.lower))}")
    orm = "Mapped, mapped_column, relationship" if plan.targets else "Mapped, mapped_column"
    imports += [f"from sqlalchemy.orm import {orm}", ""]
    imports += ["from app.models.base import BaseModel", "from pgbe.models import VersionedMixin", ""]
    if plan.targets:
        imports.append("if TYPE_CHECKING:")
        imports += [f"    from {mod} import {cls}" for cls, mod in sorted(plan.targets.values())]
        imports.append("")
    return _render(
        _template("model.py"), {**plan.values(), "imports": "\n".join(imports), "columns": "\n".join(lines)}
    )


def _schemas(plan: ResourcePlan) -> str:
    create, update, read = [], [], []
    for f in plan.fields:
        _, py_type, write_type = _TYPES[f.kind]
        write_type = write_type.format(length=f.length)
        if f.optional:
            create.append(f"    {f.column}: {write_type} | None = None")
        elif f.kind == "bool":
            create.append(f"    {f.column}: bool = False")
        else:
            create.append(f"    {f.column}: {write_type}")
        update.append(f"    {f.column}: {write_type} | None = None")
        read.append(f"    {f.column}: {py_type} | None" if f.optional else f"    {f.column}: {py_type}")
    text = "\n".join(create + update)
    pgbe_names = sorted(
        {"CreateSchema", "ReadSchema", "UpdateSchema"}
        | {n for n in ("Chars", "Id", "Int4", "Text") if re.search(rf"\b{n}\b", text)}
    )
    imports = []
    dated = sorted({"datetime"} | ({"date"} if any(f.kind == "date" for f in plan.fields) else set()))
    imports.append(f"from datetime import {', '.join(dated)}")
    if "Annotated" in text:
        imports.append("from typing import Annotated")
    imports.append("")
    if "AwareDatetime" in text:
        imports += ["from pydantic import AwareDatetime", ""]
    imports.append(f"from pgbe.schemas import {', '.join(pgbe_names)}")
    imports.append("")
    values = {
        **plan.values(),
        "imports": "\n".join(imports),
        "create_fields": "\n".join(create),
        "update_fields": "\n".join(update),
        "read_fields": "\n".join(read),
    }
    return _render(_template("schemas.py"), values)


def _declaration(plan: ResourcePlan) -> tuple[list[str], str]:
    filters: dict[str, list[str]] = {"id": ["in"]}
    sort = ["id"]
    for f in plan.fields:
        filters[f.column] = list(_FILTERS[f.kind])
        if f.optional:
            filters[f.column].append("isnull")
        if f.kind in ("str", "int", "float", "date", "datetime"):
            sort.append(f.column)
    sort += ["created_at", "updated_at"]
    n, m = plan.name, plan.module
    imports = [
        f"from app.models.{m} import {n}",
        f"from app.schemas.{m} import {n}Create, {n}Read, {n}Update",
        "from pgbe.auth.permissions import has_role, public",
        "from pgbe.resources import Permissions, Resource",
    ]
    values = {
        **plan.values(),
        "filters": repr(filters).replace("'", '"'),
        "sort": repr(sort).replace("'", '"'),
    }
    return imports, _render(_template("resource.py"), values)


def _tests(plan: ResourcePlan) -> str:
    payload: list[str] = []
    body: list[str] = []
    imports: set[str] = set()
    inserted: set[str] = set()
    for f in plan.fields:
        if f.kind == "fk" and f.target is not None:
            row = f"{f.target}_id"  # one row per referenced table, shared by every field pointing there
            if f.target not in inserted:
                inserted.add(f.target)
                payload.append(f"    {row} = {plan.inserts[f.target]}")
            body.append(f'"{f.column}": {row}')
            for module in ("dt", "uuid"):
                if f"{module}." in plan.inserts[f.target]:
                    imports.add("import datetime as dt" if module == "dt" else "import uuid")
        else:
            body.append(f'"{f.column}": {_sample(f, 0)}')
    payload.append("    return {" + ", ".join(body) + "}")
    first = next(f for f in plan.fields if f.kind != "fk")
    new_value = _sample(first, 1)
    check = f'assert response.json()["{first.column}"] == {new_value}'
    if first.kind in ("datetime", "float"):
        check = f'assert response.json()["{first.column}"] is not None'
    values = {
        **plan.values(),
        "imports": "\n".join(sorted(imports)),
        "payload": "\n".join(payload),
        "update_field": first.column,
        "update_value": new_value,
        "update_check": check,
    }
    return _render(_template("test.py"), values)


def _insert_imports(text: str, imports: list[str]) -> str:
    """Add import lines after `from __future__ import annotations` (ruff sorts them afterwards)."""
    missing = [line for line in imports if line not in text]
    if not missing:
        return text
    lines = text.splitlines(keepends=True)
    first = next((i for i, line in enumerate(lines) if line.startswith(("from ", "import "))), 0)
    if lines[first].startswith("from __future__"):
        first += 1
    return "".join([*lines[:first], *(m + "\n" for m in missing), *lines[first:]])


def _register_model(text: str, plan: ResourcePlan) -> str:
    text = _insert_imports(text, [f"from app.models.{plan.module} import {plan.name}"])
    match = re.search(r"__all__ = \[(.*?)\]", text, flags=re.S)
    if match is None:
        return text
    names = sorted({*re.findall(r'"(\w+)"', match.group(1)), plan.name})
    listed = "__all__ = [" + ", ".join(f'"{n}"' for n in names) + "]"
    return text[: match.start()] + listed + text[match.end() :]


def write_resource(plan: ResourcePlan, root: Path) -> list[Path]:
    """Write the resource's files and register it; return every file written or changed."""
    paths = _paths(root, plan.module, plan.table)
    resources = root / "app" / "resources.py"
    models_init = root / "app" / "models" / "__init__.py"
    if not resources.exists() or not re.search(
        r"^RESOURCES(: list\[\w+\])? = \[", resources.read_text(), re.M
    ):
        raise ScaffoldError(
            "app/resources.py must define a RESOURCES list (RESOURCES: list[Resource] = [...])"
        )
    imports, declaration = _declaration(plan)
    contents = {
        paths["model"]: _model(plan),
        paths["schemas"]: _schemas(plan),
        paths["controller"]: _render(_template("controller.py"), plan.values()),
        paths["test"]: _tests(plan),
        resources: _insert_imports(resources.read_text(), imports).rstrip("\n") + declaration,
        models_init: _register_model(models_init.read_text(), plan),
    }
    for path, text in contents.items():
        path.write_text(text)
    _tidy(list(contents), root)
    return list(contents)


def _tidy(paths: list[Path], root: Path) -> None:
    """Sort imports and format with ruff when it is installed (it is a development dependency)."""
    names = [str(p) for p in paths]
    for args in (["check", "--fix", "--quiet", "--select", "I,F401", *names], ["format", "--quiet", *names]):
        try:
            subprocess.run([sys.executable, "-m", "ruff", *args], cwd=root, check=False, capture_output=True)  # noqa: S603
        except OSError:  # pragma: no cover - no ruff: the code is valid, only unsorted
            return
