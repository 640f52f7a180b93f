"""Receipts: the same content as a narrow PDF and as 40-column text."""

from __future__ import annotations

from decimal import Decimal

from rxdesk.pos.choices import TenderKind
from rxdesk.pos.models import Sale
from rxdesk.pos.receipts import PAGE_W, WIDTH, receipt_pdf, receipt_text
from rxdesk.pos.services.drawers import drawer_open, pos_settings_save
from rxdesk.pos.services.sales import TenderIn, sale_add_item, sale_pay, sale_refund
from tests.pos.factories import otc_package
from tests.pos.test_accounts import pdf_text
from tests.pos.test_sales import rx_sale


def _paid_sale(technician, pharmacist, pic) -> Sale:
    site = technician.site
    site.name, site.address_line1, site.city, site.state = (
        "Main Street Pharmacy",
        "5 Main St",
        "Springfield",
        "IL",
    )
    site.postal_code, site.phone = "62704", "2175550123"
    site.save()
    pos_settings_save(actor=pic, tax_percent="5")
    drawer_open(actor=technician, opening_cash="50")
    sale = rx_sale(technician, pharmacist, copay="12.00")
    sale_add_item(actor=technician, sale=sale, code=otc_package("Loratadine", retail="10.00").ndc10)
    return sale_pay(
        actor=technician,
        sale=sale,
        tenders=[
            TenderIn(kind=TenderKind.FSA_HSA, amount="12.50", reference="9876 APP123"),
            TenderIn(kind=TenderKind.CASH, amount="10.00", tendered="20.00"),
        ],
    )


def test_the_text_receipt(technician, pharmacist, pic):
    sale = _paid_sale(technician, pharmacist, pic)
    fill = sale.lines.get(kind="rx").fill
    assert fill is not None

    text = receipt_text(sale)

    assert all(len(line) <= WIDTH for line in text.splitlines())
    assert "Main Street Pharmacy" in text
    assert "(217) 555-0123" in text
    assert f"Receipt {sale.receipt_number}" in text
    assert f"Rx {fill.prescription.number}-{fill.number}" in text
    assert "Loratadine" in text
    assert "Subtotal" in text and "$22.00" in text
    assert "Tax" in text and "$0.50" in text
    assert "TOTAL" in text and "$22.50" in text
    assert "FSA/HSA eligible total" in text
    assert "FSA/HSA card 9876 APP123" in text
    assert "Cash tendered" in text and "$20.00" in text
    assert "Change" in text and "$10.00" in text
    assert f"Cashier: {technician.display_name}" in text


def test_the_pdf_receipt_says_the_same_on_a_narrow_page(technician, pharmacist, pic):
    import io

    import pypdfium2 as pdfium

    sale = _paid_sale(technician, pharmacist, pic)
    pdf = receipt_pdf(sale)

    assert pdf.startswith(b"%PDF")
    width, _height = pdfium.PdfDocument(io.BytesIO(pdf))[0].get_size()
    assert round(width) == round(PAGE_W)
    text = pdf_text(pdf)
    for expected in ("Main Street Pharmacy", sale.receipt_number, "TOTAL", "$22.50", "Change"):
        assert expected in text


def test_refunds_are_printed(technician, pharmacist, pic):
    sale = _paid_sale(technician, pharmacist, pic)
    line = sale.lines.get(kind="otc")
    sale_refund(actor=pharmacist, sale=sale, lines=[(line.pk, 1)], reason="Damaged")

    text = receipt_text(sale)

    assert "Refund" in text and "-$10.50" in text
    assert Decimal("10.50") == sale.refunds.get().amount
