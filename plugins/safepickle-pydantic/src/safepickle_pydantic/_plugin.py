"""The plugin object: decides pydantic's globals, re-validates loaded models, answers
``schema=``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from pydantic import RootModel

from safepickle import Decision, GlobalRef, hookimpl
from safepickle.floor import floor_reason

from ._generics import own_ref, parametrisation
from ._globals import PICKLE_GLOBALS, expand_models
from ._revalidate import revalidate
from ._same import Budget
from ._schema import schema_validator

if TYPE_CHECKING:
    from safepickle import Policy
    from safepickle.context import LoadContext

__all__ = ["PydanticPlugin", "plugin"]


class PydanticPlugin:
    """safepickle plugin for pydantic v2. Build one with :func:`plugin`; the entry point
    ``"pydantic"`` is ``plugin()``.

    .. versionadded:: 0.1
    """

    def __init__(
        self, *, strict: bool = False, models: Iterable[object] = (), revalidate: bool = True
    ) -> None:
        self.strict = strict
        self.revalidate = revalidate
        self.models = expand_models(models)
        # The name pluggy registers it under and policy fingerprints record: the same for two
        # plugins that decide and validate alike, in every process.
        shown = sorted(self.models)
        self.__name__ = f"pydantic(strict={strict}, revalidate={revalidate}, models={shown})"

    @property
    def _after(self) -> str:
        return "; re-validated after the load" if self.revalidate else ""

    def __repr__(self) -> str:
        return f"<safepickle_pydantic {self.__name__}>"

    @hookimpl
    def safepickle_decide(self, ref: GlobalRef, policy: Policy) -> Decision | None:
        dotted = ref.dotted
        reason = PICKLE_GLOBALS.get(dotted)
        if reason is not None:
            return Decision.allow(reason, rule="pydantic")
        if dotted in self.models:
            return Decision.allow(
                f"a model the pydantic plugin was configured with{self._after}",
                rule="pydantic-models",
            )
        return self._decide_parametrisation(ref, policy)

    def _decide_parametrisation(self, ref: GlobalRef, policy: Policy) -> Decision | None:
        """``models.Box[int]``: allowed when it is pydantic's own parametrisation of RootModel
        or of a generic model the policy allows (by the origin's own name), found in a module
        already imported; handed out as the very class that was checked."""
        found = parametrisation(ref)
        if found is None:
            return None  # not pydantic's (or not made in this process): default deny
        cls, origin = found
        if origin is RootModel:
            reason = "pydantic's parametrisation of its RootModel"
        else:
            origin_ref = own_ref(origin)
            if origin_ref is None or not policy.decide(origin_ref).allowed:
                return None
            reason = (
                f"pydantic's parametrisation of the generic model '{origin_ref.dotted}', which "
                "the policy allows"
            )
        # a plugin's substitute can stand in for a floor name: never offer one there
        substitute = None if floor_reason(ref) is not None else cls
        return Decision.allow(
            f"{reason}{self._after}", rule="pydantic-generic", substitute=substitute
        )

    @hookimpl
    def safepickle_validate_object(self, obj: Any, context: LoadContext) -> None:
        if self.revalidate:
            budget = Budget(context.policy.limits.max_opcodes)
            revalidate(obj, strict=True if self.strict else None, budget=budget)

    @hookimpl
    def safepickle_schema_validator(
        self, schema: Any, policy: Policy
    ) -> Callable[[Any], Any] | None:
        return schema_validator(
            schema,
            strict=True if self.strict else None,
            max_comparisons=policy.limits.max_opcodes,
        )


def plugin(
    *, strict: bool = False, models: Iterable[object] = (), revalidate: bool = True
) -> PydanticPlugin:
    """Configure the pydantic plugin: ``Policy(plugins=[plugin(models=["myapp.models:*"])])``.

    :param strict: re-validate (and validate ``schema=``) in pydantic's strict mode. Off, each
        model's own ``strict`` config applies; lax validation still must give the pickled
        state back unchanged, so lax conversions never slip through.
    :param models: models to allow: model classes, ``"pkg.mod:Name"``, or ``"pkg.mod:*"`` for
        every public model, pydantic dataclass and enum defined in ``pkg.mod`` (imported now,
        when you configure the plugin; never while a stream is decided). Models can also come
        from the policy's ``allow=``.
    :param revalidate: re-validate every pydantic object a load rebuilt. Turn it off only for
        pickles whose state you trust as it is.

    .. versionadded:: 0.1
    """
    return PydanticPlugin(strict=strict, models=models, revalidate=revalidate)
