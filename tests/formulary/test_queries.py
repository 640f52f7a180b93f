"""The generic substitution offer and the interchange suggestions for a prescription,
against hand-computed fixtures."""

from __future__ import annotations

from decimal import Decimal

import pytest

from rxdesk.core.choices import Role
from rxdesk.core.errors import Forbidden, NotFound
from rxdesk.formulary import queries, services
from tests.formulary.setup import fluoxetine, ppis, price, protocol, rx, user
from tests.formulary.setup import package as new_package
from tests.inventory.factories import stock


@pytest.fixture
def offer_setup(site, pic, pharmacist):
    """Teva on formulary with stock at $0.30/unit; Mylan on formulary, no stock, $0.10;
    Aurobindo not listed, in stock, $0.05; the BX product preferred (never offered);
    Prozac 10 mg (another strength) preferred (never offered)."""
    drugs = fluoxetine()
    for key, status in (
        ("teva", "formulary"),
        ("mylan", "formulary"),
        ("bx", "preferred"),
        ("prozac10", "preferred"),
    ):
        services.formulary_entry_set(actor=pic, product=drugs[key], status=status)
    price(drugs["teva"], "9.00", "30")  # 0.3000 a unit
    price(drugs["teva"], "100.00", "100", on=site.today().replace(year=2099))  # not yet
    price(drugs["mylan"], "3.00", "30")  # 0.1000
    price(drugs["aurobindo"], "5.00", "100")  # 0.0500
    stock(site, new_package(drugs["teva"]), lot="T1", quantity=60)
    stock(site, new_package(drugs["aurobindo"]), lot="A1", quantity=10)
    return drugs


def test_equivalents_are_ranked_formulary_then_stock_then_cost(offer_setup, pharmacist):
    drugs = offer_setup
    offer = queries.substitution_offer(
        actor=pharmacist, prescription=rx(pharmacist, drugs["prozac"])
    )
    assert (offer.may_offer, offer.te_code, offer.formulary_status) == (True, "AB", "")
    assert [
        (line.product.labeler, line.formulary_status, line.on_hand, line.unit_cost)
        for line in offer.lines
    ] == [
        ("Teva", "formulary", Decimal("60.000"), Decimal("0.3000")),
        ("Mylan", "formulary", Decimal(0), Decimal("0.1000")),
        ("Aurobindo", "", Decimal("10.000"), Decimal("0.0500")),
    ]


def test_a_preferred_generic_comes_first_whatever_its_stock(offer_setup, pic, pharmacist):
    drugs = offer_setup
    services.formulary_entry_set(actor=pic, product=drugs["aurobindo"], status="preferred")
    offer = queries.substitution_offer(
        actor=pharmacist, prescription=rx(pharmacist, drugs["prozac"])
    )
    assert [line.product.labeler for line in offer.lines] == ["Aurobindo", "Teva", "Mylan"]


def test_the_brand_is_offered_for_a_generic_and_b_rated_never(offer_setup, pharmacist):
    drugs = offer_setup
    offer = queries.substitution_offer(actor=pharmacist, prescription=rx(pharmacist, drugs["teva"]))
    labels = [line.product.labeler for line in offer.lines]
    assert labels == ["Mylan", "Aurobindo", "Eli Lilly and Company"]
    assert drugs["bx"] not in [line.product for line in offer.lines]
    assert drugs["prozac10"] not in [line.product for line in offer.lines]


@pytest.mark.parametrize("daw", [1, 2, 7, 8, 9])
def test_no_equivalent_is_offered_when_the_daw_code_forbids(offer_setup, pharmacist, daw):
    offer = queries.substitution_offer(
        actor=pharmacist, prescription=rx(pharmacist, offer_setup["prozac"], daw=daw)
    )
    assert (offer.may_offer, offer.lines) == (False, [])
    assert offer.reason.startswith(f"DAW {daw}:")
    assert offer.daw_label.startswith(f"{daw} –")


def test_a_b_rated_product_gets_no_offer_with_its_code_in_words(offer_setup, pharmacist):
    offer = queries.substitution_offer(
        actor=pharmacist, prescription=rx(pharmacist, offer_setup["bx"])
    )
    assert offer.lines == []
    assert offer.reason.endswith("has no A-rated equivalent in the catalog (its TE code is BX).")


