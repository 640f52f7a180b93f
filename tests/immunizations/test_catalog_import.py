"""The CDC code-set import (rxdesk import-cvx): reading the files, loading and linking them
to the drug catalog, idempotence, refusals, the command, and the full real directory."""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from rxdesk.catalog.models import Package, Product
from rxdesk.core.errors import Forbidden, Invalid
from rxdesk.core.models import AuditEvent
from rxdesk.immunizations import cvx_import
from rxdesk.immunizations.models import Manufacturer, Vaccine, VaccineNdc, VisDocument
from rxdesk.immunizations.queries_catalog import current_vis_for, vaccine_for_code
from rxdesk.immunizations.services_catalog import catalog_import_cvx
from tests.catalog.factories import PackageFactory, ProductFactory
from tests.immunizations.catalog_setup import (
    CDC,
    COVID_SALE,
    COVID_USE,
    HEPB_SALE,
    PPSV_SALE,
    PPSV_USE,
    mini_cdc,
)

needs_data = pytest.mark.skipif(not (CDC / "cvx.xml").exists(), reason="shared data not present")
pytestmark = needs_data


def _ndc11(ndc: str) -> str:
    return ndc.replace("-", "")


def _counts() -> dict[str, int]:
    return {
        "vaccines": Vaccine.objects.count(),
        "makers": Manufacturer.objects.count(),
        "ndcs": VaccineNdc.objects.count(),
        "vis": VisDocument.objects.count(),
        "packages": Package.objects.count(),
        "products": Product.objects.count(),
    }


# --- Reading (pure) ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("form", "doses"),
    [
        ("PACKAGE, 10 SYRINGE", 10),
        ("PACKAGE, 10-SYRINGE", 10),
        ("CARTON, 10 PRE- FILLED SYRINGES", 10),
        ("1 VIAL, SINGLE-DOSE", 1),
        ("CARTON, 10 SINGLE-DOSE VIALS", 10),
        ("SYRINGE", 1),
        ("Package of 10, single dose syringe", 10),
        ("PACKAGE, 10 APPLICATORS", 10),
        ("CARTON, 1 VIAL, MULTI-DOSE", None),
        ("CARTON, 10 2.5 mL VIAL, MULTI-DOSE", None),
        ("CARTON, 10 VIAL", None),
        ("CARTON", None),
        ("CARTON, 1 KIT", None),
        ("CASE, 8 CARTON", None),
        ("", None),
    ],
)
def test_it_reads_single_doses_from_the_package_form(form, doses):
    assert cvx_import.doses_in(form) == doses


@pytest.mark.parametrize(
    ("name", "live"),
    [
        ("zoster vaccine live", True),
        ("influenza virus vaccine, live, attenuated, for intranasal use", True),
        ("Adenovirus, type 4 and type 7, live, oral", True),
        ("poliovirus vaccine, inactivated", False),
        ("zoster vaccine recombinant, adjuvanted", False),
        ("Japanese Encephalitis vaccine, live-derived, inactivated", False),
    ],
)
def test_it_tells_live_vaccines_from_the_full_name(name, live):
    assert cvx_import.is_live(name) is live


def test_it_keeps_the_printed_ndc_layout():
    assert cvx_import.printed_ndc10("49281", "425", "50", "49281042550") == "49281-425-50"
    assert cvx_import.printed_ndc10("0006", "4109", "02", "00006410902") == "0006-4109-02"
    # Columns that disagree with the 5-4-2 NDC: the 5-4-2 form is kept.
    assert cvx_import.printed_ndc10("49281", "42", "50", "49281042550") == "49281-0425-50"


def test_it_reads_the_linker_as_sale_then_use(tmp_path):
    files = cvx_import.read_directory(mini_cdc(tmp_path))
    sale = {r.source_id: r.ndc11 for r in files.sale}
    use = {r.source_id: r.ndc11 for r in files.use}
    pairs = {(sale[k.sale_id], use[k.use_id]) for k in files.links}
    assert (_ndc11(COVID_SALE), _ndc11(COVID_USE)) in pairs


