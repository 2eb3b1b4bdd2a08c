"""Field specs of `pgbe new resource`: parsed, and refused with one clear line when wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import DeclarativeBase

from pgbe.scaffold.fields import FieldSpec, ScaffoldError, check_class_name, parse_field, parse_fields
from pgbe.scaffold.resource import plan_resource


def test_parse_field_str_with_length_and_flags() -> None:
    assert parse_field("title:str:120:unique") == FieldSpec("title", "str", length=120, unique=True)


def test_parse_field_str_without_length_defaults_to_200() -> None:
    assert parse_field("name:str").length == 200


def test_parse_field_foreign_key_column_ends_in_id() -> None:
    field = parse_field("author:fk:users:optional")
    assert (field.column, field.target, field.optional) == ("author_id", "users", True)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("class:str", "field 'class' is a Python keyword"),
        ("order:int", "field 'order' is a reserved word of PostgreSQL"),
        ("2fast:int", "field '2fast' must be lowercase letters, digits and _ (starting with a letter)"),
        ("Title:str", "field 'Title' must be lowercase letters, digits and _ (starting with a letter)"),
        (
            "title",
            "field 'title' needs a type: name:type[:options], types: str, text, int, bool, float, date, "
            "datetime, fk, m2m",
        ),
        (
            "title:string",
            "field 'title:string': unknown type 'string'; types: str, text, int, bool, float, "
            "date, datetime, fk, m2m",
        ),
        ("title:str:0", "field 'title:str:0': length must be between 1 and 10000"),
        (
            "title:str:maybe",
            "field 'title:str:maybe': unknown option 'maybe'; options: optional, unique, index, lookup",
        ),
        ("author:fk", "field 'author:fk': a reference names its table, e.g. author:fk:users"),
        ("tags:m2m", "field 'tags:m2m': a reference names its table, e.g. tags:m2m:tags"),
        (
            "tags:m2m:tags:optional",
            "field 'tags:m2m:tags:optional': a many-to-many link takes no option (it may be empty)",
        ),
        ("body:text:lookup", "field 'body:text:lookup': a lookup is a required str or int column"),
        (
            "slug:str:optional:lookup",
            "field 'slug:str:optional:lookup': a lookup is a required str or int column",
        ),
        (
            "created_at:datetime",
            "field 'created_at' is taken: every model already has created_at, id, metadata, "
            "model_config, query, registry, to_dict, updated_at, version",
        ),
    ],
)
def test_parse_field_invalid_spec_raises_one_line(spec: str, message: str) -> None:
    with pytest.raises(ScaffoldError) as caught:
        parse_field(spec)
    assert str(caught.value) == message


def test_parse_fields_duplicate_name_refused() -> None:
    with pytest.raises(ScaffoldError, match=r"^field 'title' is given twice$"):
        parse_fields(["title:str", "title:text"])


def test_parse_fields_foreign_key_clashing_with_column_refused() -> None:
    with pytest.raises(ScaffoldError, match=r"^field 'author_id' is given twice$"):
        parse_fields(["author:fk:users", "author_id:int"])


def test_parse_fields_only_references_refused() -> None:
    with pytest.raises(ScaffoldError, match="not a reference"):
        parse_fields(["author:fk:users", "tags:m2m:tags"])


def test_parse_fields_many_to_many_and_lookup() -> None:
    slug, tags = parse_fields(["slug:str:80:lookup", "tags:m2m:tags"])
    assert (slug.lookup, slug.unique, slug.length) == (True, True, 80)
    assert (tags.column, tags.target, tags.references) == ("tag_ids", "tags", True)


def test_parse_fields_two_lookups_refused() -> None:
    with pytest.raises(ScaffoldError, match=r"^one lookup column per resource: slug, code$"):
        parse_fields(["slug:str:lookup", "code:int:lookup"])


@pytest.mark.parametrize("name", ["article", "Blog_Post", "2Fast", "BaseModel", "None"])
def test_check_class_name_invalid_refused(name: str) -> None:
    with pytest.raises(ScaffoldError):
        check_class_name(name)


def test_check_class_name_camel_case_accepted() -> None:
    check_class_name("BlogPost")


@pytest.mark.parametrize(("name", "module"), [("Order", "order"), ("Group", "group"), ("User", "user")])
def test_plan_resource_name_that_is_a_sql_word_is_fine_as_a_module(
    tmp_path: Path, name: str, module: str
) -> None:
    class Base(DeclarativeBase):
        pass

    plan = plan_resource(name, parse_fields(["total:int"]), Base, tmp_path)
    assert plan.module == module


def test_plan_resource_table_that_is_a_sql_reserved_word_is_refused(tmp_path: Path) -> None:
    class Base(DeclarativeBase):
        pass

    with pytest.raises(ScaffoldError, match="table 'references' is a reserved word of PostgreSQL"):
        plan_resource("Reference", parse_fields(["total:int"]), Base, tmp_path)
