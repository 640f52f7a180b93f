"""The catalog screens: search with htmx partials and a bounded number of queries, the scan
box for every kind of code, a product's page, and the pharmacist-in-charge's flags form."""

from __future__ import annotations

import json
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.urls import reverse

from rxdesk.catalog.models import Product
from rxdesk.catalog.ndc import ndc_to_gtin14, ndc_to_upc
from rxdesk.core.choices import Role
from rxdesk.core.models import AuditEvent, User
from tests.catalog.factories import (
    ApplicationProductFactory,
    IngredientFactory,
    PackageFactory,
    PriceFactory,
    ProductFactory,
)
from tests.conftest import audit_count

GS = "\x1d"


@pytest.fixture(autouse=True)
def _plain_http(settings):
    settings.SECURE_SSL_REDIRECT = False


def sign_in(user: User) -> Client:
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


@pytest.fixture
def oxycodone(db) -> Product:
    product = ProductFactory(
        name="Oxycodone Hydrochloride",
        tall_man_name="oxyCODONE Hydrochloride",
        generic_name="Oxycodone Hydrochloride",
        strength="5 mg/1",
        dosage_form="TABLET",
        substances="OXYCODONE HYDROCHLORIDE",
        directory_dea_schedule="CII",
        high_alert=True,
        labeler="Rhodes Pharmaceuticals",
        application_number="",
    )
    PackageFactory(
        product=product,
        ndc10="42858-001-01",
        description="100 TABLET in 1 BOTTLE (42858-001-01)",
        package_quantity=Decimal(100),
    )
    return product


# --- search -----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", list(Role))
def test_every_role_finds_drugs(site, oxycodone, role):
    user = User.objects.create(username=f"v-{role.value}", role=role, site=site)
    response = sign_in(user).get(reverse("catalog_search"), {"q": "oxyc"})
    assert response.status_code == 200
    assert b"oxyCODONE Hydrochloride" in response.content
    assert b'href="/catalog/"' in response.content  # "Catalog" in the navigation


def test_results_tell_look_alikes_apart(technician, oxycodone):
    response = sign_in(technician).get(reverse("catalog_search"), {"q": "oxycodone 5"})
    html = response.content.decode()
    drug = '<strong class="drug-name">oxyCODONE Hydrochloride</strong> <strong>5 mg</strong>'
    assert f"{drug} <strong>tablet</strong>" in html
    assert "<strong>100 EA</strong>" in html
    assert '<span class="badge danger" title="DEA schedule CII">CII</span>' in html
    assert "high-alert" in html
    assert "Rhodes Pharmaceuticals" in html
    assert f'href="/catalog/products/{oxycodone.pk}/" data-result' in html