def test_it_keeps_the_first_listing_of_an_ndc_given_twice(tmp_path):
    files = cvx_import.read_directory(mini_cdc(tmp_path))
    hepb = [r for r in files.sale if r.ndc11 == _ndc11(HEPB_SALE)]
    assert len(hepb) == 1 and hepb[0].cvx == "43"  # Engerix-B adult first, dialysis 44 second
    assert files.repeated_ndcs == 1


def _break_line(folder: Path, name: str, old: str, new: str) -> int:
    """Replace ``old`` on the first line holding it; return that line's number."""
    path = folder / name
    lines = path.read_bytes().decode("latin-1").split("\r\n")
    index = next(i for i, line in enumerate(lines) if old in line)
    lines[index] = lines[index].replace(old, new, 1)
    path.write_bytes("\r\n".join(lines).encode("latin-1"))
    return index + 1


def test_it_names_the_file_and_line_of_a_bad_ndc(tmp_path):
    folder = mini_cdc(tmp_path)
    line = _break_line(folder, "NDC_Unit_sale.txt", "|00006-4837-03|", "|0006-4837-03|")
    with pytest.raises(cvx_import.CdcFileError) as caught:
        cvx_import.read_directory(folder)
    assert str(caught.value).startswith(f"NDC_Unit_sale.txt line {line}: NDC '0006-4837-03'")


def test_it_refuses_a_line_with_missing_columns(tmp_path):
    folder = mini_cdc(tmp_path)
    (folder / "NDC_Linker.txt").write_text("806|4072|4155\r\n")
    with pytest.raises(cvx_import.CdcFileError, match=r"NDC_Linker.txt line 1: has 3 columns"):
        cvx_import.read_directory(folder)


def test_it_refuses_an_ndc_of_an_unknown_cvx(tmp_path):
    folder = mini_cdc(tmp_path)
    line = _break_line(folder, "NDC_Unit_use.txt", "|309       |", "|9999|")
    with pytest.raises(cvx_import.CdcFileError, match=rf"NDC_Unit_use.txt line {line}: CVX 9999"):
        cvx_import.read_directory(folder)


def test_it_refuses_xml_with_entities(tmp_path):
    folder = mini_cdc(tmp_path)
    (folder / "mvx.xml").write_text(
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><MVXCodes>&a;</MVXCodes>'
    )
    with pytest.raises(cvx_import.CdcFileError, match=r"mvx\.xml: has a DOCTYPE"):
        cvx_import.read_directory(folder)


def test_it_names_a_missing_file(tmp_path):
    folder = mini_cdc(tmp_path)
    (folder / "NDC_Linker.txt").unlink()
    with pytest.raises(cvx_import.CdcFileError, match=r"NDC_Linker\.txt: is missing"):
        cvx_import.read_directory(folder)


# --- Loading ----------------------------------------------------------------------------------


def test_it_loads_and_links_the_code_sets(db, site, pic, tmp_path):
    result = catalog_import_cvx(actor=pic, directory=mini_cdc(tmp_path))

    assert (result.vaccines.created, result.manufacturers.created) == (288, 89)
    assert (result.sale.created, result.use.created, result.vis.created) == (3, 2, 174)
    # Comirnaty's carton of 10 syringes became a catalog package of 10 doses (EA) and both
    # its NDCs point to it; Pneumovax's bare "CARTON" and Engerix-B's need a size.
    assert (result.packages_created, result.linked, result.need_size) == (1, 2, 2)
    carton = Package.objects.get(ndc11=_ndc11(COVID_SALE))
    assert (carton.ndc10, carton.billing_unit, carton.package_quantity) == (
        "0069-2528-10",
        "EA",
        Decimal("10.000"),
    )
    product = carton.product
    assert (product.product_type, product.name, product.cold_chain, product.storage) == (
        "VACCINE",
        "Comirnaty",
        True,
        "refrigerate",
    )
    assert product.marketing_start == dt.date(2025, 8, 27)
    syringe = VaccineNdc.objects.get(ndc11=_ndc11(COVID_USE), unit="use")
    assert (syringe.sale_ndc11, syringe.package_id, syringe.vaccine.cvx) == (
        _ndc11(COVID_SALE),
        carton.pk,
        "309",
    )
    assert syringe.manufacturer is not None and syringe.manufacturer.mvx == "PFR"
    ppsv = VaccineNdc.objects.get(ndc11=_ndc11(PPSV_SALE))
    assert ppsv.package_id is None
    assert VaccineNdc.objects.get(ndc11=_ndc11(PPSV_USE)).package_id is None
    # Vaccines carry their groups and live flag; VIS editions their CVX and CDC page.
    flu = Vaccine.objects.get(cvx="150")
    assert flu.groups == ["FLU"] and flu.status == "Active" and not flu.live
    assert Vaccine.objects.get(cvx="121").live  # zoster live
    assert sorted(Vaccine.objects.get(cvx="110").groups) == ["DTAP", "HepB", "POLIO"]
    current = current_vis_for(flu)
    assert [d.status for d in current] == ["current"]
    assert current[0].url.startswith("https://www.cdc.gov/")
    # One audit event, in the PIC's chain.
    events = AuditEvent.objects.filter(action="immunizations.catalog.imported")
    assert events.count() == 1
    assert json.loads(events.get().data)["linked"] == 2 and events.get().actor == pic


