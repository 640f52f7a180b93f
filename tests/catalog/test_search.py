"""Type-ahead search over the catalog (rxdesk.catalog.search through queries.catalog_search).

Runs on SQLite (FTS5) and, with DATABASE_URL=postgres://…, on PostgreSQL (tsvector + GIN,
pg_trgm): both must give the same answers."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection

from rxdesk.catalog import search
from rxdesk.catalog.models import Product
from rxdesk.catalog.ndc import ndc_to_upc
from rxdesk.catalog.queries import catalog_search
from rxdesk.core import context
from rxdesk.core.errors import Forbidden
from tests.catalog.factories import PackageFactory, ProductFactory
from tests.conftest import on_postgres


def names(hits) -> list[str]:
    return [f"{h.product.name} {h.product.strength}".strip() for h in hits]


def drug(name: str, strength: str = "10 mg/1", **fields) -> Product:
    fields.setdefault("generic_name", name)
    fields.setdefault("substances", name.upper())
    return ProductFactory(name=name, strength=strength, **fields)


@pytest.fixture
def statins(db):
    return [
        drug("Atorvastatin Calcium", "40 mg/1"),
        drug("Atorvastatin Calcium", "10 mg/1"),
        drug("Atorvastatin Calcium", "80 mg/1"),
        drug("Lipitor", "40 mg/1", generic_name="atorvastatin calcium trihydrate"),
        drug("Simvastatin", "40 mg/1"),
    ]


@pytest.mark.parametrize("q", ["", "a", "at", " at ", "a-t", "12", "0-2"])
def test_fewer_than_three_characters_list_nothing(technician, statins, q):
    assert catalog_search(actor=technician, q=q) == []


def test_a_brand_name_prefix_finds_the_product(technician, statins):
    assert names(catalog_search(actor=technician, q="lipi")) == ["Lipitor 40 mg/1"]


def test_a_generic_name_prefix_finds_brands_and_generics(technician, statins):
    assert names(catalog_search(actor=technician, q="ATOR")) == [
        "Atorvastatin Calcium 10 mg/1",  # name matches first, strengths in numeric order
        "Atorvastatin Calcium 40 mg/1",
        "Atorvastatin Calcium 80 mg/1",
        "Lipitor 40 mg/1",  # then generic-name matches
    ]


def test_every_word_must_match_name_and_strength(technician, statins):
    assert names(catalog_search(actor=technician, q="ator 40")) == [
        "Atorvastatin Calcium 40 mg/1",
        "Lipitor 40 mg/1",
    ]
    assert names(catalog_search(actor=technician, q="statin 40")) == []  # words start at words


def test_ingredients_and_dosage_forms_are_searched(technician, db):
    drug(
        "Norco",
        "5 mg/1; 325 mg/1",
        generic_name="Hydrocodone Bitartrate and Acetaminophen",
        substances="HYDROCODONE BITARTRATE; ACETAMINOPHEN",
        dosage_form="TABLET",
    )
    drug("Tylenol", "325 mg/1", substances="ACETAMINOPHEN", dosage_form="TABLET, FILM COATED")
    drug("Tylenol", "160 mg/5mL", substances="ACETAMINOPHEN", dosage_form="SUSPENSION")

    assert names(catalog_search(actor=technician, q="bitart")) == ["Norco 5 mg/1; 325 mg/1"]
    assert names(catalog_search(actor=technician, q="acetaminophen film")) == ["Tylenol 325 mg/1"]
    assert names(catalog_search(actor=technician, q="tylenol susp")) == ["Tylenol 160 mg/5mL"]


def test_a_decimal_strength_matches_as_a_phrase(technician, db):
    drug("Lorazepam", "0.5 mg/1")
    drug("Lorazepam", "5 mg/1")
    drug("Lorazepam", "1 mg/1")
    assert names(catalog_search(actor=technician, q="loraz 0.5")) == ["Lorazepam 0.5 mg/1"]


def test_the_ranking_exact_then_name_then_generic_then_the_rest_active_first(technician, db):
    drug("Jantoven Warfarin Combo", generic_name="aspirin and warfarin")  # the rest
    drug("Coumadin", generic_name="Warfarin Sodium")  # generic name begins with it
    drug("Warfarin Sodium")  # name begins with it
    drug("Warfarin")  # the name itself
    drug("Warfarin", active=False)  # withdrawn from the directory: last
    drug("Aardvark Warfarin", active=False, generic_name="aardvark")

    hits = catalog_search(actor=technician, q="warfarin")

    assert [(h.product.name, h.product.active) for h in hits] == [
        ("Warfarin", True),
        ("Warfarin Sodium", True),
        ("Coumadin", True),
        ("Jantoven Warfarin Combo", True),
        ("Warfarin", False),
        ("Aardvark Warfarin", False),
    ]
    for limit in range(1, 8):  # a shorter page is the start of the same list
        assert catalog_search(actor=technician, q="warfarin", limit=limit) == hits[:limit]


def test_the_limit_cuts_the_list(technician, db):
    for n in range(8):
        drug(f"Metformin {n}")
    assert len(catalog_search(actor=technician, q="metf", limit=5)) == 5
    assert len(catalog_search(actor=technician, q="metf")) == 8


def test_the_exact_name_comes_first_and_the_page_is_never_longer_than_asked(technician, db):
    drug("Ibuprofen", "200 mg/1")
    drug("Ibuprofen", "200 mg/1", labeler="Other")
    drug("Ibuprofen 200", "200 mg/1")
    hits = catalog_search(actor=technician, q="ibuprofen 200", limit=2)
    assert [h.product.name for h in hits] == ["Ibuprofen 200", "Ibuprofen"]


def test_search_syntax_in_what_was_typed_is_just_text(technician, statins):
    for q in [
        'ator" OR *',
        "ator AND NOT",
        "{name}: ator",
        "ator*",
        "(ator)",
        "ator -lip",
        "^ator",
    ]:
        hits = catalog_search(actor=technician, q=q)
        assert all("ator" in h.product.generic_name.lower() for h in hits), q
    assert names(catalog_search(actor=technician, q="ator*"))[0] == "Atorvastatin Calcium 10 mg/1"


def test_results_carry_the_active_packages_smallest_first(technician, db):
    product = drug("Prozac", "20 mg/1")
    PackageFactory(product=product, ndc10="0002-3227-90", package_quantity=Decimal(90))
    PackageFactory(product=product, ndc10="0002-3227-30", package_quantity=Decimal(30))
    PackageFactory(product=product, ndc10="0002-3227-99", package_quantity=Decimal(1), active=False)

    (hit,) = catalog_search(actor=technician, q="prozac")

    assert hit.package is None
    assert [p.ndc10 for p in hit.packages] == ["0002-3227-30", "0002-3227-90"]


# --- NDCs -------------------------------------------------------------------------------------


@pytest.fixture
def packages(db):
    lilly = drug("Prozac", "20 mg/1")
    return {
        "442": PackageFactory(product=lilly, ndc10="0002-3227-30"),
        "532": PackageFactory(product=drug("Five Three Two"), ndc10="12345-678-90"),
        "541": PackageFactory(product=drug("Five Four One"), ndc10="54321-1234-5"),
        "old": PackageFactory(product=lilly, ndc10="0002-3227-10", active=False),
    }


@pytest.mark.parametrize(
    ("q", "ndc10s"),
    [
        ("0002-32", ["0002-3227-30", "0002-3227-10"]),  # 4-4-2 being typed; active first
        ("0002-3227-3", ["0002-3227-30"]),
        ("000023227", ["0002-3227-30", "0002-3227-10"]),  # the 11-digit form
        ("0002322730", ["0002-3227-30"]),  # ten digits, no hyphens
        ("12345-678", ["12345-678-90"]),  # 5-3-2: the product code padded with a zero
        ("12345678", ["12345-678-90"]),
        ("54321-1234-5", ["54321-1234-5"]),  # 5-4-1
        ("5432112340", ["54321-1234-5"]),
        ("99999", []),
    ],
)
def test_an_ndc_prefix_in_any_layout_finds_packages(technician, packages, q, ndc10s):
    hits = catalog_search(actor=technician, q=q)
    assert [h.package.ndc10 for h in hits] == ndc10s
    assert all(h.product == h.package.product for h in hits)


def test_a_scanned_upc_in_the_search_box_finds_its_package(technician, packages):
    hits = catalog_search(actor=technician, q=ndc_to_upc("0002-3227-30"))
    assert [h.package.ndc10 for h in hits] == ["0002-3227-30"]
    assert catalog_search(actor=technician, q="300000000000") == []  # a bad check digit


def test_ndc_prefixes_cover_every_layout():
    assert search.ndc_prefixes("0002-32") == ["0000232"]
    assert search.ndc_prefixes("12345-12") == ["12345012", "1234512"]
    assert search.ndc_prefixes("0002322730") == [
        "0002322730",
        "00002322730",
        "00023022730",
        "00023227300",
    ]
    assert search.ndc_prefixes("1-2") == []
    assert search.ndc_prefixes("1-2-3-4") == []


# --- The index follows the table ---------------------------------------------------------------


def test_the_index_follows_inserts_updates_and_deletes(technician, db):
    product = drug("Zocor")
    assert names(catalog_search(actor=technician, q="zoco")) == ["Zocor 10 mg/1"]

    Product.objects.filter(pk=product.pk).update(
        name="Zetia", generic_name="ezetimibe", substances="EZETIMIBE"
    )
    assert catalog_search(actor=technician, q="zoco") == []
    assert names(catalog_search(actor=technician, q="ezet")) == ["Zetia 10 mg/1"]

    Product.objects.filter(pk=product.pk).update(active=False)  # not an indexed column
    assert [h.product.active for h in catalog_search(actor=technician, q="zeti")] == [False]

    Product.objects.bulk_create(
        [Product(product_id="bulk-1", product_ndc="1-1", product_type="X", name="Zyrtec")]
    )
    assert names(catalog_search(actor=technician, q="zyrt")) == ["Zyrtec"]

    Product.objects.filter(pk=product.pk).delete()
    assert catalog_search(actor=technician, q="ezet") == []


@pytest.mark.skipif("on_postgres()", reason="SQLite only: a table rebuild drops triggers")
def test_lost_sqlite_triggers_and_indexes_are_put_back(technician, db):
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER catalog_product_fts_ai")
        cursor.execute("DROP INDEX catalog_product_active_lname")
    drug("Crestor")  # added while the trigger is missing

    assert search.ensure_index() == ["catalog_product_fts_ai", "catalog_product_active_lname"]

    assert names(catalog_search(actor=technician, q="crest")) == ["Crestor 10 mg/1"]
    drug("Caduet")
    assert names(catalog_search(actor=technician, q="cadu")) == ["Caduet 10 mg/1"]
    assert search.ensure_index() == []


@pytest.mark.postgres
def test_postgres_offers_close_spellings_when_nothing_matches(technician, statins):
    assert on_postgres()
    hits = catalog_search(actor=technician, q="atorvastatn")
    assert {h.product.name for h in hits} == {"Atorvastatin Calcium"}


# --- Who may search ---------------------------------------------------------------------------


def test_every_role_may_search(personas, statins):
    for user in personas.values():
        assert len(catalog_search(actor=user, q="simva")) == 1


def test_nobody_signed_in_may_search_outside_the_cli(db, statins):
    with pytest.raises(Forbidden):
        catalog_search(actor=None, q="simva")
    with context.using(context.RequestInfo(channel="cli")):
        assert len(catalog_search(actor=None, q="simva")) == 1


@pytest.mark.parametrize(
    "q",
    [
        "²²²",
        "‿‿‿ator",
        "ǅǅǅ",
        "\ud7ffab",
        "\U0010ffffab",
        "ÀÉÎ",
        "'''",
        "1.2.3",
        "a b c d e f g h i j",
    ],
)
def test_odd_characters_never_break_the_search(technician, statins, q):
    assert isinstance(catalog_search(actor=technician, q=q), list)
