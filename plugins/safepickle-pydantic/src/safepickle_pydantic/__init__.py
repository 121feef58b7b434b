"""safepickle plugin for pydantic v2.

Unpickling a pydantic model writes its state straight into the instance, skipping every
validator. With this plugin in the policy, every model, root model and pydantic dataclass a
load rebuilt is validated again with its own class, and ``schema=`` validates the whole result::

    import safepickle
    import safepickle_pydantic

    policy = safepickle.Policy(plugins=[safepickle_pydantic.plugin(models=["myapp.models:*"])])
    users = safepickle.loads(data, policy=policy, schema=list[User])

``Policy(plugins=["pydantic"])`` (the entry point) is ``plugin()`` with no models: allow them
with the policy's ``allow=``.
"""

from __future__ import annotations

from ._globals import PICKLE_GLOBALS
from ._plugin import PydanticPlugin, plugin

__all__ = ["DEFAULT", "PICKLE_GLOBALS", "PydanticPlugin", "plugin"]

__version__ = "0.1.0"

#: what the entry point ``pydantic`` registers: ``plugin()``
DEFAULT = plugin()
