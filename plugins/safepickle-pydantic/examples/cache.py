"""A pickle cache of pydantic models: loaded with re-validation and a schema; a tampered cache
refused; the same schema validating JSON.

Run it: ``python plugins/safepickle-pydantic/examples/cache.py``
(``tests/test_pydantic_examples.py`` runs it and checks what it prints).
"""

from __future__ import annotations

import enum
import pickle

import safepickle_pydantic
from pydantic import BaseModel, Field

import safepickle


class Role(enum.Enum):
    USER = "user"
    ADMIN = "admin"


class User(BaseModel):
    name: str = Field(min_length=1)
    age: int = Field(ge=0)
    role: Role = Role.USER


# The plugin allows exactly these classes (plus what pickle needs to rebuild any model) and
# re-validates every model a load rebuilt.
policy = safepickle.Policy(plugins=[safepickle_pydantic.plugin(models=[User, Role])])


def main() -> None:
    cache = pickle.dumps([User(name="ada", age=36), User(name="alan", age=41)])
    users = safepickle.loads(cache, policy=policy, schema=list[User])
    print("loaded:", [user.name for user in users])

    # What a crafted pickle can hold: a state User's own validation would never accept.
    tampered = pickle.dumps([User.model_construct(name="mallory", age=-5, role=Role.ADMIN)])
    try:
        safepickle.loads(tampered, policy=policy)
    except safepickle.ValidationFailed as exc:
        print("refused:", exc.path, [error["type"] for error in exc.details])

    # The same schema builds models from JSON.
    users = safepickle.loads(b'[{"name": "grace", "age": 85}]', policy=policy, schema=list[User])
    print("from JSON:", users)


if __name__ == "__main__":
    main()
