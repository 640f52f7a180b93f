"""USP <800> handling, pure (rxdesk.compounding.hd): which hazardous drugs need full
containment, what a record lists, and when an assessment of risk is not allowed."""

from __future__ import annotations

import pytest

from rxdesk.compounding import hd

FIN = hd.HdIngredient("Finasteride", "FINASTERIDE", hazardous=True)
MTX = hd.HdIngredient("Methotrexate", "METHOTREXATE SODIUM", hazardous=True)
TAM = hd.HdIngredient("Tamoxifen", "TAMOXIFEN CITRATE", hazardous=True)
API = hd.HdIngredient("Estradiol powder", "ESTRADIOL", hazardous=True, bulk=True)
WATER = hd.HdIngredient("Water", "", hazardous=False)
BULK_SAFE = hd.HdIngredient("Lactose", "LACTOSE", hazardous=False, bulk=True)


def test_nothing_hazardous_needs_nothing():
    assert hd.handling([WATER, BULK_SAFE]) is None
    assert hd.handling([]) is None
    assert hd.requirements(sterile=True, level=None) == []


def test_a_non_antineoplastic_hazardous_drug_may_be_under_an_assessment():
    assert hd.handling([WATER, FIN]) == hd.ASSESSMENT


@pytest.mark.parametrize("drug", [MTX, TAM, API])
def test_an_antineoplastic_or_a_hazardous_api_needs_full_containment(drug):
    assert hd.handling([FIN, drug]) == hd.FULL


def test_the_handling_reads_a_generator_once():
    assert hd.handling(i for i in [FIN, MTX]) == hd.FULL


@pytest.mark.parametrize(
    ("substances", "expected"),
    [
        ("METHOTREXATE SODIUM", True),
        ("FLUOROURACIL", True),
        ("TAMOXIFEN CITRATE", True),  # hormonal: NIOSH 2016 Table 1
        ("ANASTROZOLE", True),
        ("FINASTERIDE", False),
        ("WARFARIN SODIUM", False),
        ("", False),
        ("ACETAMINOPHEN; METHOTREXATE", True),
    ],
)
def test_antineoplastics_by_substance(substances, expected):
    assert hd.is_antineoplastic(substances) is expected


def test_sterile_requirements_name_the_bsc_the_buffer_room_and_a_cstd():
    lines = hd.requirements(sterile=True, level=hd.FULL)
    assert lines[0].startswith("C-PEC: Class II or III biological safety cabinet")
    assert "ISO 7 buffer room at −0.01 to −0.03 in. w.c." in lines[0]
    assert any("outer pair sterile" in line for line in lines)
    assert any(line.startswith("Closed-system drug-transfer device") for line in lines)
    assert not any("assessment of risk" in line for line in lines)


def test_nonsterile_requirements_name_the_cve_and_12_air_changes():
    lines = hd.requirements(sterile=False, level=hd.ASSESSMENT)
    assert "containment ventilated enclosure" in lines[0] and "≥12 air changes" in lines[0]
    assert not any("sterile" in line and "outer pair" in line for line in lines)
    assert not any(line.startswith("Closed-system") for line in lines)
    assert lines[-1].startswith("Handled under the site's assessment of risk")


def test_an_unknown_level_is_a_programming_error():
    with pytest.raises(ValueError):
        hd.requirements(sterile=False, level="some containment")


@pytest.mark.parametrize("manipulation", sorted(hd.MANIPULATIONS))
def test_a_non_antineoplastic_may_have_an_assessment_for_any_handling(manipulation):
    assert (
        hd.assessment_refusal(substances="FINASTERIDE", bulk=False, manipulation=manipulation)
        is None
    )


@pytest.mark.parametrize(
    ("manipulation", "allowed"),
    [
        (hd.COUNT, True),
        (hd.INTACT, True),
        ("crush-split", False),
        ("compound-nonsterile", False),
        ("compound-sterile", False),
        ("reconstitute-dilute", False),
        ("administer", False),
    ],
)
def test_an_antineoplastic_only_when_its_final_form_is_counted_or_dispensed(manipulation, allowed):
    refusal = hd.assessment_refusal(
        substances="METHOTREXATE SODIUM", bulk=False, manipulation=manipulation
    )
    assert (refusal is None) is allowed
    if refusal:
        assert "antineoplastic" in refusal and "USP <800>" in refusal


def test_a_hazardous_api_never_has_an_assessment():
    refusal = hd.assessment_refusal(substances="ESTRADIOL", bulk=True, manipulation=hd.COUNT)
    assert refusal is not None and "bulk" in refusal
