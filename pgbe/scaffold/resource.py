"""`pgbe new resource`: model, schemas, controller, resource declaration and tests of one entity."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData

from pgbe.naming import label, singularize, snake_case, table_name
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
    "m2m": ("", "list[int]", "Annotated[list[Id], Field(max_length=100)]"),
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
    if field.lookup and field.kind == "str":  # a path segment: no spaces
        return json.dumps(f"sample-{field.name.replace('_', '-')}-{which}"[: field.length])
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
    targets: dict[str, tuple[str, str]]  # referenced table -> (class name, module) of its model

    @property
    def lookup(self) -> FieldSpec | None:
        """The field items are addressed by (`/articles/{slug}`), when not the id."""
        return next((f for f in self.fields if f.lookup), None)

    def link_table(self, field: FieldSpec) -> str:
        """The association table of a many-to-many field: `article_tags`."""
        return f"{self.module}_{field.name}"

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
    for field in fields:
        if field.target is None:
            continue
        if field.target not in metadata.tables or field.target not in classes:
            known = ", ".join(sorted(classes))
            raise ScaffoldError(f"field {field.name!r}: no table {field.target!r} (tables: {known})")
        targets[field.target] = classes[field.target]
    plan = ResourcePlan(name, fields, targets)
    for field in fields:
        if field.kind == "m2m":
            link = plan.link_table(field)
            check_identifier(link, "table")
            if link in metadata.tables:
                raise ScaffoldError(f"field {field.name!r}: table {link!r} already exists")
    return plan


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
    lines, link_tables = [], []
    for f in plan.fields:
        if f.kind == "m2m" and f.target is not None:
            link, cls = plan.link_table(f), plan.targets[f.target][0]
            sa_names |= {"Column", "Integer", "Table"}
            ends = [(plan.module, plan.table, ""), (singularize(f.target), f.target, ", index=True")]
            # cascade both ways: a link row goes with either of its rows
            columns = "".join(
                f'    Column("{one}_id", Integer, ForeignKey("{table}.id", ondelete="CASCADE"),'
                f" primary_key=True{extra}),\n"
                for one, table, extra in ends
            )
            link_tables.append(f'{link} = Table(\n    "{link}",\n    BaseModel.metadata,\n{columns})\n\n')
            lines.append(f"    {f.name}: Mapped[list[{cls}]] = relationship(secondary={link})")
            continue
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
    values = {
        **plan.values(),
        "imports": "\n".join(imports),
        "link_tables": "".join(link_tables),
        "columns": "\n".join(lines),
    }
    return _render(_template("model.py"), values)


def _schemas(plan: ResourcePlan) -> str:
    create, update, read = [], [], []
    for f in plan.fields:
        _, py_type, write_type = _TYPES[f.kind]
        write_type = write_type.format(length=f.length)
        if f.optional or f.kind == "m2m":
            create.append(f"    {f.column}: {write_type} | None = None")
        elif f.kind == "bool":
            create.append(f"    {f.column}: bool = False")
        else:
            create.append(f"    {f.column}: {write_type}")
        update.append(f"    {f.column}: {write_type} | None = None")
        if f.kind == "m2m":
            read.append(f'    {f.column}: Annotated[list[int], Pluck("{f.name}", "id")]')
        else:
            read.append(f"    {f.column}: {py_type} | None" if f.optional else f"    {f.column}: {py_type}")
    text = "\n".join(create + update + read)
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
    pydantic_names = [n for n in ("AwareDatetime", "Field") if re.search(rf"\b{n}\b", text)]
    if pydantic_names:
        imports += [f"from pydantic import {', '.join(pydantic_names)}", ""]
    if "Pluck(" in text:
        imports.append("from pgbe.query.computed import Pluck")
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
        if f.kind == "m2m":
            continue
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
    lookup = plan.lookup
    values = {
        **plan.values(),
        "filters": repr(filters).replace("'", '"'),
        "sort": repr(sort).replace("'", '"'),
        "lookup": f'\n    lookup="{lookup.column}",' if lookup else "",
    }
    return imports, _render(_template("resource.py"), values)


def _tests(plan: ResourcePlan) -> str:
    payload: list[str] = []
    body: list[str] = []
    referenced: set[str] = set()
    for f in plan.fields:
        if f.target is not None:
            # one row per referenced table, shared by every field pointing there; insert_row reads the
            # table's required columns (and the rows they refer to) from the database when the test runs
            row = f"{singularize(f.target)}_id"
            if f.target not in referenced:
                referenced.add(f.target)
                payload.append(f'    {row} = await insert_row(api.conn, "{f.target}")')
            body.append(f'"{f.column}": {f"[{row}]" if f.kind == "m2m" else row}')
        else:
            body.append(f'"{f.column}": {_sample(f, 0)}')
    payload.append("    return {" + ", ".join(body) + "}")
    echoed = [f.column for f in plan.fields if f.kind not in ("float", "date", "datetime")]
    plain = [f for f in plan.fields if not f.references]
    first = next((f for f in plain if not f.lookup), plain[0])
    new_value = _sample(first, 1)
    check = f'assert response.json()["{first.column}"] == {new_value}'
    if first.kind in ("datetime", "float"):
        check = f'assert response.json()["{first.column}"] is not None'
    key = plan.lookup.column if plan.lookup else "id"
    values = {
        **plan.values(),
        "payload": "\n".join(payload),
        "echoed": repr(echoed).replace("'", '"'),
        "item": f'{{created["{key}"]}}',
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
