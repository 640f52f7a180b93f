"""Tall Man lettering (pure; no database)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rxdesk.catalog.tallman import TALL_MAN, tall_man

REFERENCE = (
    Path(__file__).resolve().parents[3] / "shared" / "reference" / "identifiers-labels-math.md"
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Hydroxyzine Hydrochloride", "hydrOXYzine Hydrochloride"),
        ("BUPROPION HYDROCHLORIDE", "buPROPion HYDROCHLORIDE"),
        ("hydralazine 25 mg tablet", "hydrALAZINE 25 mg tablet"),
        ("Oxycodone and Acetaminophen", "oxyCODONE and Acetaminophen"),
        ("oxycodone/acetaminophen", "oxyCODONE/acetaminophen"),
        ("OXYCONTIN 10 MG", "OxyCONTIN 10 MG"),
        ("celebrex", "CeleBREX"),
        ("Humalog Mix 75/25", "HumaLOG Mix 75/25"),
        ("Levetiracetam (Keppra)", "levETIRAcetam (Keppra)"),
        ("Prednisone; prednisolone", "predniSONE; prednisoLONE"),
        ("Sitagliptin", "sitaGLIPtin"),
        ("clonazePAM", "clonazePAM"),
        ("sufentanil-like", "SUFentanil-like"),  # a hyphen ends the word
    ],
)
def test_it_rewrites_listed_words(name, expected):
    assert tall_man(name) == expected


@pytest.mark.parametrize(
    "name",
    [
        "Acetaminophen 500 mg",
        "morphine sulfate",  # listed, but with no capitals to add
        "hydroxyzines",  # not a whole word
        "prehydroxyzine",
        "hydroxyzine_pamoate",
        "",
    ],
)
def test_it_leaves_other_words_alone(name):
    assert tall_man(name) == name


def test_table_keys_are_lower_case_spellings_of_their_values():
    assert TALL_MAN["hydroxyzine"] == "hydrOXYzine"
    assert TALL_MAN["bupropion"] == "buPROPion"
    assert TALL_MAN["celebrex"] == "CeleBREX"
    for word, spelling in TALL_MAN.items():
        assert word == spelling.lower() != spelling


def test_table_covers_every_name_in_the_reference_list():
    if not REFERENCE.exists():
        pytest.skip(f"reference not found at {REFERENCE}")
    text = REFERENCE.read_text(encoding="utf-8")
    section = text.split("### 3.6", 1)[1].split("\n---", 1)[0]
    rows = re.findall(r"^\| \d+ \| (.+?) \|$", section, flags=re.MULTILINE)
    assert len(rows) == 54
    spellings = {s.strip() for row in rows for s in re.split(r"[/;]", row)}
    mixed = {s for s in spellings if s != s.lower()}
    # sitagliptin is spelled two ways in the list; the table holds one (see tallman._CHOSEN).
    assert mixed - set(TALL_MAN.values()) == {"SITagliptin"}
    assert set(TALL_MAN.values()) <= mixed
    assert {s for s in spellings if s == s.lower()} == {"morphine", "tretinoin"}


@given(st.text())
def test_it_only_ever_changes_letter_case_and_is_idempotent(name):
    result = tall_man(name)
    assert result.lower() == name.lower()
    assert tall_man(result) == result


@given(st.lists(st.sampled_from(sorted(TALL_MAN)), min_size=1, max_size=4), st.data())
def test_it_rewrites_listed_words_in_any_case(words, data):
    cased = ["".join(c.upper() if data.draw(st.booleans()) else c for c in word) for word in words]
    assert tall_man(" ".join(cased)) == " ".join(TALL_MAN[w] for w in words)