def test_the_offer_needs_rx_view_and_is_kept_to_the_site(
    offer_setup, pharmacist, auditor, site, other_site
):
    mine = rx(pharmacist, offer_setup["prozac"])
    with pytest.raises(Forbidden):
        queries.substitution_offer(actor=auditor, prescription=mine)
    theirs = rx(user(other_site, Role.PHARMACIST), offer_setup["prozac"])
    with pytest.raises(NotFound):
        queries.substitution_offer(actor=pharmacist, prescription=theirs)


# --- Suggestions ------------------------------------------------------------------------------


def test_an_approved_protocol_suggests_for_a_non_formulary_rx(site, pharmacist):
    row = protocol(site)
    (s,) = queries.interchange_suggestions(
        actor=pharmacist, prescription=rx(pharmacist, ppis()["ome20"])
    )
    assert (s.protocol.pk, s.to_strength, s.how, s.to_status) == (
        row.pk,
        "40 mg",
        "table",
        "preferred",
    )
    assert s.conversion_text == "20 mg/1 → 40 mg"
    (s40,) = queries.interchange_suggestions(
        actor=pharmacist, prescription=rx(pharmacist, ppis()["ome40"])
    )
    assert (s40.to_strength, s40.how) == ("80 mg", "ratio")


def test_no_suggestion_for_a_formulary_rx_a_draft_or_another_drug(site, pic, pharmacist):
    protocol(site, approve=False)
    drugs = ppis()
    assert (
        queries.interchange_suggestions(
            actor=pharmacist, prescription=rx(pharmacist, drugs["ome20"])
        )
        == []
    )
    row = protocol(site, name="Approved one")
    # esomeprazole is not omeprazole (a longer name that contains it)
    assert (
        queries.interchange_suggestions(
            actor=pharmacist, prescription=rx(pharmacist, drugs["eso20"])
        )
        == []
    )
    services.formulary_entry_set(
        actor=pic, product=drugs["ome20"], status="restricted", criteria="GI only"
    )
    assert (
        queries.interchange_suggestions(
            actor=pharmacist, prescription=rx(pharmacist, drugs["ome20"])
        )
        == []
    )
    services.formulary_entry_set(actor=pic, product=drugs["ome20"], status="non_formulary")
    found = queries.interchange_suggestions(
        actor=pharmacist, prescription=rx(pharmacist, drugs["ome20"])
    )
    assert [s.protocol.pk for s in found] == [row.pk]


def test_a_protocol_for_one_strength_skips_the_others(site, pharmacist):
    protocol(site, from_strength="20 mg")
    drugs = ppis()
    assert (
        len(
            queries.interchange_suggestions(
                actor=pharmacist, prescription=rx(pharmacist, drugs["ome20"])
            )
        )
        == 1
    )
    assert (
        queries.interchange_suggestions(
            actor=pharmacist, prescription=rx(pharmacist, drugs["ome40"])
        )
        == []
    )


def test_a_decided_suggestion_carries_its_decision(site, pharmacist):
    row = protocol(site)
    old = rx(pharmacist, ppis()["ome20"])
    services.interchange_decide(
        actor=pharmacist, prescription=old, protocol=row, accept=False, note="Allergy"
    )
    (s,) = queries.interchange_suggestions(actor=pharmacist, prescription=old)
    assert s.decision is not None and s.decision.note == "Allergy"


def test_the_csv_export_lists_the_entries_and_defuses_formulas(pic):
    drugs = fluoxetine()
    services.formulary_entry_set(
        actor=pic, product=drugs["teva"], status="restricted", criteria="=HYPERLINK(x)", tier=2
    )
    header, row = queries.entries_csv_rows(actor=pic)
    assert header[:3] == ["product_id", "ndc", "name"]
    assert row == [
        str(drugs["teva"].pk),
        "0002-3227",
        "Fluoxetine",
        "Fluoxetine Hydrochloride",
        "20 mg/1",
        "CAPSULE",
        "Teva",
        "restricted",
        "2",
        "'=HYPERLINK(x)",
        "",
        "",
        "",
    ]


def test_a_protocol_with_no_dose_for_the_strength_does_not_suggest(site, pharmacist):
    protocol(site, ratio=None)  # the table converts 20 mg only
    drugs = ppis()
    assert (
        queries.interchange_suggestions(
            actor=pharmacist, prescription=rx(pharmacist, drugs["ome40"])
        )
        == []
    )
