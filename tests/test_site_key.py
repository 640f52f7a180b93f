"""Every table is classified: it carries its pharmacy (a ``site`` key), or it is reached only
through a parent that does (named below), or it is reference data every pharmacy shares
(named below, with the reason). A new table fails ``test_every_table_is_classified`` until
it is placed in one of the three deliberately. ``_meta`` only: no database.

Why: past one database the chain is distributed by ``site_id`` (DESIGN.md, scale), and every
query a person makes is scoped by their pharmacy; a site-owned row without its site, or
without a parent that has one, could not be scoped."""

from __future__ import annotations

from django.apps import apps
from django.db.models import Model

from rxdesk.core.models import Site

# Framework tables (sign-in, sessions, lockouts, second factors): not pharmacy records.
FRAMEWORK_APPS = {"auth", "axes", "contenttypes", "otp_totp", "sessions"}

# Reference data every pharmacy shares: no PHI, no pharmacy's own records.
SHARED: dict[str, str] = {
    "core.Organization": "the business that owns the sites",
    "core.Site": "the pharmacy itself: the key every other row carries",
    "catalog.Product": "the national drug catalog",
    "catalog.Ingredient": "the national drug catalog",
    "catalog.Package": "the national drug catalog (NDC packages)",
    "catalog.PackagePrice": "published package prices (AWP/WAC), the same for everyone",
    "catalog.ApplicationProduct": "FDA application listings",
    "catalog.ImportRun": "catalog import runs (the catalog is shared)",
    "inventory.Lot": "a manufacturer's lot of a package: a recall names lots, not stock",
    "screening.KnowledgeSource": "the interaction knowledge base",
    "screening.InteractionRule": "the interaction knowledge base",
    "screening.InteractionMember": "the interaction knowledge base",
    "claims.Payer": "payers (BIN/PCN) are the same for every pharmacy",
    "claims.Plan": "a payer's plans are the same for every pharmacy",
    "institutional.Appearance": "what a product looks like (the catalog's imprint data)",
    "immunizations.Vaccine": "the CDC vaccine code tables (CVX)",
    "immunizations.Manufacturer": "the CDC manufacturer code table (MVX)",
    "immunizations.VaccineNdc": "the CDC NDC-to-CVX crosswalk",
    "immunizations.VisDocument": "the CDC Vaccine Information Statements",
}

# Site-owned rows without their own site key: the parent (field) that carries it.
THROUGH_PARENT: dict[str, str] = {
    "core.ApiToken": "user",
    "patients.PatientIdentifier": "patient",
    "patients.Allergy": "patient",
    "patients.Condition": "patient",
    "patients.Measurement": "patient",
    "patients.Coverage": "patient",
    "patients.PrescriberAddress": "prescriber",
    "inventory.PurchaseOrderLine": "order",
    "inventory.ReceiptLine": "receipt",
    "inventory.CycleCountLine": "count",
    "inventory.VendorReturnLine": "vendor_return",
    "inventory.RecallItem": "recall",
    "inventory.RecallStock": "balance",
    "inventory.StockTransferLine": "transfer",
    "inventory.TemperatureReading": "location",
    "inventory.Excursion": "location",
    "inventory.ExcursionStock": "excursion",
    "rx.FillEvent": "fill",
    "rx.Transfer": "prescription",
    "pos.SaleLine": "sale",
    "pos.Tender": "sale",
    "pos.Refund": "sale",
    "pos.HouseEntry": "account",
    "claims.FillBilling": "fill",
    "claims.PriorAuthEvent": "prior_auth",
    "claims.PriorAuthDocument": "prior_auth",
    "controlled.Form222Line": "order",
    "controlled.Form222Receipt": "line",
    "controlled.CsInventoryLine": "inventory",
    "controlled.InvestigationNote": "investigation",
    "controlled.InvestigationEvidence": "investigation",
    "controlled.TheftLossLine": "loss",
    "controlled.DestructionLine": "destruction",
    "controlled.PmpRecord": "submission",
    "compounding.FormulaIngredient": "formula",
    "compounding.RecordComponent": "record",
    "compounding.QualityCheck": "record",
    "institutional.PassTime": "facility",
    "institutional.Unit": "facility",
    "institutional.CensusEvent": "resident",
    "institutional.OrderSchedule": "prescription",
    "institutional.CycleSchedule": "facility",
    "institutional.CycleLine": "run",
    "institutional.MedPakItem": "pak",
    "institutional.Pocket": "cabinet",
    "institutional.PocketStock": "pocket",
    "institutional.OverrideReview": "move",
    "immunizations.ImmunizationVis": "immunization",
    "care.MedRecItem": "medrec",
    "care.MedRecDiscrepancy": "medrec",
    "care.AdverseEventProduct": "report",
    "care.RootCauseAnalysis": "event",
    "care.ContributingFactor": "rca",
    "care.ActionItem": "rca",
    "care.InquiryEntry": "inquiry",
    "fhir.ExportFile": "export",
}


def _tables() -> list[type[Model]]:
    return [
        m
        for m in apps.get_models()
        if m._meta.app_label not in FRAMEWORK_APPS and m._meta.managed and not m._meta.proxy
    ]


def _site_key(model: type[Model]) -> bool:
    """The model has a required-or-not concrete FK (or one-to-one) to Site."""
    return any(
        f.is_relation and f.concrete and f.related_model is Site
        for f in model._meta.get_fields()
        if f.many_to_one or f.one_to_one
    )


def _reaches_site(model: type[Model], seen: frozenset[str] = frozenset()) -> bool:
    label = model._meta.label
    if _site_key(model):
        return True
    if label not in THROUGH_PARENT or label in seen:
        return False
    parent = model._meta.get_field(THROUGH_PARENT[label]).related_model
    assert isinstance(parent, type)
    return _reaches_site(parent, seen | {label})


def test_every_table_is_classified():
    unclassified = sorted(
        m._meta.label
        for m in _tables()
        if not _site_key(m) and m._meta.label not in SHARED | THROUGH_PARENT
    )
    assert unclassified == []


def test_the_lists_name_only_real_tables_without_a_site_key():
    labels = {m._meta.label: m for m in _tables()}
    listed = set(SHARED) | set(THROUGH_PARENT)
    assert listed <= set(labels)
    assert set(SHARED).isdisjoint(THROUGH_PARENT)
    # A table that gained its own site key leaves the lists (Site points to nothing).
    assert sorted(x for x in listed - {"core.Site"} if _site_key(labels[x])) == []


def test_each_parent_is_a_required_key_that_reaches_a_site():
    for label, field_name in THROUGH_PARENT.items():
        field = apps.get_model(label)._meta.get_field(field_name)
        assert field.many_to_one or field.one_to_one, label
        assert not field.null, f"{label}.{field_name} may be empty: the row would lose its site"
        assert _reaches_site(apps.get_model(label)), label


def test_shared_tables_hold_no_site_owned_key():
    """Reference data points only at other reference data, never at a pharmacy's rows."""
    for label in SHARED:
        for f in apps.get_model(label)._meta.get_fields():
            if f.concrete and f.is_relation and (f.many_to_one or f.one_to_one):
                target = f.related_model._meta.label
                assert target in SHARED or target == "core.User", (label, f.name, target)
