"""``safepickle.loads(data, schema=list[User])``: the whole result validated by a TypeAdapter.

The same function serves pickle and JSON input. From JSON it builds the models from plain data
(``TypeAdapter.validate_python``). From a pickle, the models are already instances, which
every one of was re-validated with its own class before this runs (the plugin's
``safepickle_validate_object`` hook is called first), so they are accepted as they are:

- ``revalidate_instances`` stays pydantic's ``"never"``: validating them again would only
  repeat that work, copy them (losing the shared references the pickle had) and fail on
  cycles;
- ``from_attributes`` stays off: it would accept *any* object whose attributes match a model's
  field names (reading them, so running properties) and turn it into the model, a type
  confusion the schema is there to rule out.

When validation gives the loaded value back unchanged (the fixed-point check of
:mod:`._same`), the loaded value itself is returned, shared references and all; otherwise the
converted value is (JSON objects become models, lax conversions apply).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import PydanticSchemaGenerationError, PydanticUserError, TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from safepickle import PolicyError, ValidationFailed

from ._graph import format_loc
from ._same import Budget, first_difference, short

__all__ = ["schema_validator"]


def schema_name(schema: Any) -> str:
    """``list[User]`` rather than ``<class 'list'>``."""
    if isinstance(schema, type) and not getattr(schema, "__args__", None):
        return schema.__qualname__
    return repr(schema).replace("typing.", "")


def schema_validator(
    schema: Any, *, strict: bool | None, max_comparisons: int
) -> Callable[[Any], Any]:
    """A function that validates a loaded value against ``schema`` and returns what the caller
    gets; raises :class:`~safepickle.PolicyError` when pydantic cannot validate ``schema``."""
    name = schema_name(schema)
    try:
        adapter: TypeAdapter[Any] = TypeAdapter(schema)
    except (PydanticSchemaGenerationError, PydanticUserError, TypeError) as exc:
        raise PolicyError(f"schema={name} is not a type pydantic can validate: {exc}") from exc

    def validate(value: Any) -> Any:
        try:
            validated = adapter.validate_python(value, strict=strict)
        except PydanticValidationError as exc:
            errors = exc.errors(include_url=False)
            first = "result" + format_loc(errors[0]["loc"]) if errors else None
            shown = "; ".join(
                f"result{format_loc(error['loc'])}: {error['msg']} "
                f"[type={error['type']}, input={short(error.get('input'))}]"
                for error in errors[:5]
            )
            more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
            raise ValidationFailed(
                f"the loaded value does not match schema={name}: {len(errors)} validation "
                f"error{'s' if len(errors) != 1 else ''}: {shown}{more}",
                details=tuple(dict(error) for error in errors),
                path=first,
            ) from None
        if first_difference(value, validated, Budget(max_comparisons)) is None:
            return value  # unchanged: hand back what was loaded, shared references intact
        return validated

    return validate
