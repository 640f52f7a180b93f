"""The pharmacist-in-charge's flags and look-alike partners (services), and the seed lists
that propose hazardous and high-alert flags for new products."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from rxdesk.catalog import seeds, services
from rxdesk.catalog.models import Product
from rxdesk.core.errors import Conflict, CredentialExpired, Forbidden, Invalid
from tests.catalog.factories import ProductFactory
from tests.conftest import audit_count, last_event


@pytest.fixture
def product(db) -> Product:
    return ProductFactory(directory_dea_schedule="CIV")


def fresh(product: Product) -> Product:
    return Product.objects.get(pk=product.pk)


def flag_values(product: Product) -> dict:
    return {f: getattr(fresh(product), f) for f in services.FLAG_FIELDS}


# --- product_flags_update ---------------------------------------------------------------------


def test_it_changes_flags_and_records_before_and_after(pic, product):
    services.product_flags_update(
        actor=pic,
        product=product,
        dea_schedule_override="cii",
        high_alert=True,
        storage="freeze",
        cold_chain=True,
        protect_from_light=True,
        reason="State schedules it II",
    )

    assert flag_values(product) == {
        "dea_schedule_override": "CII",
        "hazardous": False,
        "high_alert": True,
        "storage": "freeze",
        "protect_from_light": True,
        "cold_chain": True,
        "rems": False,
        "maintenance": False,
        "unit_dose": False,
        "otc": False,
        "cmea": False,
        "cmea_base_mg": None,
    }
    assert fresh(product).dea_schedule == "CII"
    event = last_event()
    assert (event.action, event.actor_name, event.object_type, event.object_id) == (
        "catalog.product.flags_changed",
        "pic",
        "catalog.product",
        str(product.pk),
    )
    assert (event.reason, event.site_id, event.patient_id) == (
        "State schedules it II",
        pic.site_id,
        None,
    )
    assert json.loads(event.data) == {
        "product_ndc": "0002-3227",
        "before": {
            "cold_chain": False,
            "dea_schedule_override": "",
            "high_alert": False,
            "protect_from_light": False,
            "storage": "room",
        },
        "after": {
            "cold_chain": True,
            "dea_schedule_override": "CII",
            "high_alert": True,
            "protect_from_light": True,
            "storage": "freeze",
        },
    }


def test_setting_what_is_already_set_writes_nothing(pic, product):
    before = audit_count()
    services.product_flags_update(actor=pic, product=product, hazardous=False, storage="room")
    assert audit_count() == before


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"dea_schedule_override": "CVI"}, "dea_schedule_override"),
        ({"dea_schedule_override": "C2"}, "dea_schedule_override"),
        ({"storage": "attic"}, "storage"),
        ({"hazardous": "yes"}, "hazardous"),
        ({"otc": None}, "otc"),
        ({"name": "Renamed"}, "name"),  # not a flag
        ({"cold_chain": True}, "cold_chain"),  # cold chain at room temperature
    ],
)
def test_a_broken_rule_names_the_field_and_writes_nothing(pic, product, values, field):
    before = (audit_count(), flag_values(product))
    with pytest.raises(Invalid) as raised:
        services.product_flags_update(actor=pic, product=product, **values)
    assert [e["field"] for e in raised.value.errors] == [field]
    assert (audit_count(), flag_values(product)) == before


def test_a_state_may_schedule_more_strictly_never_less(pic, product):
    with pytest.raises(Conflict) as raised:
        services.product_flags_update(actor=pic, product=product, dea_schedule_override="CV")
    assert raised.value.field == "dea_schedule_override"
    assert raised.value.message == (
        "The FDA directory lists this drug in schedule CIV; a state may schedule it more "
        "strictly, never less (CV is less strict)."
    )
    services.product_flags_update(actor=pic, product=product, dea_schedule_override="CIV")
    services.product_flags_update(actor=pic, product=product, dea_schedule_override="CI")
    assert fresh(product).dea_schedule == "CI"
    services.product_flags_update(actor=pic, product=product, dea_schedule_override=None)
    assert fresh(product).dea_schedule == "CIV"


@pytest.mark.parametrize(
    "persona", ["technician", "trainee", "pharmacist", "inventory", "auditor", "admin_user"]
)
def test_only_the_pic_may_change_flags(request, product, persona):
    user = request.getfixturevalue(persona)
    before = (audit_count(), flag_values(product))
    with pytest.raises(Forbidden):
        services.product_flags_update(actor=user, product=product, hazardous=True)
    assert (audit_count(), flag_values(product)) == before


def test_a_pic_whose_license_lapsed_may_not(pic, product):
    pic.pharmacist_license_expires = pic.site.today() - dt.timedelta(days=1)
    pic.save()
    with pytest.raises(CredentialExpired):
        services.product_flags_update(actor=pic, product=product, hazardous=True)
    assert fresh(product).hazardous is False


# --- product_look_alike_set -------------------------------------------------------------------


def test_look_alike_partners_are_mutual_and_audited(pic, db):
    hydroxyzine = ProductFactory(name="Hydroxyzine", tall_man_name="hydrOXYzine")
    hydralazine = ProductFactory(name="Hydralazine", tall_man_name="hydrALAZINE")
    hydrocodone = ProductFactory(name="Hydrocodone", product_ndc="0406-0123")

    services.product_look_alike_set(
        actor=pic, product=hydroxyzine, partners=[hydralazine, hydrocodone, hydralazine]
    )

    assert set(hydroxyzine.look_alikes.all()) == {hydralazine, hydrocodone}
    assert list(hydralazine.look_alikes.all()) == [hydroxyzine]
    event = last_event()
    assert event.action == "catalog.product.look_alikes_changed"
    assert json.loads(event.data) == {
        "product_ndc": "0002-3227",
        "before": [],
        "after": [
            {
                "id": hydralazine.pk,
                "product_ndc": "0002-3227",
                "name": "hydrALAZINE 20 mg/1 CAPSULE",
            },
            {
                "id": hydrocodone.pk,
                "product_ndc": "0406-0123",
                "name": "Hydrocodone 20 mg/1 CAPSULE",
            },
        ],
    }

    services.product_look_alike_set(actor=pic, product=hydroxyzine, partners=[])
    assert list(hydralazine.look_alikes.all()) == []
    assert json.loads(last_event().data)["after"] == []


def test_the_same_partners_again_write_nothing(pic, db):
    a, b = ProductFactory(), ProductFactory()
    services.product_look_alike_set(actor=pic, product=a, partners=[b])
    before = audit_count()
    services.product_look_alike_set(actor=pic, product=a, partners=[b])
    assert audit_count() == before


def test_a_product_is_not_its_own_partner(pic, db):
    a = ProductFactory()
    with pytest.raises(Invalid) as raised:
        services.product_look_alike_set(actor=pic, product=a, partners=[a])
    assert raised.value.field == "partners"
    assert not a.look_alikes.exists()


def test_a_technician_may_not_set_partners(technician, db):
    a, b = ProductFactory(), ProductFactory()
    before = audit_count()
    with pytest.raises(Forbidden):
        services.product_look_alike_set(actor=technician, product=a, partners=[b])
    assert (audit_count(), a.look_alikes.count()) == (before, 0)


def test_flag_events_are_registered():
    from rxdesk.core.audit import ACTIONS

    assert {"catalog.product.flags_changed", "catalog.product.look_alikes_changed"} <= set(ACTIONS)


# --- seed lists -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("substances", "hazardous", "high_alert"),
    [
        ("METHOTREXATE SODIUM", True, True),
        ("WARFARIN SODIUM", True, True),
        ("TAMOXIFEN CITRATE", True, False),  # hormonal: NIOSH yes, ISMP chemotherapy no
        ("ESTRADIOL VALERATE", True, False),
        ("ESTROGENS, CONJUGATED", True, False),
        ("INSULIN GLARGINE", False, True),
        ("INSULIN HUMAN", False, True),
        ("OXYCODONE HYDROCHLORIDE; ACETAMINOPHEN", False, True),
        ("FENTANYL", False, True),
        ("VALPROIC ACID", True, True),
        ("MYCOPHENOLATE MOFETIL", True, True),
        ("CARBIDOPA; LEVODOPA", False, True),
        ("LISINOPRIL", False, False),
        ("ATORVASTATIN CALCIUM TRIHYDRATE", False, False),
        ("ESTRADIOLX", False, False),  # a whole word, not a fragment
        ("POTASSIUM CHLORIDE", False, False),  # only the injection concentrate is high-alert
        ("", False, False),
    ],
)
def test_seed_flags_from_the_substances(substances, hazardous, high_alert):
    assert seeds.seed_flags(substances) == {"hazardous": hazardous, "high_alert": high_alert}


def test_seed_flags_from_the_importers_fields_read_the_route():
    kcl = {"substances": "POTASSIUM CHLORIDE", "route": "INTRAVENOUS", "dosage_form": "INJECTION"}
    assert seeds.seed_flags(kcl) == {"hazardous": False, "high_alert": True}
    oral = {**kcl, "route": "ORAL", "dosage_form": "TABLET, EXTENDED RELEASE"}
    assert seeds.seed_flags(oral) == {"hazardous": False, "high_alert": False}
    homeopathic = {"substances": "ESTRADIOL", "marketing_category": "UNAPPROVED HOMEOPATHIC"}
    assert seeds.seed_flags(homeopathic) == {"hazardous": False, "high_alert": False}


def test_the_seed_lists_are_upper_case_names():
    for name in seeds.HAZARDOUS_INGREDIENTS | seeds.HIGH_ALERT_INGREDIENTS:
        assert name == name.upper().strip() and name
    assert "LIRAGLUTIDE" not in seeds.HAZARDOUS_INGREDIENTS  # left the NIOSH list in 2024
