"""Models the tests pickle: they must live in an importable module, as in an application."""

from __future__ import annotations

import enum
import os
from typing import Any, Generic, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    RootModel,
    field_validator,
    model_validator,
)
from pydantic.dataclasses import dataclass

T = TypeVar("T")


class Role(enum.Enum):
    USER = "user"
    ADMIN = "admin"


class User(BaseModel):
    name: str = Field(min_length=1, max_length=20)
    age: int = Field(ge=0, le=150)
    role: Role = Role.USER
    friends: list[User] = []

    @field_validator("name")
    @classmethod
    def no_root(cls, value: str) -> str:
        if value == "root":
            raise ValueError("'root' is reserved")
        return value

    @model_validator(mode="after")
    def admins_are_adults(self) -> User:
        if self.role is Role.ADMIN and self.age < 18:
            raise ValueError("an admin must be an adult")
        return self


class Node(BaseModel):
    """Recursive: a tree, or a cycle once ``parent`` points back."""

    label: str
    children: list[Node] = []
    parent: Any = None


class Measure(BaseModel):
    value: float
    values: list[float] = []


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    count: int


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, int] = Field(init=False)
    a: int


class Secretive(BaseModel):
    visible: int
    _token: str = PrivateAttr(default="t")


class Aliased(BaseModel):
    model_config = ConfigDict(populate_by_name=False)
    user_name: str = Field(alias="userName")


class Scores(RootModel[list[int]]):
    pass


class Box(BaseModel, Generic[T]):
    item: T


IntBox = Box[int]  # parametrised at module scope: pydantic registers "Box[int]" here
IntRoot = RootModel[list[int]]  # registered in pydantic.root_model


@dataclass
class Point:
    x: int = Field(ge=0)
    y: int = 0


class Team(BaseModel):
    lead: User
    members: dict[str, User]
    location: Point | None = None
    scores: Scores | None = None


def wipe() -> None:
    """A function beside the models: a module wildcard in models= must not admit it."""
    with open("CANARY", "w"):
        pass


class Plain:
    """An ordinary class the policy may allow; models inside it are found too."""

    def __init__(self, payload: Any) -> None:
        self.payload = payload


def touch_canary() -> int:  # pragma: no cover - only runs if a payload executes
    return os.system("touch CANARY")


class Impostor:
    """Has a User's attribute names: from_attributes=True would turn it into a User."""

    def __init__(self) -> None:
        self.name = "impostor"
        self.age = 1