def test_it_uses_the_catalogs_own_package_when_it_has_one(db, site, pic, tmp_path):
    product = ProductFactory(product_ndc="0006-4837", product_type="VACCINE", name="Pneumovax 23")
    held = PackageFactory(
        product=product, ndc10="0006-4837-03", billing_unit="EA", package_quantity=Decimal(10)
    )
    result = catalog_import_cvx(actor=pic, directory=mini_cdc(tmp_path))
    assert VaccineNdc.objects.get(ndc11=_ndc11(PPSV_SALE)).package_id == held.pk
    assert VaccineNdc.objects.get(ndc11=_ndc11(PPSV_USE)).package_id == held.pk
    assert result.need_size == 1  # Engerix-B only


def test_a_re_import_changes_nothing(db, site, pic, tmp_path):
    folder = mini_cdc(tmp_path)
    catalog_import_cvx(actor=pic, directory=folder)
    before = _counts()
    rows = list(VaccineNdc.objects.order_by("pk").values())

    again = catalog_import_cvx(actor=pic, directory=folder)

    assert _counts() == before
    assert list(VaccineNdc.objects.order_by("pk").values()) == rows
    for c in (again.vaccines, again.manufacturers, again.sale, again.use, again.vis):
        assert (c.created, c.updated) == (0, 0)
    assert again.packages_created == 0


def test_a_re_import_updates_what_changed_and_leaves_what_vanished(db, site, pic, tmp_path):
    folder = mini_cdc(tmp_path)
    catalog_import_cvx(actor=pic, directory=folder)
    _break_line(folder, "NDC_Unit_sale.txt", "|20250827||", "|20250827|20260630|")
    (folder / "NDC_Unit_use.txt").write_text("")  # the syringes vanished from the file
    (folder / "NDC_Linker.txt").write_text("")

    again = catalog_import_cvx(actor=pic, directory=folder)

    # Comirnaty's end date, and Pneumovax's manufacturer (known from the links only).
    assert again.sale.updated == 2
    assert VaccineNdc.objects.get(ndc11=_ndc11(COVID_SALE)).end_date == dt.date(2026, 6, 30)
    assert VaccineNdc.objects.filter(unit="use").count() == 2  # left, not deleted


def test_a_bad_line_loads_nothing(db, site, pic, tmp_path):
    folder = mini_cdc(tmp_path)
    line = _break_line(folder, "NDC_Unit_use.txt", "|00006-4837-01|", "|00006-48X7-01|")
    before = _counts()
    with pytest.raises(Invalid) as caught:
        catalog_import_cvx(actor=pic, directory=folder)
    assert caught.value.field == "directory"
    assert f"NDC_Unit_use.txt line {line}" in caught.value.message
    assert "nothing was loaded" in caught.value.message
    assert _counts() == before
    assert not AuditEvent.objects.filter(action="immunizations.catalog.imported").exists()


