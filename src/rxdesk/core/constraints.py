"""Check constraints judged in Python before a save, without a round trip per constraint.

Django validates a model's ``CheckConstraint`` by asking the database (``SELECT … WHERE
COALESCE(condition, TRUE)`` inside a savepoint): three statements per constraint, six
constraints on a prescription — a fifth of an intake's SQL. Most of our conditions are plain
comparisons of the row's own fields with constants (``quantity > 0``, ``daw <= 9``,
``NOT schedule = 'CII' OR refills = 0``), which Python can judge exactly as SQL does, with
SQL's three-valued logic (a comparison with NULL is unknown, and an unknown condition
passes, as the database's CHECK lets it pass).

Anything this module is not sure to judge as the database would — a lookup other than the
plain comparisons, a related field, an expression, ordering of text (collations differ),
mixed types — is handed back to Django's own database check, so the result is always the
database's. The database's CHECK stays the last word on every write either way."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models, router
from django.db.models import F, Q

UNKNOWN = None  # SQL's third truth value

_COMPARE = {
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
}


class Unsupported(Exception):
    """This condition needs the database to judge it."""


def _operand(value: Any, row: dict[str, Any]) -> Any:
    if type(value) is F:
        name = str(value.deconstruct()[1][0])
        if name not in row:
            raise Unsupported(name)
        return row[name]
    if hasattr(value, "resolve_expression"):
        raise Unsupported(repr(value))
    return value


def _kind(value: Any) -> str | None:
    """Which values SQL and Python compare alike: booleans, text (equality only), numbers,
    and dates, datetimes and times each only with their own kind."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "text"
    if isinstance(value, int | float | Decimal):
        return "number"
    for kind in (dt.datetime, dt.date, dt.time):  # a datetime is also a date: first
        if isinstance(value, kind):
            return kind.__name__
    return None


def _compare(key: str, op: Any, left: Any, right: Any) -> bool:
    try:
        return bool(op(left, right))
    except TypeError:  # e.g. an aware and a naive datetime
        raise Unsupported(key) from None


def _lookup(key: str, value: Any, row: dict[str, Any]) -> bool | None:
    name, _, lookup = key.partition("__")
    lookup = lookup or "exact"
    if name not in row or "__" in lookup:
        raise Unsupported(key)
    left = row[name]
    if hasattr(left, "resolve_expression"):
        raise Unsupported(key)
    if lookup == "isnull":
        if not isinstance(value, bool):
            raise Unsupported(key)
        return (left is None) is value
    right = _operand(value, row)
    if lookup == "exact":
        if right is None and type(value) is not F:
            return left is None  # Django writes `= None` as IS NULL
        if left is None or right is None:
            return UNKNOWN
        if _kind(left) is None or _kind(left) != _kind(right):
            raise Unsupported(key)
        return _compare(key, lambda a, b: a == b, left, right)
    if lookup == "in":
        if isinstance(right, str) or not isinstance(right, Iterable):
            raise Unsupported(key)
        options = [v for v in right if v is not None]  # Django drops NULLs from IN lists
        if not options:
            raise Unsupported(key)
        if left is None:
            return UNKNOWN
        return any(_lookup(f"{name}__exact", v, row) for v in options)
    if lookup in _COMPARE:
        if left is None or right is None:
            return UNKNOWN
        kind = _kind(left)
        if kind in (None, "text", "bool") or kind != _kind(right):
            raise Unsupported(key)  # text orders by collation in SQL: the database judges
        return _compare(key, _COMPARE[lookup], left, right)
    raise Unsupported(key)


def evaluate(condition: Q, row: dict[str, Any]) -> bool | None:
    """The truth of ``condition`` for the field values ``row`` (True, False or None for
    SQL's unknown), or :class:`Unsupported`."""
    results: list[bool | None] = []
    for child in condition.children:
        if isinstance(child, Q):
            results.append(evaluate(child, row))
        elif isinstance(child, tuple) and len(child) == 2 and isinstance(child[0], str):
            results.append(_lookup(child[0], child[1], row))
        else:
            raise Unsupported(repr(child))
    if condition.connector == Q.AND:
        result = False if False in results else (UNKNOWN if UNKNOWN in results else True)
    elif condition.connector == Q.OR:
        result = True if True in results else (UNKNOWN if UNKNOWN in results else False)
    else:
        raise Unsupported(condition.connector)
    if condition.negated:
        return UNKNOWN if result is UNKNOWN else not result
    return result


def _row(instance: models.Model, exclude: set[str]) -> dict[str, Any]:
    """The row's values by field name, as Django's own check sees them."""
    row: dict[str, Any] = {}
    for field in instance._meta.local_concrete_fields:
        if field.name in exclude:
            continue
        if field.generated:
            continue  # not in `row`: a condition naming it goes to the database
        row[field.name] = getattr(instance, field.attname)
    if "pk" not in exclude:
        row["pk"] = instance.pk
    return row


def validate_constraints(instance: models.Model, exclude: set[str]) -> None:
    """Django's ``Model.validate_constraints``, judging plain check constraints in Python
    and everything else (unique constraints, expressions) with the database as Django does."""
    using = router.db_for_write(type(instance), instance=instance)
    row = _row(instance, exclude)
    errors: dict[str, list[ValidationError]] = {}
    for model_class, model_constraints in instance.get_constraints():
        for constraint in model_constraints:
            try:
                if isinstance(constraint, models.CheckConstraint) and model_class is type(instance):
                    try:
                        verdict = evaluate(Q(constraint.condition), row)
                    except Unsupported:
                        constraint.validate(model_class, instance, exclude=exclude, using=using)
                    else:
                        if verdict is False:
                            raise ValidationError(
                                constraint.get_violation_error_message(),
                                code=constraint.violation_error_code,
                            )
                else:
                    constraint.validate(model_class, instance, exclude=exclude, using=using)
            except ValidationError as exc:
                fields: tuple[str, ...] = tuple(getattr(constraint, "fields", ()))
                if getattr(exc, "code", None) == "unique" and len(fields) == 1:
                    errors.setdefault(fields[0], []).append(exc)
                else:
                    errors = exc.update_error_dict(errors)
    if errors:
        raise ValidationError(errors)


def full_clean(instance: models.Model, exclude: Iterable[str] | None = None) -> None:
    """``Model.full_clean`` (fields, ``clean()``, uniqueness, constraints) with the check
    constraints judged by :func:`validate_constraints`; raises one ValidationError with
    every problem, as Django's does."""
    excluded = set(exclude or ())
    errors: dict[str, list[ValidationError]] = {}
    try:
        instance.full_clean(exclude=excluded, validate_unique=True, validate_constraints=False)
    except ValidationError as exc:
        errors = exc.update_error_dict(errors)
    excluded |= {name for name in errors if name != NON_FIELD_ERRORS}
    try:
        validate_constraints(instance, excluded)
    except ValidationError as exc:
        errors = exc.update_error_dict(errors)
    if errors:
        raise ValidationError(errors)
