"""Check constraints judged in Python give the database's verdict, for every check
constraint of every model, on values around their limits (NULLs included)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import connection, models
from django.db.models import Q, Value
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rxdesk.core import constraints
from rxdesk.core.constraints import Unsupported, evaluate
from rxdesk.core.errors import Invalid
from rxdesk.core.services import full_clean
from rxdesk.rx.models import Prescription

pytestmark = pytest.mark.django_db

TZ = dt.UTC


def _checks() -> list[tuple[type[models.Model], models.CheckConstraint]]:
    return [
        (model, constraint)
        for model in apps.get_models()
        if model.__module__.startswith("rxdesk.")
        for constraint in model._meta.constraints
        if isinstance(constraint, models.CheckConstraint)
    ]


def _names(condition: Q) -> set[str]:
    names = set()
    for child in condition.children:
        if isinstance(child, Q):
            names |= _names(child)
        else:
            names.add(child[0].split("__")[0])
            if isinstance(child[1], models.F):
                names.add(child[1].deconstruct()[1][0])
    return names


def _values(field: models.Field) -> st.SearchStrategy:
    """Values around the limits our constraints use, of the field's own type."""
    none = st.just(None)
    if isinstance(field, models.BooleanField):
        return st.booleans() | none
    if isinstance(field, models.DecimalField):
        return (
            st.sampled_from([Decimal(x) for x in ("-1", "0", "0.001", "1", "9.99", "100")]) | none
        )
    if isinstance(field, models.FloatField):
        return st.sampled_from([-1.0, 0.0, 0.5, 1.0, 100.0]) | none
    if isinstance(field, models.IntegerField | models.ForeignKey):
        return (
            st.integers(-2, 400) | st.sampled_from([0, 1, 5, 9, 10, 11, 99, 100, 365, 366]) | none
        )
    if isinstance(field, models.DateTimeField):
        base = dt.datetime(2026, 1, 1, tzinfo=TZ)
        return st.integers(-3, 3).map(lambda d: base + dt.timedelta(days=d)) | none
    if isinstance(field, models.DateField):
        return st.integers(-3, 3).map(lambda d: dt.date(2026, 1, 1) + dt.timedelta(days=d)) | none
    if isinstance(field, models.CharField | models.TextField):
        choices = [str(value) for value, _ in field.flatchoices] if field.choices else []
        return st.sampled_from([*choices, "", "x", "CII", "CIII", "other"]) | none
    return none


CHECKS = _checks()


def test_the_common_constraints_are_judged_without_the_database():
    judged = 0
    for _model, constraint in CHECKS:
        row = {name: None for name in _names(Q(constraint.condition))}
        try:
            evaluate(Q(constraint.condition), row)
        except Unsupported:
            continue
        judged += 1
    assert len(CHECKS) > 100
    assert judged >= len(CHECKS) * 0.6, f"only {judged} of {len(CHECKS)} judged in Python"


@pytest.mark.parametrize(
    ("model", "constraint"), CHECKS, ids=[f"{m._meta.label}.{c.name}" for m, c in CHECKS]
)
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_python_verdict_is_the_databases(model, constraint, data):
    condition = Q(constraint.condition)
    fields = {f.name: f for f in model._meta.local_concrete_fields}
    names = _names(condition)
    if not names <= set(fields):
        pytest.skip("a condition on a related or computed field: always the database's")
    row = {name: data.draw(_values(fields[name]), label=name) for name in sorted(names)}
    try:
        verdict = evaluate(condition, row)
    except Unsupported:
        return  # goes to the database: nothing to compare
    against = {name: Value(value, fields[name]) for name, value in row.items()}
    assert (verdict is not False) == condition.check(against), row


def test_sql_three_valued_logic():
    row = {"a": None, "b": 1}
    assert evaluate(Q(a__gt=0), row) is None  # NULL > 0 is unknown
    assert evaluate(~Q(a__gt=0), row) is None
    assert evaluate(Q(a__gt=0) | Q(b=1), row) is True
    assert evaluate(Q(a__gt=0) & Q(b=2), row) is False
    assert evaluate(Q(a=None), row) is True  # Django writes this as IS NULL
    assert evaluate(Q(a__isnull=False) | Q(b__in=[2, None]), row) is False


def test_what_python_cannot_judge_is_left_to_the_database():
    row = {"name": "abc", "when": dt.date(2026, 1, 1), "at": dt.datetime(2026, 1, 1)}
    for condition in (
        Q(name__startswith="a"),  # a lookup we do not judge
        Q(name__gt="abb"),  # text order is the collation's
        Q(when__lt=dt.datetime(2026, 1, 2, tzinfo=TZ)),  # a date against a datetime
        Q(other=1),  # not a field of the row
        Q(product__name="x"),  # across a relation
        Q(name=models.functions.Lower("name")),  # an expression
    ):
        with pytest.raises(Unsupported):
            evaluate(condition, row)


def _prescription(**values) -> Prescription:
    rx = Prescription(
        site_id=1,
        number=1,
        patient_id=1,
        prescriber_id=1,
        drug_description="Amoxicillin 500 mg capsule",
        origin=1,
        quantity=Decimal(30),
        quantity_unit="EA",
        days_supply=30,
        directions="1 C PO TID",
        directions_en="Take 1 capsule by mouth 3 times a day.",
        date_written=dt.date(2026, 1, 1),
        expires_on=dt.date(2027, 1, 1),
        entered_by_id=1,
    )
    for name, value in values.items():
        setattr(rx, name, value)
    return rx


def test_a_broken_rule_is_refused_with_the_constraints_message_without_a_query(site):
    rx = _prescription(schedule="CII", refills_authorized=2)
    fk = ["site", "patient", "prescriber", "entered_by", "product", "package"]
    with CaptureQueriesContext(connection) as seen, pytest.raises(ValidationError) as raised:
        constraints.full_clean(rx, exclude=fk)
    assert not [q for q in seen.captured_queries if "_check" in q["sql"]]
    assert raised.value.messages == ["Constraint “rx_cii_no_refills” is violated."]


def test_the_service_helper_names_the_constraint_problem(site):
    rx = _prescription(schedule="CII", refills_authorized=2)
    fk = ["site", "patient", "prescriber", "entered_by", "product", "package"]
    with pytest.raises(Invalid) as raised:
        full_clean(rx, exclude=fk)
    # the same words Django's database check gives
    assert raised.value.errors == [
        {"field": "__all__", "message": "Constraint “rx_cii_no_refills” is violated."}
    ]
    full_clean(_prescription(), exclude=fk)  # a good prescription passes the same checks