@pytest.mark.parametrize("who", ["technician", "pharmacist", "inventory", "auditor"])
def test_only_the_pic_or_admin_may_import(db, site, who, request, tmp_path):
    actor = request.getfixturevalue(who)
    before = _counts()
    with pytest.raises(Forbidden):
        catalog_import_cvx(actor=actor, directory=mini_cdc(tmp_path))
    assert _counts() == before
    assert not AuditEvent.objects.filter(action="immunizations.catalog.imported").exists()


def test_the_command_loads_as_the_operator_with_progress(db, site, cli_context, tmp_path):
    out, err = io.StringIO(), io.StringIO()
    call_command("import-cvx", str(mini_cdc(tmp_path)), stdout=out, stderr=err)
    assert out.getvalue().startswith(
        "Loaded 288 vaccines, 89 manufacturers, 3 + 2 NDCs, 174 VIS; 2 NDCs linked to the "
        "catalog; 2 need a package size in "
    )
    assert "1 NDC row(s) listed again under another CVX" in out.getvalue()
    assert "Reading the CDC files" in err.getvalue() and "100%" in err.getvalue()
    event = AuditEvent.objects.get(action="immunizations.catalog.imported")
    assert event.actor is None and event.site == site


def test_the_command_refuses_a_user_without_the_capability(db, site, technician, tmp_path):
    with pytest.raises(CommandError, match="may not do this"):
        call_command("import-cvx", str(mini_cdc(tmp_path)), "--user", "tech", "--no-progress")
    assert not Vaccine.objects.exists()


def test_the_command_names_the_bad_line(db, site, cli_context, tmp_path):
    folder = mini_cdc(tmp_path)
    line = _break_line(folder, "NDC_Unit_sale.txt", "|20250827|", "|2025-08-27|")
    with pytest.raises(CommandError, match=rf"NDC_Unit_sale.txt line {line}: start date"):
        call_command("import-cvx", str(folder), "--no-progress")
    assert not Vaccine.objects.exists()


# --- The real, full directory -----------------------------------------------------------------


def _pipe_rows(name: str) -> list[list[str]]:
    text = (CDC / name).read_bytes().decode("latin-1")
    return [line.split("|") for line in text.splitlines() if line.strip()]


@pytest.mark.slow
def test_the_whole_cdc_directory_loads_and_re_imports_unchanged(db, site, cli_context):
    first = catalog_import_cvx(actor=None, directory=CDC)

    sale, use = _pipe_rows("NDC_Unit_sale.txt"), _pipe_rows("NDC_Unit_use.txt")
    assert first.vaccines.total == (CDC / "cvx.xml").read_bytes().count(b"<CVXInfo>") == 288
    assert first.manufacturers.total == (CDC / "mvx.xml").read_bytes().count(b"<MVXInfo>")
    assert (
        first.sale.total
        == len({r[14] for r in sale})
        == VaccineNdc.objects.filter(unit="sale").count()
    )
    assert first.use.total == len({r[14] for r in use})
    assert first.vis.total == (CDC / "vis.xml").read_bytes().count(b"<VISInfo>")
    assert first.repeated_ndcs == len(sale) + len(use) - first.sale.total - first.use.total
    assert first.linked > 0 and first.need_size > 0
    before = _counts()

    again = catalog_import_cvx(actor=None, directory=CDC)

    assert _counts() == before
    for c in (again.vaccines, again.manufacturers, again.sale, again.use, again.vis):
        assert (c.created, c.updated) == (c.created, 0) == (0, 0)
    # A syringe of Fluzone Quadrivalent (NDC_Unit_use.txt) scans to CVX 150 and is kept in
    # its carton of 10 (NDC_Unit_sale.txt, linked by NDC_Linker.txt).
    row = vaccine_for_code("49281-0421-88")
    assert row is not None and row.unit == "use" and row.vaccine.cvx == "150"
    assert row.sale_ndc11 == "49281042150"
    assert row.package is not None and row.package.ndc11 == "49281042150"
    assert row.package.package_quantity == Decimal(10)
    # Its GTIN from the file finds it too.
    assert vaccine_for_code("00349281421884") == row
