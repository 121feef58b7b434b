"""Re-validating every pydantic object a load rebuilt, each with its own class.

Unpickling a model writes its state straight into a new instance (``BaseModel.__setstate__``),
so nothing the model declares was checked. Here every model, root model and pydantic dataclass
in the loaded graph is checked twice:

1. its state has the shape pydantic itself builds: exactly the attributes validation gives
   (the declared fields), extras only when the model's config says ``extra="allow"``, a
   fields-set naming fields, only declared private attributes;
2. validating that state with the class's own validator (field types and constraints, field
   and model validators; strict when the plugin or the model says so) succeeds *and gives it
   back unchanged* (the fixed-point check of :mod:`._same`), so a lax ``"5"`` in an ``int``
   field or a dict in a model field is refused, not silently kept.

Each object is validated shallowly: model instances inside its fields pass through pydantic
as they are (``revalidate_instances="never"``, pydantic's default) and get their own turn, so
the cost is linear in the graph and cycles need no special case. The loaded objects are never
replaced: a valid result is exactly what was pickled, shared references included.
"""

from __future__ import annotations

import operator
from typing import Any

from pydantic import BaseModel, ValidationError

from safepickle import ValidationFailed

from ._graph import ATOMS, Graph, Kind, format_loc
from ._same import Budget, first_difference, short

__all__ = ["Failure", "revalidate"]

_HINT = (
    "Unpickling skips pydantic's validation, so safepickle-pydantic re-validates every model it "
    "rebuilt. If you trust this pickle's state as it is, load it with "
    "Policy(plugins=[safepickle_pydantic.plugin(revalidate=False)])."
)


class Failure:
    """Why one object failed, before its path in the graph is known."""

    __slots__ = ("details", "summary")

    def __init__(self, summary: str, details: tuple[dict[str, Any], ...]) -> None:
        self.summary = summary
        self.details = details

    def error(self, obj: Any, kind: Kind, path: str) -> ValidationFailed:
        name = type(obj).__qualname__
        return ValidationFailed(
            f"{kind.value} {name} at {path} fails its own validation: {self.summary}. {_HINT}",
            details=self.details,
            path=path,
        )


def revalidate(root: Any, *, strict: bool | None, budget: Budget) -> None:
    """Re-validate every pydantic object reachable from ``root``; raise
    :class:`~safepickle.ValidationFailed` for the first invalid one.

    Deepest first: pydantic runs a nested model's ``mode="after"`` model validators again when
    its parent is validated (even for an instance it does not re-validate), so validating
    children before parents blames the object that is really invalid, at its own path."""
    graph = Graph(root)
    for obj, kind in reversed(graph.found):
        failure = check(obj, kind, strict, budget)
        if failure is not None:
            path = graph.path(obj)
            raise failure.error(obj, kind, path)


def check(obj: Any, kind: Kind, strict: bool | None, budget: Budget) -> Failure | None:
    """Why ``obj`` is not a state its class's validation gives, or None."""
    cls = type(obj)
    try:
        state = object.__getattribute__(obj, "__dict__")
    except AttributeError:
        return _shape("it has no __dict__")
    if type(state) is not dict:
        return _shape("its __dict__ is not a dict")
    if kind is Kind.DATACLASS:
        return _check_dataclass(cls, state, strict, budget)
    return _check_model(obj, cls, state, kind, strict, budget)


def _check_model(
    obj: BaseModel,
    cls: type[BaseModel],
    state: dict[str, Any],
    kind: Kind,
    strict: bool | None,
    budget: Budget,
) -> Failure | None:
    fields = cls.__pydantic_fields__
    get = object.__getattribute__  # never BaseModel.__getattr__, which looks at extras
    try:
        extras = get(obj, "__pydantic_extra__")
        fields_set = get(obj, "__pydantic_fields_set__")
        private = get(obj, "__pydantic_private__")
    except AttributeError:
        return _shape("it lacks the attributes BaseModel.__setstate__ sets")
    if extras is not None or cls.model_config.get("extra") == "allow":
        problem = _extras_problem(extras, cls, kind)
        if problem is not None:
            return _shape(problem)
    # the common case first, without a call: a set of names the state has, no private values
    if not (type(fields_set) is set and state.keys() >= fields_set):
        problem = _fields_set_problem(fields_set, state, extras)
        if problem is not None:
            return _shape(problem)
    if private is not None:
        problem = _private_problem(private, cls)
        if problem is not None:
            return _shape(problem)
    validator = cls.__pydantic_validator__
    try:
        if kind is Kind.ROOT:
            if "root" not in state:
                return _shape("it has no root value")
            validated = validator.validate_python(state["root"], **_options(cls, strict))
        else:
            data = state  # pydantic never changes its input
            if extras or state.keys() != fields.keys():
                # the fields only: what else __dict__ holds must come back from validation too
                data = {name: state[name] for name in fields if name in state}
                if extras:
                    data.update(extras)
            validated = validator.validate_python(data, **_options(cls, strict))
    except ValidationError as exc:
        return _invalid(exc)
    except RecursionError:
        return _shape("its state is nested too deeply for pydantic to validate")
    new_state = object.__getattribute__(validated, "__dict__")
    if state.keys() != new_state.keys():
        return _compare_keys(state, new_state)
    failure = _compare(state, new_state, budget)
    if failure is None and extras:
        failure = _compare(extras, _slot(validated, "__pydantic_extra__") or {}, budget)
    return failure


