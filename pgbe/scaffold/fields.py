"""Field specifications of `pgbe new resource`: `name:type[:options]`, parsed and validated."""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass

from sqlalchemy.dialects.postgresql.base import RESERVED_WORDS

from pgbe.naming import singularize

KINDS = ("str", "text", "int", "bool", "float", "date", "datetime", "fk", "m2m")
FLAGS = ("optional", "unique", "index", "lookup")
LOOKUP_KINDS = ("str", "int")
DEFAULT_STR_LENGTH = 200
# Names the base model, SQLAlchemy or the generated code already use.
TAKEN = frozenset(
    {"id", "version", "created_at", "updated_at", "metadata", "registry", "query", "model_config", "to_dict"}
)


class ScaffoldError(ValueError):
    """A generator refused its input; the message is one line for the terminal."""


_FIELD = re.compile(r"^[a-z][a-z0-9_]*$")
_CLASS = re.compile(r"^[A-Z][A-Za-z0-9]*$")


@dataclass(frozen=True)
class FieldSpec:
    """One field of a generated resource."""

    name: str
    kind: str
    length: int | None = None
    target: str | None = None
    optional: bool = False
    unique: bool = False
    index: bool = False
    lookup: bool = False

    @property
    def column(self) -> str:
        """The body field: `author` -> `author_id` for a foreign key, `tags` -> `tag_ids` for a link."""
        if self.kind == "fk":
            return f"{self.name}_id"
        if self.kind == "m2m":
            return f"{singularize(self.name)}_ids"
        return self.name

    @property
    def references(self) -> bool:
        """Whether the field refers to rows of another table (a foreign key or a many-to-many link)."""
        return self.kind in ("fk", "m2m")


def check_python_name(name: str, what: str) -> None:
    """Refuse a module name that is not a lowercase identifier or is a Python keyword."""
    if not _FIELD.match(name):
        raise ScaffoldError(
            f"{what} {name!r} must be lowercase letters, digits and _ (starting with a letter)"
        )
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        raise ScaffoldError(f"{what} {name!r} is a Python keyword")


def check_identifier(name: str, what: str) -> None:
    """Refuse a name that reaches SQL too (a field, a table) if it is also a PostgreSQL reserved word."""
    check_python_name(name, what)
    if name.lower() in RESERVED_WORDS:
        raise ScaffoldError(f"{what} {name!r} is a reserved word of PostgreSQL")


def check_class_name(name: str) -> None:
    """Refuse a resource name that is not a CamelCase identifier or is a reserved word."""
    if not _CLASS.match(name):
        raise ScaffoldError(f"resource name {name!r} must be CamelCase letters and digits, e.g. BlogPost")
    if keyword.iskeyword(name) or name in {"BaseModel", "Resource", "Base", "Any"}:
        raise ScaffoldError(f"resource name {name!r} is reserved")


def parse_field(spec: str) -> FieldSpec:
    """Parse `title:str:200`, `slug:str:lookup`, `author:fk:users`, `tags:m2m:tags`, `published:bool`."""
    name, _, rest = spec.partition(":")
    kind, _, options_text = rest.partition(":")
    options = [o for o in options_text.split(":") if o] if options_text else []
    if not kind:
        raise ScaffoldError(f"field {spec!r} needs a type: name:type[:options], types: {', '.join(KINDS)}")
    if kind not in KINDS:
        raise ScaffoldError(f"field {spec!r}: unknown type {kind!r}; types: {', '.join(KINDS)}")
    check_identifier(name, "field")
    length: int | None = None
    target: str | None = None
    if kind == "str":
        length = DEFAULT_STR_LENGTH
        if options and options[0].isdigit():
            length = int(options.pop(0))
            if not 1 <= length <= 10_000:
                raise ScaffoldError(f"field {spec!r}: length must be between 1 and 10000")
    if kind in ("fk", "m2m"):
        if not options:
            example = "author:fk:users" if kind == "fk" else "tags:m2m:tags"
            raise ScaffoldError(f"field {spec!r}: a reference names its table, e.g. {example}")
        target = options.pop(0)
    unknown = [o for o in options if o not in FLAGS]
    if unknown:
        raise ScaffoldError(f"field {spec!r}: unknown option {unknown[0]!r}; options: {', '.join(FLAGS)}")
    if kind == "m2m" and options:
        raise ScaffoldError(f"field {spec!r}: a many-to-many link takes no option (it may be empty)")
    lookup = "lookup" in options
    if lookup and (kind not in LOOKUP_KINDS or "optional" in options):
        raise ScaffoldError(f"field {spec!r}: a lookup is a required {' or '.join(LOOKUP_KINDS)} column")
    field = FieldSpec(
        name,
        kind,
        length,
        target,
        optional="optional" in options,
        unique="unique" in options or lookup,  # a lookup column is unique
        index="index" in options,
        lookup=lookup,
    )
    if field.column in TAKEN or name in TAKEN:
        raise ScaffoldError(f"field {name!r} is taken: every model already has {', '.join(sorted(TAKEN))}")
    return field


def parse_fields(specs: list[str]) -> list[FieldSpec]:
    """Parse every field spec, refusing duplicates and a resource without plain fields."""
    fields = [parse_field(s) for s in specs]
    seen: set[str] = set()
    for field in fields:
        for name in {field.name, field.column}:
            if name in seen:
                raise ScaffoldError(f"field {name!r} is given twice")
            seen.add(name)
    if not any(not f.references for f in fields):
        raise ScaffoldError("give at least one field that is not a reference, e.g. title:str")
    lookups = [f.name for f in fields if f.lookup]
    if len(lookups) > 1:
        raise ScaffoldError(f"one lookup column per resource: {', '.join(lookups)}")
    return fields
