"""Catalog imports through the services and the CLI: the NDC Directory, Drugs@FDA TE codes
and price files."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command

from rxdesk.catalog.importer import appl_no_of
from rxdesk.catalog.models import (
    ApplicationProduct,
    ImportRun,
    Ingredient,
    Package,
    PackagePrice,
    Product,
)
from rxdesk.catalog.ndc import ndc10_to_11
from rxdesk.catalog.services import (
    catalog_import_ndc,
    catalog_import_prices,
    catalog_import_te,
    import_details,
)
from rxdesk.core.errors import Forbidden, Invalid
from rxdesk.core.models import AuditEvent
from rxdesk.demo import DEMO_CATALOG
from tests.conftest import audit_count, build_schema_in_subprocess, last_event

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
SAMPLES = DATA / "openfda-samples"
PRODUCT_FIXTURE = SAMPLES / "ndc_product_trimmed_TESTFIXTURE.txt"
PACKAGE_FIXTURE = SAMPLES / "ndc_package_trimmed_TESTFIXTURE.txt"
DEMO_PRODUCTS = DEMO_CATALOG / "demo_product.txt"
DEMO_PACKAGES = DEMO_CATALOG / "demo_package.txt"

DILUENT = "0002-0800_ab2a5006-1880-4b6c-9640-dc2ec1066449"
QUINIDINE = "0002-1407_14757f9d-f641-4836-acf3-229265588d1d"
AMYVID = "0002-1200_4bd46cbe-cdc1-4329-a8e7-22816bd7fc33"


def import_fixtures(actor):
    return catalog_import_ndc(
        actor=actor, product_file=PRODUCT_FIXTURE, package_file=PACKAGE_FIXTURE
    )


def import_demo(actor, products=DEMO_PRODUCTS, packages=DEMO_PACKAGES, **kwargs):
    return catalog_import_ndc(actor=actor, product_file=products, package_file=packages, **kwargs)


def nothing_written() -> bool:
    return not (
        Product.objects.exists()
        or Package.objects.exists()
        or ApplicationProduct.objects.exists()
        or PackagePrice.objects.exists()
        or ImportRun.objects.exists()
    )


def edited(tmp_path: Path, source: Path, edit) -> Path:
    """A copy of an FDA file with ``edit(lines) -> lines`` applied to its raw lines."""
    lines = source.read_bytes().split(b"\n")
    target = tmp_path / source.name
    target.write_bytes(b"\n".join(edit(lines)))
    return target


# --- The NDC Directory --------------------------------------------------------------------


def test_it_loads_the_good_rows_of_the_corrupted_fixture_and_names_the_bad_lines(pic):
    run = import_fixtures(pic)

    assert sorted(Product.objects.values_list("product_id", flat=True)) == [DILUENT, QUINIDINE]
    [package] = Package.objects.all()
    assert (package.ndc10, package.ndc11, package.product.product_id) == (
        "0002-0800-01",
        "00002080001",
        DILUENT,
    )
    assert (package.billing_unit, package.package_quantity) == ("ML", Decimal(10))
    assert package.description == "1 VIAL in 1 CARTON (0002-0800-01)  > 10 mL in 1 VIAL"
    # nothing of the refused product, not even its packages
    assert not Product.objects.filter(product_id=AMYVID).exists()
    assert not Package.objects.filter(ndc11__in=["00002120030", "00002120050"]).exists()
    assert (run.kind, run.created, run.updated, run.unchanged, run.deactivated, run.rejected) == (
        "ndc",
        3,
        0,
        0,
        0,
        3,
    )
    assert run.problems.splitlines() == [
        "ndc_product_trimmed_TESTFIXTURE.txt line 3: DEASCHEDULE 'DEA' is not a DEA schedule "
        "(CI to CV, or blank); SUBSTANCENAME names 4 substances but ACTIVE_NUMERATOR_STRENGTH "
        "has 3 and ACTIVE_INGRED_UNIT 2 entries",
        f"ndc_package_trimmed_TESTFIXTURE.txt line 3: its product {AMYVID} was refused "
        "(line 3 of the product file)",
        f"ndc_package_trimmed_TESTFIXTURE.txt line 4: its product {AMYVID} was refused "
        "(line 3 of the product file)",
    ]
    assert run.finished_at is not None and run.finished_at >= run.started_at
    assert import_details(run)["products"] == {
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "deactivated": 0,
    }


def test_it_stores_what_the_directory_says_of_a_product(pic):
    import_fixtures(pic)
    diluent = Product.objects.get(product_id=DILUENT)
    assert diluent.product_ndc == "0002-0800"
    assert diluent.product_type == "HUMAN OTC DRUG"
    assert diluent.otc is True
    assert diluent.name == "Sterile Diluent"
    assert diluent.generic_name == "diluent"
    assert diluent.dosage_form == "INJECTION, SOLUTION"
    assert diluent.route == "SUBCUTANEOUS"
    assert diluent.strength == "1 mL/mL"
    assert diluent.application_number == "NDA018781"
    assert diluent.labeler == "Eli Lilly and Company"
    assert diluent.marketing_start == dt.date(1987, 7, 10)
    assert diluent.marketing_end is None
    assert diluent.directory_dea_schedule == ""
    assert diluent.excluded is False
    assert diluent.active is True
    assert list(diluent.ingredients.values_list("position", "name", "strength", "unit")) == [
        (1, "WATER", "1", "mL/mL")
    ]
    quinidine = Product.objects.get(product_id=QUINIDINE)
    assert quinidine.otc is False
    assert quinidine.pharm_classes.startswith("Antiarrhythmic [EPC]")
    # the cleaned-up name is shown in tall-man lettering where FDA/ISMP list it
    assert quinidine.tall_man_name == "quiNIDine Gluconate"


def test_it_writes_one_audit_event_in_the_actors_site_chain(pic, site):
    before = audit_count()
    run = import_fixtures(pic)
    assert audit_count() == before + 1
    event = last_event()
    assert event.action == "catalog.ndc_imported"
    assert event.site_id == site.pk
    assert event.actor_id == pic.pk
    assert (event.object_type, event.object_id) == ("catalog.importrun", str(run.pk))
    data = json.loads(event.data)
    assert data["kind"] == "ndc"
    assert data["rejected"] == 3
    assert data["products"] == {"created": 2, "updated": 0, "unchanged": 0, "deactivated": 0}
    assert data["packages"] == {"created": 1, "updated": 0, "unchanged": 0, "deactivated": 0}


def test_an_administrator_may_import_too(admin_user):
    run = import_fixtures(admin_user)
    assert run.created == 3


@pytest.mark.parametrize("role", ["technician", "trainee", "pharmacist", "inventory", "auditor"])
def test_a_role_without_the_import_capability_is_refused_and_nothing_is_written(request, role):
    actor = request.getfixturevalue(role)
    before = audit_count()
    with pytest.raises(Forbidden, match=r"catalog\.import"):
        import_fixtures(actor)
    with pytest.raises(Forbidden):
        catalog_import_te(actor=actor, directory=DEMO_CATALOG / "demo_te")
    with pytest.raises(Forbidden):
        catalog_import_prices(actor=actor, csv_file=io.BytesIO(b"ndc,price_type,price\n"))
    assert nothing_written()
    assert audit_count() == before


def test_the_operator_is_refused_outside_the_shell(db):
    with pytest.raises(Forbidden, match="Sign in first"):
        import_fixtures(None)
    assert nothing_written()


def test_the_operator_at_the_shell_writes_to_the_first_sites_chain(site, cli_context):
    run = import_fixtures(None)
    event = last_event()
    assert (event.action, event.site_id, event.actor_id, event.actor_kind) == (
        "catalog.ndc_imported",
        site.pk,
        None,
        "system",
    )
    assert event.object_id == str(run.pk)


def test_with_no_site_yet_the_import_runs_and_only_the_run_records_it(db, cli_context):
    run = import_fixtures(None)
    assert Product.objects.count() == 2
    assert ImportRun.objects.get() == run
    assert not AuditEvent.objects.exists()


def test_a_file_that_is_not_a_product_file_is_refused_and_nothing_is_written(pic, tmp_path):
    wrong = tmp_path / "product.txt"
    wrong.write_bytes(PACKAGE_FIXTURE.read_bytes())
    before = audit_count()
    with pytest.raises(Invalid, match=r"product\.txt lacks the columns PRODUCTTYPENAME") as caught:
        catalog_import_ndc(actor=pic, product_file=wrong, package_file=PACKAGE_FIXTURE)
    assert caught.value.errors[0]["field"] == "product_file"
    with pytest.raises(Invalid, match="There is no file") as caught:
        catalog_import_ndc(
            actor=pic, product_file=PRODUCT_FIXTURE, package_file=tmp_path / "missing.txt"
        )
    assert caught.value.errors[0]["field"] == "package_file"
    assert nothing_written()
    assert audit_count() == before


def test_a_product_file_with_no_good_row_changes_nothing(pic, tmp_path):
    # Taken at its word it would retire the whole catalog; a broken file is more likely.
    import_fixtures(pic)
    broken = edited(tmp_path, PRODUCT_FIXTURE, lambda lines: [lines[0], b"no\ttabs"])
    with pytest.raises(Invalid, match="No product could be read"):
        catalog_import_ndc(actor=pic, product_file=broken, package_file=PACKAGE_FIXTURE)
    assert Product.objects.filter(active=True).count() == 2
    assert ImportRun.objects.count() == 1


def test_it_reports_progress_up_to_the_total(pic):
    calls: list[tuple[int, int]] = []
    import_demo(pic, progress=lambda done, total: calls.append((done, total)))
    total = calls[0][1]
    assert total == Product.objects.count() + Package.objects.count()
    assert calls[0] == (0, total)
    assert calls[-1] == (total, total)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    assert len(calls) >= 3


def test_the_shipped_demo_catalog_loads_whole(pic):
    run = import_demo(pic)
    assert run.rejected == 0
    products = Product.objects.count()
    assert 300 <= products <= 800
    assert run.created == products + Package.objects.count()
    schedules = set(Product.objects.values_list("directory_dea_schedule", flat=True))
    assert schedules == {"", "CII", "CIII", "CIV", "CV"}
    assert Product.objects.filter(product_type="VACCINE").exists()
    assert set(Package.objects.values_list("billing_unit", flat=True)) == {"EA", "ML", "GM"}
    # new products get the curated hazardous / high-alert seeds
    assert Product.objects.filter(generic_name__iexact="methotrexate", hazardous=True).exists()
    assert Product.objects.filter(substances__startswith="OXYCODONE", high_alert=True).exists()
    assert Product.objects.filter(tall_man_name="hydrOXYzine Hydrochloride").exists()


# --- Idempotency --------------------------------------------------------------------------


def test_a_second_import_of_the_same_files_changes_nothing(pic):
    import_demo(pic)
    stamps = dict(Product.objects.values_list("pk", "imported_at"))
    packages = list(Package.objects.order_by("pk").values())
    ingredients = list(Ingredient.objects.order_by("pk").values_list("pk", flat=True))

    run = import_demo(pic)

    assert (run.created, run.updated, run.deactivated, run.rejected) == (0, 0, 0, 0)
    assert run.unchanged == Product.objects.count() + Package.objects.count()
    assert dict(Product.objects.values_list("pk", "imported_at")) == stamps
    assert list(Package.objects.order_by("pk").values()) == packages
    assert list(Ingredient.objects.order_by("pk").values_list("pk", flat=True)) == ingredients


def test_a_changed_row_is_updated_and_only_it(pic, tmp_path):
    import_fixtures(pic)
    old_stamp = Product.objects.get(product_id=QUINIDINE).imported_at

    def rename(lines):
        return [
            line.replace(b"\tQuinidine Gluconate\t\tQuinidine Gluconate\t", b"\tQuiniGlute\t\tQ\t")
            .replace(b"\t80\tmg/mL\t", b"\t80; 10\tmg/mL; mg/mL\t")
            .replace(b"\tQUINIDINE GLUCONATE\t", b"\tQUINIDINE GLUCONATE; WATER\t")
            for line in lines
        ]

    products = edited(tmp_path, PRODUCT_FIXTURE, rename)
    packages = edited(
        tmp_path,
        PACKAGE_FIXTURE,
        lambda lines: [line.replace(b"> 10 mL in 1 VIAL", b"> 20 mL in 1 VIAL") for line in lines],
    )
    run = catalog_import_ndc(actor=pic, product_file=products, package_file=packages)

    assert import_details(run)["products"] == {
        "created": 0,
        "updated": 1,
        "unchanged": 1,
        "deactivated": 0,
    }
    assert import_details(run)["packages"]["updated"] == 1
    quinidine = Product.objects.get(product_id=QUINIDINE)
    assert (quinidine.name, quinidine.generic_name) == ("QuiniGlute", "Q")
    assert quinidine.strength == "80 mg/mL; 10 mg/mL"
    assert quinidine.imported_at > old_stamp
    assert list(quinidine.ingredients.values_list("position", "name", "strength")) == [
        (1, "QUINIDINE GLUCONATE", "80"),
        (2, "WATER", "10"),
    ]
    package = Package.objects.get(ndc11="00002080001")
    assert package.package_quantity == Decimal(20)
    assert package.description.endswith("> 20 mL in 1 VIAL")


def test_a_row_gone_from_the_file_is_marked_inactive_never_deleted(pic, tmp_path):
    import_fixtures(pic)
    diluent_package = Package.objects.get(ndc11="00002080001")
    # a price refers to the package: it must survive whatever the next file says
    PackagePrice.objects.create(
        package=diluent_package, kind="list", amount=Decimal("3.10"), effective_on=dt.date.today()
    )
    products = edited(tmp_path, PRODUCT_FIXTURE, lambda ls: [ls[0], *ls[2:]])  # no diluent
    packages = edited(tmp_path, PACKAGE_FIXTURE, lambda ls: [ls[0], *ls[2:]])

    run = catalog_import_ndc(actor=pic, product_file=products, package_file=packages)

    assert import_details(run)["products"]["deactivated"] == 1
    assert import_details(run)["packages"]["deactivated"] == 1
    diluent = Product.objects.get(product_id=DILUENT)
    assert diluent.active is False
    diluent_package.refresh_from_db()
    assert diluent_package.active is False
    assert diluent_package.prices.count() == 1
    assert Product.objects.get(product_id=QUINIDINE).active is True

    # back in the next file: active again, counted as changed
    run = import_fixtures(pic)
    assert import_details(run)["products"]["updated"] == 1
    assert Product.objects.get(product_id=DILUENT).active is True
    assert Package.objects.get(ndc11="00002080001").active is True


def test_a_refused_row_leaves_what_the_catalog_holds_for_it(pic, tmp_path):
    import_fixtures(pic)
    bad_date = edited(
        tmp_path,
        PRODUCT_FIXTURE,
        lambda lines: [line.replace(b"\t19870710\t", b"\t19871310\t") for line in lines],
    )
    run = catalog_import_ndc(actor=pic, product_file=bad_date, package_file=PACKAGE_FIXTURE)
    assert "line 2: STARTMARKETINGDATE '19871310' is not a date (YYYYMMDD)" in run.problems
    diluent = Product.objects.get(product_id=DILUENT)
    assert (diluent.active, diluent.marketing_start) == (True, dt.date(1987, 7, 10))
    assert Package.objects.get(ndc11="00002080001").active is True


def test_a_pharmacists_otc_and_hazard_flags_survive_a_reimport(pic):
    import_fixtures(pic)
    Product.objects.filter(product_id=DILUENT).update(otc=False, hazardous=True)
    import_fixtures(pic)
    diluent = Product.objects.get(product_id=DILUENT)
    assert (diluent.otc, diluent.hazardous) == (False, True)


# --- Drugs@FDA ----------------------------------------------------------------------------


def te_folder(tmp_path: Path, te_lines: list[str] | None = None) -> Path:
    folder = tmp_path / "drugsatfda"
    folder.mkdir(exist_ok=True)
    (folder / "Products.txt").write_text(
        "ApplNo\tProductNo\tForm\tStrength\tReferenceDrug\tDrugName\tActiveIngredient\t"
        "ReferenceStandard\r\n"
        "018781\t001\tINJECTABLE;INJECTION\t100%\t1\tSTERILE DILUENT\tWATER\t0\r\n"
        "007529\t001\tINJECTABLE;INJECTION\t80MG/ML\t1\tQUINIDINE GLUCONATE\t"
        "QUINIDINE GLUCONATE\t1\r\n"
        "021116\t001\tTABLET;ORAL\t0.025MG\t0\tLEVO-T\tLEVOTHYROXINE SODIUM\t0\r\n",
        newline="",
    )
    (folder / "TE.txt").write_text(
        "\r\n".join(
            te_lines
            or [
                "ApplNo\tProductNo\tMarketingStatusID\tTECode",
                "007529\t001\t1\tAP",
                "021116\t001\t1\tAB1",
                "021116\t001\t1\tAB2",
                "021116\t001\t1\tAB3",
                "021116\t001\t1\tAB4",
                "099999\t001\t1\tAB",
            ]
        )
        + "\r\n",
        newline="",
    )
    shutil.copy(DATA / "drugsatfda" / "MarketingStatus_Lookup.txt", folder)
    return folder


def test_it_loads_te_codes_and_links_ndc_products_by_application(pic, tmp_path):
    import_fixtures(pic)
    before = audit_count()
    run = catalog_import_te(actor=pic, directory=te_folder(tmp_path))

    assert ApplicationProduct.objects.count() == 3
    quinidine = ApplicationProduct.objects.get(appl_no="007529", product_no="001")
    assert (quinidine.te_code, quinidine.reference_drug, quinidine.marketing_status) == (
        "AP",
        True,
        "Prescription",
    )
    diluent = ApplicationProduct.objects.get(appl_no="018781")
    assert (diluent.te_code, diluent.marketing_status, diluent.form) == (
        "",
        "",
        "INJECTABLE;INJECTION",
    )
    # several codes for one product are all kept
    assert ApplicationProduct.objects.get(appl_no="021116").te_code == "AB1,AB2,AB3,AB4"
    assert run.problems == "TE.txt line 7: ApplNo 099999 ProductNo 001 is not in Products.txt"
    assert (run.kind, run.created, run.rejected) == ("te", 3, 1)
    # NDC products link through their application number
    product = Product.objects.get(product_id=QUINIDINE)
    assert appl_no_of(product.application_number) == "007529"
    assert ApplicationProduct.objects.filter(
        appl_no=appl_no_of(product.application_number)
    ).exists()
    assert import_details(run)["linked_products"] == 2
    assert audit_count() == before + 1
    event = last_event()
    assert (event.action, event.object_id) == ("catalog.te_imported", str(run.pk))
    assert json.loads(event.data)["linked_products"] == 2


def test_a_te_reimport_changes_only_what_changed(pic, tmp_path):
    folder = te_folder(tmp_path)
    catalog_import_te(actor=pic, directory=folder)
    again = catalog_import_te(actor=pic, directory=folder)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    te_folder(
        tmp_path,
        ["ApplNo\tProductNo\tMarketingStatusID\tTECode", "007529\t001\t3\tBX"],
    )
    changed = catalog_import_te(actor=pic, directory=folder)
    assert (changed.created, changed.updated, changed.unchanged) == (0, 2, 1)
    quinidine = ApplicationProduct.objects.get(appl_no="007529")
    assert (quinidine.te_code, quinidine.marketing_status) == ("BX", "Discontinued")
    # a row gone from the files stays
    assert ApplicationProduct.objects.get(appl_no="021116").te_code == ""


def test_a_folder_that_is_not_drugs_at_fda_is_refused(pic, tmp_path):
    with pytest.raises(Invalid, match=r"has no Products\.txt"):
        catalog_import_te(actor=pic, directory=tmp_path)
    with pytest.raises(Invalid, match="is not a folder"):
        catalog_import_te(actor=pic, directory=tmp_path / "nowhere")
    assert nothing_written()


def test_the_shipped_demo_te_codes_load_and_link(pic):
    import_demo(pic)
    run = catalog_import_te(actor=pic, directory=DEMO_CATALOG / "demo_te")
    assert run.rejected == 0
    assert ApplicationProduct.objects.filter(te_code__startswith="AB").count() > 100
    assert import_details(run)["linked_products"] > 300


# --- Prices -------------------------------------------------------------------------------

PRICES = (
    "ndc,price_type,price,effective_date\n"
    "0002-0800-01,acquisition,12.50,2026-01-01\n"
    "00002080001,awp,15.00,2026-01-01\n"
    "00002-0800-01,list,16.00,2026-02-01\n"
    "0002080001,usual_customary,19.99,2026-01-01\n"
    "9999-9999-99,list,1.00,2026-01-01\n"
    "0002-0800-01,list,1.234,2026-01-01\n"
    "0002-0800-01,list,1,2026-13-01\n"
    "0002-0800-01,acquisition,12.60,2026-01-01\n"
)


def price_file(tmp_path: Path, text: str = PRICES) -> Path:
    path = tmp_path / "prices.csv"
    path.write_text(text)
    return path


def test_it_loads_prices_with_history_and_names_bad_lines(pic, tmp_path):
    import_fixtures(pic)
    before = audit_count()
    run = catalog_import_prices(actor=pic, csv_file=price_file(tmp_path))

    package = Package.objects.get(ndc11="00002080001")
    assert list(
        package.prices.order_by("kind", "effective_on").values_list(
            "kind", "amount", "effective_on"
        )
    ) == [
        ("acquisition", Decimal("12.50"), dt.date(2026, 1, 1)),
        ("list", Decimal("15.00"), dt.date(2026, 1, 1)),
        ("list", Decimal("16.00"), dt.date(2026, 2, 1)),
        ("usual_customary", Decimal("19.99"), dt.date(2026, 1, 1)),
    ]
    assert (run.kind, run.created, run.updated, run.unchanged, run.rejected) == (
        "prices",
        4,
        0,
        0,
        4,
    )
    assert run.problems.splitlines() == [
        "prices.csv line 6: NDC 9999-9999-99 is not in the catalog",
        "prices.csv line 7: price '1.234' has more than two decimals (cents)",
        "prices.csv line 8: effective_date '2026-13-01' is not a date (YYYY-MM-DD)",
        "prices.csv line 9: repeats line 2 (the same package, price type and date)",
    ]
    assert audit_count() == before + 1
    event = last_event()
    assert (event.action, event.object_id) == ("catalog.prices_imported", str(run.pk))
    assert json.loads(event.data)["prices"]["created"] == 4


def test_a_price_reimport_is_unchanged_and_a_new_amount_corrects_the_day(pic, tmp_path):
    import_fixtures(pic)
    catalog_import_prices(actor=pic, csv_file=price_file(tmp_path))
    again = catalog_import_prices(actor=pic, csv_file=price_file(tmp_path))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 4)

    corrected = catalog_import_prices(
        actor=pic,
        csv_file=price_file(
            tmp_path,
            "ndc,price_type,price,effective_date\n"
            "0002-0800-01,acquisition,12.75,2026-01-01\n"
            "0002-0800-01,acquisition,12.90,2026-03-01\n",
        ),
    )
    assert (corrected.created, corrected.updated, corrected.unchanged) == (1, 1, 0)
    assert list(
        PackagePrice.objects.filter(kind="acquisition")
        .order_by("effective_on")
        .values_list("amount", flat=True)
    ) == [Decimal("12.75"), Decimal("12.90")]


def test_ten_plain_digits_matching_two_packages_are_refused_as_ambiguous(pic, tmp_path):
    import_fixtures(pic)
    product = Product.objects.get(product_id=DILUENT)
    # "0002080001" is 0002-0800-01 (00002080001) or 00020-800-01 (00020080001).
    Package.objects.create(
        product=product,
        ndc11="00020080001",
        ndc10="00020-800-01",
        description="1 VIAL in 1 CARTON",
        billing_unit="EA",
        package_quantity=1,
    )
    run = catalog_import_prices(
        actor=pic,
        csv_file=price_file(
            tmp_path, "ndc,price_type,price,effective_date\n0002080001,list,1.00,2026-01-01\n"
        ),
    )
    assert run.problems == (
        "prices.csv line 2: NDC 0002080001 (10 digits without hyphens) matches 2 packages; "
        "write it with its hyphens"
    )
    assert not PackagePrice.objects.exists()


def test_a_price_file_without_its_header_is_refused(pic, tmp_path):
    with pytest.raises(Invalid, match="lacks the column"):
        catalog_import_prices(
            actor=pic, csv_file=price_file(tmp_path, "0002-0800-01,list,1,2026-01-01\n")
        )
    assert not ImportRun.objects.exists()


# --- The commands -------------------------------------------------------------------------


def test_rxdesk_import_ndc_prints_a_progress_bar_and_a_summary(site):
    out, err = io.StringIO(), io.StringIO()
    call_command("import-ndc", str(PRODUCT_FIXTURE), str(PACKAGE_FIXTURE), stdout=out, stderr=err)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith(
        "Loaded 2 products (2 new, 0 changed, 0 unchanged, 0 no longer in the file) and "
        "1 package (1 new, 0 changed, 0 unchanged, 0 no longer in the file) in "
    )
    assert lines[1:] == [
        "3 rows refused:",
        "  ndc_product_trimmed_TESTFIXTURE.txt line 3: DEASCHEDULE 'DEA' is not a DEA schedule "
        "(CI to CV, or blank); SUBSTANCENAME names 4 substances but ACTIVE_NUMERATOR_STRENGTH "
        "has 3 and ACTIVE_INGRED_UNIT 2 entries",
        f"  ndc_package_trimmed_TESTFIXTURE.txt line 3: its product {AMYVID} was refused "
        "(line 3 of the product file)",
        f"  ndc_package_trimmed_TESTFIXTURE.txt line 4: its product {AMYVID} was refused "
        "(line 3 of the product file)",
    ]
    assert "\r" in err.getvalue() and "100%" in err.getvalue() and "rows/s" in err.getvalue()
    assert "gathered the statistics of every table" in err.getvalue()  # db_optimize
    event = last_event()
    assert (event.action, event.actor_kind, event.site_id) == (
        "catalog.ndc_imported",
        "system",
        site.pk,
    )
    assert event.client_addr.startswith("cli:")


def test_rxdesk_import_te_and_import_prices_print_summaries(db, tmp_path):
    out = io.StringIO()
    call_command(
        "import-ndc",
        str(PRODUCT_FIXTURE),
        str(PACKAGE_FIXTURE),
        "--no-progress",
        stdout=out,
        stderr=io.StringIO(),
    )
    assert "this import is recorded in the import log (run #" in out.getvalue()
    out = io.StringIO()
    call_command("import-te", str(te_folder(tmp_path)), stdout=out, stderr=io.StringIO())
    assert out.getvalue().startswith(
        "Loaded 3 Drugs@FDA products (3 new, 0 changed, 0 unchanged) in "
    )
    assert "; 2 active NDC products link to them.\n1 row refused:\n" in out.getvalue()
    out = io.StringIO()
    call_command("import-prices", str(price_file(tmp_path)), stdout=out)
    assert out.getvalue().startswith("Loaded 4 prices (4 new, 0 changed, 0 unchanged) in ")
    assert "4 rows refused:" in out.getvalue()


def test_the_rxdesk_console_script_imports_the_fixtures(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_URL", "RXDESK_", "DJANGO_"))
    }
    env |= {"RXDESK_VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "rxdesk.settings"}
    rxdesk = str(Path(sys.executable).with_name("rxdesk"))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([rxdesk, *args], capture_output=True, text=True, env=env, timeout=300)

    build_schema_in_subprocess(env)
    done = run("import-ndc", str(PRODUCT_FIXTURE), str(PACKAGE_FIXTURE))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Loaded 2 products (2 new,")
    assert "3 rows refused:" in done.stdout
    missing = run("import-ndc", str(tmp_path / "nope.txt"), str(PACKAGE_FIXTURE))
    assert missing.returncode == 1
    assert "There is no file" in missing.stderr


# --- The full directory ---------------------------------------------------------------------

FULL = DATA / "fda-ndc"

# package.txt (April 2019) has 243,960 lines but 19 of them repeat a package NDC already
# listed (an NDC is one package), and 4 describe a package holding nothing ("0 TABLET in 1
# BOTTLE"); those 23 are refused by line, the other 243,937 packages load.
FULL_PRODUCTS = 128_241
FULL_PACKAGE_LINES = 243_960
FULL_PACKAGES = 243_937


@pytest.mark.slow
@pytest.mark.skipif(not (FULL / "product.txt").exists(), reason="../shared/data not present")
def test_the_full_directory_loads_and_a_reimport_changes_nothing(site, cli_context):
    run = catalog_import_ndc(
        actor=None, product_file=FULL / "product.txt", package_file=FULL / "package.txt"
    )
    assert Product.objects.count() == FULL_PRODUCTS
    assert Package.objects.count() == FULL_PACKAGES
    assert run.rejected == FULL_PACKAGE_LINES - FULL_PACKAGES == 23
    problems = run.problems.splitlines()
    assert sum("repeats line" in p for p in problems) == 19
    assert sum("comes to zero" in p or "it says 0" in p for p in problems) == 4
    assert all(p.startswith("package.txt line ") for p in problems)
    assert Product.objects.filter(directory_dea_schedule="CII").count() == 2063
    assert Product.objects.filter(excluded=True).count() == 31654
    for ndc10, ndc11 in Package.objects.values_list("ndc10", "ndc11").iterator(chunk_size=20000):
        assert ndc10_to_11(ndc10) == ndc11

    again = catalog_import_ndc(
        actor=None, product_file=FULL / "product.txt", package_file=FULL / "package.txt"
    )
    assert (again.created, again.updated, again.deactivated) == (0, 0, 0)
    assert again.unchanged == FULL_PRODUCTS + FULL_PACKAGES
    assert again.rejected == 23
