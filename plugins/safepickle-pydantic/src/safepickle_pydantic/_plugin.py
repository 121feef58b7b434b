"""The plugin object: decides pydantic's globals, re-validates loaded models, answers
``schema=``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from safepickle import Decision, GlobalRef, hookimpl

from ._globals import PICKLE_GLOBALS, ROOT_MODEL, expand_models, generic_origin
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
        origin = generic_origin(ref)
        if origin is None:
            return None
        if origin == ROOT_MODEL:
            return Decision.allow(
                f"a parametrisation of pydantic's RootModel{self._after}",
                rule="pydantic-generic",
            )
        # A generic model's parametrisation (models.Box[int]) is trusted as far as the
        # generic model itself is; pydantic stores it under this bracketed key in the origin's
        # module, where no ordinary assignment can put it.
        if policy.decide(origin).allowed:
            return Decision.allow(
                f"a parametrisation of the generic model '{origin.dotted}', which the policy "
                f"allows{self._after}",
                rule="pydantic-generic",
            )
        return None

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