def _check_dataclass(
    cls: type[Any], state: dict[str, Any], strict: bool | None, budget: Budget
) -> Failure | None:
    fields = cls.__pydantic_fields__
    data = {
        name: value
        for name, value in state.items()
        if name not in fields or fields[name].init is not False
    }
    try:
        validated = cls.__pydantic_validator__.validate_python(data, **_options(cls, strict))
    except ValidationError as exc:
        return _invalid(exc)
    except RecursionError:
        return _shape("its state is nested too deeply for pydantic to validate")
    new_state = object.__getattribute__(validated, "__dict__")
    return _compare_keys(state, new_state) or _compare(state, new_state, budget)


def _compare_keys(loaded: dict[str, Any], validated: dict[str, Any]) -> Failure | None:
    """Validation fills in every field and nothing else: the pickled ``__dict__`` must hold
    exactly those keys (no undeclared attribute, no field left out)."""
    if loaded.keys() == validated.keys():
        return None
    unknown = sorted(map(str, loaded.keys() - validated.keys()))
    missing = sorted(map(str, validated.keys() - loaded.keys()))
    return _shape(
        f"its attributes are not the ones validation gives (undeclared: {unknown[:5]}, "
        f"missing: {missing[:5]})"
    )


def _compare(loaded: dict[str, Any], validated: dict[str, Any], budget: Budget) -> Failure | None:
    """The first field whose loaded value differs from its validated value."""
    atoms = ATOMS
    for name, value in loaded.items():
        new = validated[name]
        cls = type(value)
        if value is new or (cls in atoms and type(new) is cls and value == new):
            continue
        # the common case: a list rebuilt around the very same items, checked in C
        if (
            cls is list
            and type(new) is list
            and len(value) == len(new)
            and all(map(operator.is_, value, new))
        ):
            budget.spend(len(value))
            continue
        difference = first_difference(value, new, budget)
        if difference is not None:
            message = (
                f"validation accepts field {name!r} only by changing it: "
                f"{difference.describe()}, so the pickled state is not one the model holds"
            )
            detail = {
                "type": "changed_by_validation",
                "loc": (name,),
                "msg": message,
                "input": difference.loaded,
            }
            return Failure(f"{name}: {message}", (detail,))
    return None


def _extras_problem(extras: Any, cls: type[BaseModel], kind: Kind) -> str | None:
    if cls.model_config.get("extra") == "allow" and kind is Kind.MODEL:
        if type(extras) is not dict or not all(type(key) is str for key in extras):
            return "its __pydantic_extra__ is not a dict of names, as extra='allow' needs"
        if extras.keys() & cls.__pydantic_fields__.keys():
            return "its extras repeat declared fields"
    elif extras:  # None, or {} when the pickle left it out (BaseModel.__setstate__'s default)
        return (
            f"it holds extra values {sorted(map(str, extras))[:5]} but its config does not "
            "say extra='allow'"
        )
    return None


def _fields_set_problem(fields_set: Any, state: dict[str, Any], extras: Any) -> str | None:
    if type(fields_set) is dict and not fields_set:
        return None  # BaseModel.__setstate__'s default when the pickle left it out
    if type(fields_set) is not set:
        return "its __pydantic_fields_set__ is not a set of field names"
    # (names that are not strings are not in state either once its keys are checked)
    if state.keys() >= fields_set or (extras and (state.keys() | extras.keys()) >= fields_set):
        return None
    names = state.keys() | (extras.keys() if extras else set())
    unknown = sorted(map(str, fields_set - names))
    return f"its __pydantic_fields_set__ names fields it does not have: {unknown[:5]}"


def _private_problem(private: Any, cls: type[BaseModel]) -> str | None:
    if private is None:
        return None
    if type(private) is not dict:
        return "its __pydantic_private__ is not a dict"
    undeclared = private.keys() - cls.__private_attributes__.keys()
    if undeclared:
        return (
            "its __pydantic_private__ holds undeclared private attributes: "
            f"{sorted(map(str, undeclared))[:5]}"
        )
    return None


_OPTIONS: dict[tuple[type, bool], dict[str, Any]] = {}


def _options(cls: type, strict: bool | None) -> dict[str, Any]:
    """Keyword arguments for ``validate_python``: only those that matter for ``cls``, since
    each costs pydantic-core about a microsecond per call. The state is keyed by field names,
    so a model with aliases is validated by name (``by_name=True``). Cached per class."""
    key = (cls, bool(strict))
    options = _OPTIONS.get(key)
    if options is None:
        options = {}
        if strict:
            options["strict"] = True
        fields = getattr(cls, "__pydantic_fields__", {})
        if any(f.alias is not None or f.validation_alias is not None for f in fields.values()):
            options.update(by_alias=False, by_name=True)
        if len(_OPTIONS) >= 4096:  # classes made at run time must not grow it forever
            _OPTIONS.clear()
        _OPTIONS[key] = options
    return options


def _slot(obj: Any, name: str) -> Any:
    try:
        return object.__getattribute__(obj, name)
    except AttributeError:
        return None


def _shape(reason: str) -> Failure:
    message = f"its pickled state is not one pydantic builds: {reason}"
    return Failure(message, ({"type": "invalid_pickled_state", "loc": (), "msg": message},))


def _invalid(exc: ValidationError) -> Failure:
    errors = exc.errors(include_url=False)
    shown = "; ".join(
        f"{format_loc(error['loc']).lstrip('.') or '(model)'}: {error['msg']} "
        f"[type={error['type']}, input={short(error.get('input'))}]"
        for error in errors[:5]
    )
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    count = f"{len(errors)} validation error{'s' if len(errors) != 1 else ''}"
    return Failure(f"{count}: {shown}{more}", tuple(dict(error) for error in errors))
