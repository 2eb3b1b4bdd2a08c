"""Names derived from class names: plural snake_case tables, readable labels."""

from __future__ import annotations

import re
from functools import lru_cache

import inflection

_WORD_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def snake_case(name: str) -> str:
    """Return `ProductTag` as `product_tag`."""
    return _WORD_BOUNDARY.sub("_", name).lower()


@lru_cache(maxsize=1024)
def pluralize(word: str) -> str:
    """Return the plural of an English noun (`category` -> `categories`, `person` -> `people`)."""
    return inflection.pluralize(word)


def table_name(class_name: str) -> str:
    """Return the table name for a model class: plural snake_case of its last word."""
    head, _, last = snake_case(class_name).rpartition("_")
    return f"{head}_{pluralize(last)}" if head else pluralize(last)


def label(class_name: str, *, plural: bool = False) -> str:
    """Return a human label: `ProductTag` -> `Product tag` or `Product tags`."""
    words = snake_case(class_name).split("_")
    if plural:
        words[-1] = pluralize(words[-1])
    return " ".join(words).capitalize()


@lru_cache(maxsize=1024)
def singularize(word: str) -> str:
    """Return the singular of an English noun (`categories` -> `category`); unchanged if singular."""
    return inflection.singularize(word)
