"""Giving a vaccine: the happy path end to end, each broken rule (nothing written), the
roles, and the technician setting."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.utils import timezone

from rxdesk.core.choices import Role
from rxdesk.core.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from rxdesk.core.models import AuditEvent
from rxdesk.immunizations import services_administer as services
from rxdesk.immunizations.choices import RegistryAction, RegistryStatus, VisStatus
from rxdesk.immunizations.models import (
    Immunization,
    ImmunizationVis,
    RegistryMessage,
    VaccineLot,
    VisDocument,
)
from rxdesk.inventory import ledger
from rxdesk.inventory.choices import LotStatus, MoveReason
from rxdesk.inventory.models import StockBalance, StockMove
from tests.immunizations.administer_setup import (
    LOT,
    adult,
    all_no,
    child,
    dose_kwargs,
    pharmacist,
    ready,
)
from tests.immunizations.factories import (
    FLU_SALE_NDC10,
    flu_package,
    flu_vis,
    imm_settings,
    staff,
    stocked,
    vaccine,
)


def data(event: AuditEvent) -> dict:
    return json.loads(event.data)


def counts() -> dict[str, int]:
    return {
        "imm": Immunization.objects.count(),
        "vis": ImmunizationVis.objects.count(),
        "moves": StockMove.objects.count(),
        "messages": RegistryMessage.objects.count(),
        "events": AuditEvent.objects.exclude(action__startswith="auth.").count(),
    }


def on_hand(site) -> Decimal:
    return StockBalance.objects.get(site=site, lot__number=LOT).on_hand


def refused(exc_type, site, actor, patient, **over):
    before = counts()
    stock = on_hand(site)
    with pytest.raises(exc_type) as info:
        services.immunization_administer(actor=actor, **dose_kwargs(site, patient, **over))
    assert counts() == before
    assert on_hand(site) == stock
    return info.value


@pytest.fixture
def rph(site):
    ready(site)
    flu_vis()
    return pharmacist(site)


def test_it_gives_a_dose_end_to_end(site, rph):
    patient = adult(site)
    imm = services.immunization_administer(
        actor=rph, **dose_kwargs(site, patient, dose_number=1, protocol="Flu standing order")
    )

    imm.refresh_from_db()
    assert imm.vaccine.cvx == "150"
    assert imm.ndc11 == "49281042188"
    assert imm.lot_number == LOT and imm.funding == "private" and imm.eligibility == "V01"
    assert imm.dose_ml == Decimal("0.500") and imm.route == "C28161" and imm.body_site == "LD"
    assert imm.consent_by == "SEL" and imm.consent_name == patient.full_name
    assert imm.administered_by == rph and imm.screening_reviewed_by is None
    assert imm.reporting_due_at == imm.administered_at + dt.timedelta(hours=72)
    assert imm.contraindications == []
    # the ledger: one dose out of the carton's lot, referenced to the immunization
    assert on_hand(site) == Decimal("9")
    move = imm.stock_move
    assert move.reason == MoveReason.ADMINISTER and move.quantity == Decimal("-1")
    assert move.reference_type == "immunization" and move.reference_id == str(imm.pk)
    assert move.patient_id == patient.pk
    assert ledger.ledger_verify(site_id=site.pk)[1] == []
    # VIS, registry, audit
    assert list(imm.vis_given.values_list("presented_on", flat=True)) == [site.today()]
    msg = RegistryMessage.objects.get(immunization=imm)
    assert msg.action == RegistryAction.ADD and msg.status == RegistryStatus.QUEUED
    event = AuditEvent.objects.filter(action="immunizations.administered").get()
    assert event.patient_id == patient.pk and event.object_id == str(imm.pk)
    assert data(event)["lot"] == LOT and data(event)["stock_move"] == move.pk
    assert "Flu standing order" not in event.data


def test_an_ml_package_moves_the_dose_volume(site, rph):
    pkg = flu_package()
    pkg.billing_unit = "ML"
    pkg.save(update_fields=["billing_unit"])
    imm = services.immunization_administer(
        actor=rph, **dose_kwargs(site, adult(site), dose_ml="0.25")
    )
    assert imm.stock_move.quantity == Decimal("-0.250")
    assert on_hand(site) == Decimal("9.750")


def test_a_gs1_scan_of_the_syringe_is_accepted(site, rph):
    imm = services.immunization_administer(
        actor=rph,
        **dose_kwargs(site, adult(site), code="01003492814218841720063010UT7011AA"),
    )
    assert imm.ndc11 == "49281042188"


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"code": "12345-6789-01"}, "code"),
        ({"code": "not a code"}, "code"),
        ({"lot_number": "NOPE1"}, "lot_number"),
        ({"lot_number": ""}, "lot_number"),
        ({"expiry": dt.date(2031, 1, 1)}, "expiry"),
        ({"dose_ml": "0"}, "dose_ml"),
        ({"dose_ml": "1.5"}, "dose_ml"),
        ({"dose_ml": "0.5555"}, "dose_ml"),
        ({"dose_ml": "half"}, "dose_ml"),
        ({"route": "XX"}, "route"),
        ({"body_site": ""}, "body_site"),
        ({"body_site": "ZZ"}, "body_site"),
        ({"route": "C38284", "body_site": "LD"}, "body_site"),
        ({"eligibility": "V09"}, "eligibility"),
        ({"eligibility": "V02"}, "eligibility"),  # an adult is never VFC eligible
        ({"answers": all_no(pregnant="unknown")}, "answers"),
        ({"answers": {"sick_today": "no"}}, "answers"),
        ({"answers": all_no(made_up="no")}, "answers"),
        ({"answers": all_no(sick_today="maybe")}, "answers"),
        ({"consent_by": "XXX"}, "consent_by"),
        ({"consent_by": "GRD", "consent_name": ""}, "consent_name"),
        ({"vis": []}, "vis"),
        ({"vis": [(999999, dt.date(2024, 1, 1))]}, "vis[0]"),
        ({"administered_at": timezone.now() + dt.timedelta(hours=1)}, "administered_at"),
        ({"administered_at": dt.datetime(2024, 1, 1, 9, 0)}, "administered_at"),
        ({"dose_number": 0}, "dose_number"),
        ({"protocol": "x" * 201}, "protocol"),
    ],
)
def test_each_broken_rule_is_refused_naming_the_field(site, rph, over, field):
    exc = refused(DomainError, site, rph, adult(site), **over)
    fields = [e["field"] for e in exc.errors] or [exc.field]
    assert field in fields, exc.message


def test_the_vis_must_be_presented_on_the_day_and_not_later(site, rph):
    vis = VisDocument.objects.get()
    yesterday = site.today() - dt.timedelta(days=1)
    tomorrow = site.today() + dt.timedelta(days=1)
    exc = refused(Invalid, site, rph, adult(site), vis=[(vis.pk, tomorrow)])
    assert exc.field == "vis[0]"
    exc = refused(Invalid, site, rph, adult(site), vis=[(vis.pk, yesterday)])
    assert exc.field == "vis"
    refused(Invalid, site, rph, adult(site), vis=[(vis.pk, site.today()), (vis.pk, site.today())])


def test_a_historic_vis_edition_is_refused_when_a_current_one_exists(site, rph):
    current = VisDocument.objects.get()
    old = VisDocument.objects.create(
        name=current.name,
        edition_date=dt.date(2021, 8, 15),
        barcode="253088698300008611210815",
        status=VisStatus.HISTORIC,
    )
    old.vaccines.add(current.vaccines.get())
    exc = refused(Invalid, site, rph, adult(site), vis=[(old.pk, site.today())])
    assert "out of date" in exc.message


def test_a_vaccine_without_a_vis_on_file_needs_none(site, rph):
    kwargs = dose_kwargs(site, adult(site), vis=[])
    VisDocument.objects.all().delete()
    imm = services.immunization_administer(actor=rph, **kwargs)
    assert imm.vis_given.count() == 0


def test_a_contraindication_refuses_the_dose(site, rph):
    exc = refused(Conflict, site, rph, adult(site), answers=all_no(allergy_vaccine="yes"))
    assert exc.message.startswith("Do not vaccinate:")
    assert exc.field == "answers"


def test_a_precaution_needs_a_pharmacists_note(site, rph):
    patient = adult(site)
    exc = refused(Invalid, site, rph, patient, answers=all_no(sick_today="yes"))
    assert exc.field == "screening_note"
    imm = services.immunization_administer(
        actor=rph,
        **dose_kwargs(
            site,
            patient,
            answers=all_no(sick_today="yes"),
            screening_note="Mild cold only, afebrile 98.4 F: safe to vaccinate.",
        ),
    )
    assert imm.screening_reviewed_by == rph
    assert imm.contraindications == [
        {"code": "sick_today", "kind": "precaution", "text": imm.contraindications[0]["text"]}
    ]


def test_a_technician_with_a_precaution_names_the_reviewing_pharmacist(site, rph):
    imm_settings(site, technicians_administer=True)
    tech = staff(site, Role.TECHNICIAN)
    imm = services.immunization_administer(
        actor=tech,
        **dose_kwargs(
            site,
            adult(site),
            answers=all_no(allergy_latex="yes"),
            supervising_pharmacist=rph,
            screening_note="Latex-free syringe per package insert.",
        ),
    )
    assert imm.screening_reviewed_by == rph and imm.supervising_pharmacist == rph
    assert imm.administered_by == tech


def test_a_technician_may_not_vaccinate_unless_the_state_allows_it(site, rph):
    tech = staff(site, Role.TECHNICIAN)
    exc = refused(Forbidden, site, tech, adult(site), supervising_pharmacist=rph)
    assert "Technicians may not give vaccines" in exc.message
    imm_settings(site, technicians_administer=True)
    imm = services.immunization_administer(
        actor=tech, **dose_kwargs(site, adult(site), supervising_pharmacist=rph)
    )
    assert imm.supervising_pharmacist == rph


def test_a_technician_names_a_current_pharmacist_of_the_site(site, other_site, rph):
    imm_settings(site, technicians_administer=True)
    tech = staff(site, Role.TECHNICIAN)
    exc = refused(Invalid, site, tech, adult(site))
    assert exc.field == "supervising_pharmacist"
    exc = refused(Invalid, site, tech, adult(site), supervising_pharmacist=tech)
    assert exc.field == "supervising_pharmacist"
    elsewhere = staff(other_site, Role.PHARMACIST, username="rph-elsewhere")
    refused(Invalid, site, tech, adult(site), supervising_pharmacist=elsewhere)
    rph.pharmacist_license_expires = dt.date(2020, 1, 1)
    rph.save(update_fields=["pharmacist_license_expires"])
    refused(Invalid, site, tech, adult(site), supervising_pharmacist=rph)


def test_age_limits_of_the_site_and_of_technicians(site, rph):
    imm_settings(site, technicians_administer=True, technician_minimum_age_months=84)
    tech = staff(site, Role.TECHNICIAN)
    young = child(site, years=5)
    exc = refused(
        Conflict,
        site,
        tech,
        young,
        supervising_pharmacist=rph,
        consent_by="MTH",
        consent_name="Mary Kid",
    )
    assert "a technician vaccinates patients from 7 years" in exc.message
    services.immunization_administer(
        actor=rph, **dose_kwargs(site, young, consent_by="MTH", consent_name="Mary Kid")
    )
    toddler = child(site, years=2, first_name="Tod")
    exc = refused(Conflict, site, rph, toddler, consent_by="MTH", consent_name="Mary Kid")
    assert exc.field == "patient"


def test_forbidden_roles_write_nothing(site, rph):
    for role in (Role.TECHNICIAN_IN_TRAINING, Role.INVENTORY_SPECIALIST, Role.AUDITOR, Role.ADMIN):
        refused(Forbidden, site, staff(site, role), adult(site))


def test_another_sites_patient_is_not_found(site, other_site, rph):
    refused(NotFound, site, rph, adult(other_site))


def test_a_minor_needs_a_parents_consent(site, rph):
    kid = child(site, years=10)
    exc = refused(Invalid, site, rph, kid)
    assert exc.field == "consent_by"
    imm = services.immunization_administer(
        actor=rph, **dose_kwargs(site, kid, consent_by="FTH", consent_name="Frank Kid")
    )
    assert imm.consent_by == "FTH" and imm.consent_name == "Frank Kid"


def test_an_adult_may_consent_through_a_named_guardian(site, rph):
    imm = services.immunization_administer(
        actor=rph,
        **dose_kwargs(site, adult(site), consent_by="GRD", consent_name="Grace Hopper"),
    )
    assert imm.consent_by == "GRD"


def test_vfc_stock_only_for_a_vfc_eligible_child(site):
    stocked(site, funding="vfc", lot="VFC001", quantity=5)
    rph = pharmacist(site)
    imm_settings(site)
    kid = child(site)
    parent = {"consent_by": "MTH", "consent_name": "Mary Kid"}
    before = counts()
    for patient, eligibility in ((adult(site), "V01"), (kid, "V01")):
        with pytest.raises(Conflict) as info:
            services.immunization_administer(
                actor=rph,
                **dose_kwargs(
                    site,
                    patient,
                    lot_number="VFC001",
                    eligibility=eligibility,
                    **(parent if patient == kid else {}),
                ),
            )
        assert "VFC stock" in info.value.message
    assert counts() == before
    imm = services.immunization_administer(
        actor=rph, **dose_kwargs(site, kid, lot_number="VFC001", eligibility="V03", **parent)
    )
    assert imm.funding == "vfc" and imm.eligibility == "V03" and imm.note == ""


def test_a_vfc_eligible_child_given_private_stock_is_recorded_with_a_warning(site, rph):
    kid = child(site)
    imm = services.immunization_administer(
        actor=rph,
        **dose_kwargs(site, kid, eligibility="V02", consent_by="PAR", consent_name="Pat Kid"),
    )
    assert imm.funding == "private"
    assert "VFC-eligible patient (V02) given privately purchased stock" in imm.note
    assert data(AuditEvent.objects.get(action="immunizations.administered"))[
        "private_stock_for_vfc_child"
    ]


def test_a_lot_without_its_funding_recorded_is_refused(site, rph):
    VaccineLot.objects.all().delete()
    exc = refused(Invalid, site, rph, adult(site))
    assert "VFC, state or private stock first" in exc.message


def test_a_recalled_or_expired_lot_is_refused(site, rph):
    StockBalance.objects.filter(site=site).update(status=LotStatus.RECALLED)
    exc = refused(Conflict, site, rph, adult(site))
    assert exc.field == "lot_number" and "recalled" in exc.message.lower()
    StockBalance.objects.filter(site=site).update(status=LotStatus.AVAILABLE)
    stocked(site, lot="OLD1", expiry=dt.date(2020, 1, 31))
    exc = refused(Invalid, site, rph, adult(site), lot_number="OLD1")
    assert "expired on 01/31/2020" in exc.message


def test_another_sites_stock_is_not_used(site, other_site, rph):
    StockMove.objects.all()  # the lot exists only at other_site for this number
    stocked(other_site, lot="THEIRS1")
    exc = refused(Invalid, site, rph, adult(site), lot_number="THEIRS1")
    assert exc.field == "lot_number"


def test_the_dose_cannot_predate_the_lots_receipt(site, rph):
    exc = refused(
        Invalid,
        site,
        rph,
        adult(site),
        administered_at=timezone.now() - dt.timedelta(hours=2),
    )
    assert "received" in exc.message


def test_no_stock_left_is_refused(site):
    imm_settings(site)
    stocked(site, lot=LOT, quantity=1)
    rph = pharmacist(site)
    services.immunization_administer(actor=rph, **dose_kwargs(site, adult(site)))
    refused(Conflict, site, rph, adult(site, first_name="Bea"))


def test_the_same_vaccine_twice_in_a_day_is_refused(site, rph):
    patient = adult(site)
    services.immunization_administer(actor=rph, **dose_kwargs(site, patient))
    exc = refused(Conflict, site, rph, patient)
    assert "already recorded" in exc.message


def test_live_vaccine_rules_count_for_a_live_vaccine(site, rph):
    # make the flu vaccine "live" for the test: pregnancy is then a contraindication
    flu = vaccine("150")
    flu.live = True
    flu.save(update_fields=["live"])
    exc = refused(Conflict, site, rph, adult(site), answers=all_no(pregnant="yes"))
    assert "live vaccine" in exc.message
    flu.live = False
    flu.save(update_fields=["live"])
    imm = services.immunization_administer(
        actor=rph, **dose_kwargs(site, adult(site), answers=all_no(pregnant="yes"))
    )
    assert imm.contraindications == []


def test_the_carton_ndc_is_accepted_too(site, rph):
    imm = services.immunization_administer(
        actor=rph, **dose_kwargs(site, adult(site), code=FLU_SALE_NDC10)
    )
    assert imm.ndc11 == "49281042150"
