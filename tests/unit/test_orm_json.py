"""ORM objects as JSON: every registered declarative base is encoded, however many applications register."""

from __future__ import annotations

from fastapi.encoders import jsonable_encoder
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from pgbe.http.orm_json import register_orm_encoder


class FirstBase(DeclarativeBase):
    pass


class SecondBase(DeclarativeBase):
    pass


class Planet(FirstBase):
    __tablename__ = "planets"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(20))


class Moon(SecondBase):
    __tablename__ = "moons"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(20))


def test_second_base_registered_keeps_the_first_one_encoded() -> None:
    register_orm_encoder(FirstBase)
    register_orm_encoder(SecondBase)
    register_orm_encoder(FirstBase)  # twice is once
    planet, moon = Planet(id=1, name="Earth"), Moon(id=2, name="Luna")
    planet.note = moon.note = "not a column"  # type: ignore[attr-defined]
    assert jsonable_encoder(planet) == {"id": 1, "name": "Earth"}  # columns only, not the object's dict
    assert jsonable_encoder(moon) == {"id": 2, "name": "Luna"}