def test_htmx_gets_only_the_results(technician, oxycodone):
    response = sign_in(technician).get(
        reverse("catalog_search"), {"q": "oxyc"}, headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert "<table" in html and "<html" not in html and 'id="id_code"' not in html


def test_two_characters_list_nothing_and_say_why(technician, oxycodone):
    html = sign_in(technician).get(reverse("catalog_search"), {"q": "ox"}).content.decode()
    assert "Type at least 3 letters" in html and "oxyCODONE" not in html


def test_nothing_found_says_so(technician, oxycodone):
    html = sign_in(technician).get(reverse("catalog_search"), {"q": "zzzq"}).content.decode()
    assert "Nothing in the catalog matches “zzzq”." in html


def test_an_ndc_search_shows_the_package(technician, oxycodone):
    html = sign_in(technician).get(reverse("catalog_search"), {"q": "42858-001"}).content.decode()
    assert "42858-001-01" in html and "100 TABLET in 1 BOTTLE" in html
    assert f"/catalog/products/{oxycodone.pk}/?package=42858000101" in html


def test_the_results_page_costs_a_fixed_number_of_queries(
    technician, db, django_assert_max_num_queries
):
    for n in range(30):
        product = ProductFactory(name=f"Metformin {n:02d}", product_ndc=f"1000-{n:04d}")
        PackageFactory(product=product, ndc10=f"1000-{n:04d}-01")
        PackageFactory(product=product, ndc10=f"1000-{n:04d}-02")
    client = sign_in(technician)
    client.get(reverse("catalog_search"))  # warm the session

    # The stack's own 7 (session read and save, user, site, second factor) and the search's
    # 4: the exact-name and name tiers of the ranking, the 25 products, their packages.
    with django_assert_max_num_queries(11) as captured:
        response = client.get(reverse("catalog_search"), {"q": "metf"})

    assert response.content.decode().count("data-result") == 25
    assert len([q for q in captured.captured_queries if "catalog_" in q["sql"]]) == 4


# --- scanning ---------------------------------------------------------------------------------


def scan(client: Client, code: str):
    return client.get(reverse("catalog_scan"), {"code": code})


@pytest.mark.parametrize(
    "code",
    [
        "42858-001-01",
        "42858000101",
        "4285800101",
        ndc_to_upc("42858-001-01"),
        ndc_to_gtin14("42858-001-01"),
    ],
)
def test_a_scan_opens_the_product_at_its_package(technician, oxycodone, code):
    response = scan(sign_in(technician), code)
    assert response.status_code == 302
    url = urlsplit(response["Location"])
    assert (url.path, parse_qs(url.query)) == (
        f"/catalog/products/{oxycodone.pk}/",
        {"package": ["42858000101"]},
    )


def test_a_2d_barcode_brings_lot_expiry_and_serial_to_the_product(technician, oxycodone):
    client = sign_in(technician)
    code = f"01{ndc_to_gtin14('42858-001-01')}17280229" + f"10LT77{GS}21S123"

    response = scan(client, code)
    page = client.get(response["Location"])

    html = page.content.decode()
    assert 'lot <strong class="mono">LT77</strong>' in html
    assert "expires <strong>2028-02-29</strong>" in html
    assert 'serial <span class="mono">S123</span>' in html
    assert 'id="scanned-package"' in html


@pytest.mark.parametrize(
    ("code", "status", "message"),
    [
        ("0002-9999-99", 404, "No package with NDC 00002-9999-99 is in the catalog."),
        ("hello", 422, "This is not an NDC, UPC, GTIN or GS1 barcode."),
        ("300023227301", 422, "The check digit of this UPC is wrong (expected 0)."),
        ("", 422, "This field is required."),
    ],
)
def test_a_bad_or_unknown_scan_is_explained_beside_the_box(
    technician, oxycodone, code, status, message
):
    response = scan(sign_in(technician), code)
    assert response.status_code == status
    assert message in response.content.decode()


def test_an_ambiguous_scan_lists_the_candidates(technician, db):
    PackageFactory(ndc10="0002-3227-30")
    PackageFactory(product=ProductFactory(name="Other"), ndc10="00023-227-30")

    response = scan(sign_in(technician), "0002322730")

    assert response.status_code == 409
    html = response.content.decode()
    assert "2 packages have NDC 0002322730" in html
    assert "/catalog/scan/?code=0002-3227-30" in html
    assert "/catalog/scan/?code=00023-227-30" in html


def test_the_scan_page_without_a_code_is_the_search_page(technician, db):
    response = sign_in(technician).get(reverse("catalog_scan"))
    assert response.status_code == 200 and b'id="id_code"' in response.content


# --- the product page -------------------------------------------------------------------------


def test_the_product_page_shows_what_a_safe_fill_needs(auditor, db):
    today = auditor.site.today()  # prices apply from the pharmacy's date
    prozac = ProductFactory(directory_dea_schedule="", maintenance=True)
    IngredientFactory(product=prozac, position=1)
    package = PackageFactory(product=prozac)
    PriceFactory(package=package, kind="acquisition", amount=Decimal("9.87"), effective_on=today)
    ApplicationProductFactory(appl_no="018936", product_no="001", te_code="AB")
    ApplicationProductFactory(appl_no="075000", product_no="001", te_code="AB")
    generic = ProductFactory(name="Fluoxetine", application_number="ANDA075000", labeler="Teva")

    response = sign_in(auditor).get(reverse("catalog_product", kwargs={"pk": prozac.pk}))

    html = response.content.decode()
    assert response.status_code == 200
    for text in [
        "00002-3227-30",  # 11-digit
        "0002-3227-30",  # 10-digit as printed
        "30 CAPSULE in 1 BOTTLE",
        "<strong>30 EA</strong>",
        "FLUoxetine hydrochloride <strong>20 mg</strong>",  # tall-man lettering
        "Serotonin Reuptake Inhibitor [EPC]",
        "from 01/04/1988",
        "Acquisition cost $9.87",
        "not controlled",
        f'href="/catalog/products/{generic.pk}/" data-result',
        "<td><strong>AB</strong></td>",
        "maintenance",
    ]:
        assert text in html, text
    assert "Edit flags" not in html  # an auditor reads only


def test_a_b_rated_product_says_nothing_may_be_substituted(technician, db):
    ApplicationProductFactory(appl_no="077000", product_no="001", te_code="BX")
    product = ProductFactory(application_number="ANDA077000")
    html = sign_in(technician).get(f"/catalog/products/{product.pk}/").content.decode()
    assert "This product is not A-rated: no product may be substituted for it." in html


def test_an_unknown_product_is_a_404_page(technician, db):
    assert sign_in(technician).get("/catalog/products/999999/").status_code == 404


# --- the flags form ---------------------------------------------------------------------------


def flags_post(product: Product, **changes) -> dict:
    values = {
        "dea_schedule_override": product.dea_schedule_override,
        "storage": product.storage,
        "look_alikes": "",
        "reason": "",
    }
    for name in ("hazardous", "high_alert", "rems", "protect_from_light", "cold_chain",
                 "maintenance", "unit_dose", "otc"):  # fmt: skip
        if getattr(product, name):
            values[name] = "on"
    values.update(changes)
    return {k: v for k, v in values.items() if v is not False}


def test_the_pic_saves_flags_and_partners(pic, oxycodone):
    partner = ProductFactory(name="OxyContin", product_ndc="59011-410")
    client = sign_in(pic)
    url = reverse("catalog_product_flags", kwargs={"pk": oxycodone.pk})
    page = client.get(url)
    assert page.status_code == 200 and b"As in the FDA directory (CII)" in page.content

    response = client.post(
        url,
        flags_post(oxycodone, rems="on", look_alikes="59011-410", reason="ISMP list"),
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    product = Product.objects.get(pk=oxycodone.pk)
    assert (product.rems, list(product.look_alikes.all())) == (True, [partner])
    events = AuditEvent.objects.filter(action__startswith="catalog.").order_by("seq")
    assert [(e.action, e.reason) for e in events] == [
        ("catalog.product.flags_changed", "ISMP list"),
        ("catalog.product.look_alikes_changed", "ISMP list"),
    ]
    assert json.loads(events[0].data)["after"] == {"rems": True}
    detail = client.get(response["Location"]).content.decode()
    assert "The product&#x27;s flags are saved." in detail and "OxyContin" in detail


def test_a_broken_rule_is_shown_beside_its_field_and_nothing_is_saved(pic, oxycodone):
    client = sign_in(pic)
    before = audit_count()
    response = client.post(
        reverse("catalog_product_flags", kwargs={"pk": oxycodone.pk}),
        flags_post(oxycodone, dea_schedule_override="CIV", rems="on"),
    )
    assert response.status_code == 409
    assert "a state may schedule it more strictly, never less" in response.content.decode()
    assert (audit_count(), Product.objects.get(pk=oxycodone.pk).rems) == (before, False)


def test_an_unknown_partner_refuses_the_whole_form(pic, oxycodone):
    client = sign_in(pic)
    before = audit_count()
    response = client.post(
        reverse("catalog_product_flags", kwargs={"pk": oxycodone.pk}),
        flags_post(oxycodone, rems="on", look_alikes="9999-9999"),
    )
    assert response.status_code == 422
    assert "Not in the catalog: 9999-9999." in response.content.decode()
    assert (audit_count(), Product.objects.get(pk=oxycodone.pk).rems) == (before, False)


def test_a_partner_refused_by_the_service_rolls_back_the_flags_too(pic, oxycodone):
    client = sign_in(pic)
    before = audit_count()
    response = client.post(
        reverse("catalog_product_flags", kwargs={"pk": oxycodone.pk}),
        flags_post(oxycodone, rems="on", look_alikes=oxycodone.product_ndc),
    )
    assert response.status_code == 422
    assert "A product cannot be its own look-alike partner." in response.content.decode()
    assert (audit_count(), Product.objects.get(pk=oxycodone.pk).rems) == (before, False)


@pytest.mark.parametrize("persona", ["technician", "pharmacist", "auditor"])
def test_others_may_not_open_or_post_the_flags_form(request, oxycodone, persona):
    client = sign_in(request.getfixturevalue(persona))
    url = reverse("catalog_product_flags", kwargs={"pk": oxycodone.pk})
    before = audit_count()
    assert client.get(url).status_code == 403
    assert client.post(url, flags_post(oxycodone, rems="on")).status_code == 403
    assert (audit_count(), Product.objects.get(pk=oxycodone.pk).rems) == (before, False)
    page = client.get(reverse("catalog_product", kwargs={"pk": oxycodone.pk}))
    assert b"Edit flags" not in page.content
