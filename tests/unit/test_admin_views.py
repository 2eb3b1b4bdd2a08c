"""Admin views built from a declarative base: every model, readable names, no password hashes."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from app.models import BaseModel, Category, Product, User
from app.resources import RESOURCES
from pgbe.admin.auth import resource_grants
from pgbe.admin.views import PasswordView, model_views
from pgbe.models import ModelMixin, make_metadata


class _Base(ModelMixin, DeclarativeBase):
    __abstract__ = True
    metadata = make_metadata()


class Person(_Base):
    name: Mapped[str] = mapped_column(String(50))
    hashed_password: Mapped[str] = mapped_column(String(255))


class BlogPost(_Base):
    title: Mapped[str] = mapped_column(String(100))
    author_id: Mapped[int] = mapped_column(Integer, ForeignKey("people.id"))
    author: Mapped[Person] = relationship()


def test_model_views_new_model_registered_without_extra_code() -> None:
    views = {view.model: view for view in model_views(_Base)}
    assert set(views) == {Person, BlogPost, Device}
    assert (views[BlogPost].name, views[BlogPost].name_plural) == ("Blog post", "Blog posts")
    assert views[Person].name_plural == "People"
    assert views[BlogPost].identity == "blog_posts"
    assert "author" in views[BlogPost].column_list
    assert "author_id" not in views[BlogPost].column_list


class Device(_Base):
    name: Mapped[str] = mapped_column(String(50))
    api_secret: Mapped[str] = mapped_column(String(64))


def test_model_views_hide_password_hash_and_ask_for_a_password_instead() -> None:
    person = next(v for v in model_views(_Base) if v.model is Person)
    assert "hashed_password" not in person.column_list
    assert "hashed_password" in person.form_excluded_columns
    assert "hashed_password" in person.column_details_exclude_list
    assert issubclass(person, PasswordView)
    assert person.can_create is True  # the password field fills the hash


def test_model_views_required_hidden_column_without_form_refuses_creating() -> None:
    views = {v.model: v for v in model_views(_Base, hidden=frozenset({"hashed_password", "api_secret"}))}
    assert views[Device].can_create is False  # nothing on the form could fill api_secret
    assert not issubclass(views[Device], PasswordView)


def test_model_views_example_domain_uses_resource_search_and_sort() -> None:
    views = {view.model: view for view in model_views(BaseModel, RESOURCES)}
    assert views[Category].name_plural == "Categories"
    assert views[Product].column_searchable_list == ["name", "sku"]
    assert "price" in views[Product].column_sortable_list
    assert "category" in views[Product].column_list
    assert "hashed_password" not in views[User].column_list


def test_resource_grants_staff_catalogue_only_like_the_api() -> None:
    by_table = {res.model.__table__.name: res for res in RESOURCES}
    staff_products = resource_grants(by_table["products"], ["staff", "user"])
    assert staff_products["staff"] == {"list", "details", "export", "create", "edit", "delete"}
    assert staff_products["user"] == {"list", "details", "export"}
    assert resource_grants(by_table["users"], ["staff"])["staff"] == frozenset()


def test_model_str_related_object_shows_name() -> None:
    assert str(Category(name="Garden")) == "Garden"
    assert str(BlogPost(id=3)) == "Blog post #3"


def test_row_rule_grants_nothing_in_the_admin_site_but_to_its_roles() -> None:
    from pgbe.admin.auth import allows
    from pgbe.resources.permissions import caller_is

    assert allows(caller_is("author"), "user") is False
    assert allows(caller_is("author", roles=["staff"]), "staff") is True
