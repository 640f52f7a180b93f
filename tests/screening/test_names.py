"""Ingredient-name normalisation (rxdesk.screening.names): FDA substance names to the
generic base names screening compares."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rxdesk.screening.names import (
    HYDRATE_WORDS,
    ION_WORDS,
    SALT_WORDS,
    ingredient_name,
    ingredient_names,
)

PRODUCT_FILE = Path(__file__).resolve().parents[3] / "shared" / "data" / "fda-ndc" / "product.txt"

KNOWN = [
    ("FLUOXETINE HYDROCHLORIDE", "fluoxetine"),
    ("fluoxetine hcl", "fluoxetine"),
    ("AMLODIPINE BESYLATE", "amlodipine"),
    ("METOPROLOL SUCCINATE", "metoprolol"),
    ("METOPROLOL TARTRATE", "metoprolol"),
    ("ATORVASTATIN CALCIUM TRIHYDRATE", "atorvastatin"),
    ("ATORVASTATIN CALCIUM PROPYLENE GLYCOL SOLVATE", "atorvastatin"),
    ("ESOMEPRAZOLE MAGNESIUM DIHYDRATE", "esomeprazole"),
    ("PANTOPRAZOLE SODIUM", "pantoprazole"),
    ("LEVOTHYROXINE SODIUM ANHYDROUS", "levothyroxine"),
    ("WARFARIN SODIUM", "warfarin"),
    ("HYDROCODONE BITARTRATE", "hydrocodone"),
    ("CLOPIDOGREL BISULFATE", "clopidogrel"),
    ("LISDEXAMFETAMINE DIMESYLATE", "lisdexamfetamine"),
    ("DEXTROAMPHETAMINE SACCHARATE", "dextroamphetamine"),
    ("AMPHETAMINE ASPARTATE MONOHYDRATE", "amphetamine"),
    ("SUMATRIPTAN SUCCINATE", "sumatriptan"),
    ("RIZATRIPTAN BENZOATE", "rizatriptan"),
    ("DARUNAVIR ETHANOLATE", "darunavir"),
    ("BETAMETHASONE DIPROPIONATE", "betamethasone"),
    ("DEXAMETHASONE SODIUM PHOSPHATE", "dexamethasone"),
    ("METHYLPREDNISOLONE SODIUM SUCCINATE", "methylprednisolone"),
    ("TRIAMCINOLONE ACETONIDE", "triamcinolone"),
    ("DOXYCYCLINE HYCLATE", "doxycycline"),
    ("ERYTHROMYCIN ETHYLSUCCINATE", "erythromycin"),
    ("PAROXETINE HYDROCHLORIDE HEMIHYDRATE", "paroxetine"),
    ("GLYCOPYRRONIUM TOSYLATE", "glycopyrronium"),
    ("METHYLENE BLUE ANHYDROUS", "methylene blue"),
    ("ST. JOHN'S WORT", "st. john's wort"),
    ("St John\u2019s wort", "st. john's wort"),
    ("HYPERICUM PERFORATUM", "st. john's wort"),
    (".ALPHA.-TOCOPHEROL ACETATE, DL-", "vitamin e"),
    ("THYROID, PORCINE", "thyroid"),
    ("GLIBENCLAMIDE", "glyburide"),
    ("Paracetamol", "acetaminophen"),
    # the salt word is the drug: kept whole
    ("SODIUM BICARBONATE", "sodium bicarbonate"),
    ("POTASSIUM CHLORIDE", "potassium chloride"),
    ("MAGNESIUM OXIDE", "magnesium oxide"),
    ("CALCIUM CARBONATE", "calcium carbonate"),
    ("LITHIUM CARBONATE", "lithium carbonate"),
    ("CALCIUM ACETATE MONOHYDRATE", "calcium acetate"),
    ("MAGNESIUM SULFATE HEPTAHYDRATE", "magnesium sulfate"),
    ("FERROUS SULFATE, DRIED", "ferrous sulfate"),
    ("ZINC SULFATE, UNSPECIFIED FORM", "zinc sulfate"),
    ("SODIUM CHLORIDE", "sodium chloride"),
    ("ANHYDROUS TRISODIUM CITRATE", "trisodium citrate"),
    ("SODIUM PHOSPHATE, DIBASIC, ANHYDROUS", "sodium phosphate, dibasic"),
    ("SODIUM FERRIC GLUCONATE COMPLEX", "sodium ferric gluconate complex"),
    ("CHLORAL HYDRATE", "chloral hydrate"),
    ("BENZYL BENZOATE", "benzyl benzoate"),
    ("ADENOSINE CYCLIC 3',5'-PHOSPHATE", "adenosine cyclic 3',5'-phosphate"),
]


@pytest.mark.parametrize(("raw", "expected"), KNOWN)
def test_it_reduces_a_substance_to_its_base_name(raw, expected):
    assert ingredient_name(raw) == expected


def test_it_splits_fda_multi_ingredient_names_without_repeats():
    assert ingredient_names("AMLODIPINE BESYLATE; ATORVASTATIN CALCIUM") == (
        "amlodipine",
        "atorvastatin",
    )
    assert ingredient_names("AMPHETAMINE ASPARTATE; AMPHETAMINE SULFATE; ") == ("amphetamine",)
    assert ingredient_names("") == ()


def test_it_keeps_blank_as_blank():
    assert ingredient_name("   ") == ""


_WORDS = [*sorted(SALT_WORDS | HYDRATE_WORDS | ION_WORDS), "fluoxetine", "x", "acid", "blue"]


@given(st.lists(st.sampled_from(_WORDS), min_size=1, max_size=5))
def test_it_is_never_empty_lower_case_and_stable(words):
    name = ingredient_name(" ".join(words).upper())
    assert name
    assert name == name.lower()
    assert ingredient_name(name) == name


@pytest.mark.slow
@pytest.mark.skipif(not PRODUCT_FILE.exists(), reason="../shared/data not present")
def test_it_names_every_substance_of_the_fda_directory():
    seen: dict[str, str] = {}
    with PRODUCT_FILE.open(encoding="latin-1", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t")
        column = next(reader).index("SUBSTANCENAME")
        for row in reader:
            if len(row) <= column:
                continue
            for part in row[column].split(";"):
                if part.strip() and part not in seen:
                    seen[part.strip()] = ingredient_name(part)
    assert len(seen) > 5000
    assert [raw for raw, name in seen.items() if not name] == []
    sample = {raw: expected for raw, expected in KNOWN if raw in seen}
    assert len(sample) > 30
    assert {raw: seen[raw] for raw in sample} == sample
