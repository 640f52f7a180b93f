"""USP <800> hazardous-drug handling: what a preparation containing a hazardous drug asks
of the room, the engineering control, the person's PPE, receiving and storage. Pure: no
Django (reference compounding-storage.md §5).

A hazardous ingredient that is an antineoplastic (NIOSH Table 1 sense) and is manipulated,
or any hazardous active pharmaceutical ingredient (bulk powder), needs full containment.
Other hazardous drugs may be handled under an assessment of risk (AoR), which lists the
alternative containment the site chose; compounding with them still happens in a C-PEC."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rxdesk.catalog import seeds

FULL, ASSESSMENT = "full containment", "assessment of risk"
LEVELS = (FULL, ASSESSMENT)

# <800> calls "antineoplastic" the antineoplastics of NIOSH Table 1. The 2016 list put the
# hormonal antineoplastics (tamoxifen, megestrol, the aromatase inhibitors…) in Table 1;
# whether the 2024 list moved some of them to Table 2 is not settled (reference §5.7), so
# they count here: compounding with them asks for full containment, the safer reading.
# (Private in the catalog's seeds today; see the helper's report.)
ANTINEOPLASTIC_NAMES: frozenset[str] = seeds.ANTINEOPLASTICS | seeds.HORMONAL_ANTINEOPLASTICS


@dataclass(frozen=True)
class HdIngredient:
    name: str
    substances: str
    hazardous: bool
    bulk: bool = False  # an active pharmaceutical ingredient (bulk powder), not a finished form


def is_antineoplastic(substances: str) -> bool:
    """Whether any of the substances is an antineoplastic (NIOSH Table 1 sense, hormonal
    antineoplastics included)."""
    names = seeds.substances_of(substances)
    return any(seeds.listed(n, ANTINEOPLASTIC_NAMES) for n in names)


def handling(ingredients: Iterable[HdIngredient]) -> str | None:
    """``None`` when nothing is hazardous; else full containment or assessment of risk."""
    hazardous = [i for i in ingredients if i.hazardous]
    if not hazardous:
        return None
    if any(i.bulk or is_antineoplastic(i.substances) for i in hazardous):
        return FULL
    return ASSESSMENT


def requirements(*, sterile: bool, level: str | None) -> list[str]:
    """What the compounding record lists for the people and the room, in order; nothing
    when nothing is hazardous (``level`` None, as :func:`handling` answers)."""
    if level is None:
        return []
    if level not in LEVELS:
        raise ValueError(f"Unknown hazardous-drug handling level {level!r}")
    room = (
        "C-PEC: Class II or III biological safety cabinet or compounding aseptic containment "
        "isolator, externally vented, in a C-SEC: ISO 7 buffer room at −0.01 to −0.03 in. w.c. "
        "with ≥30 air changes an hour (Category 1 only in a C-SCA with ≥12 air changes)"
        if sterile
        else "C-PEC: containment ventilated enclosure or Class I/II biological safety cabinet, "
        "in a C-SEC: separate, externally vented room at −0.01 to −0.03 in. w.c. with ≥12 air "
        "changes an hour"
    )
    ppe = [
        "Two pairs of chemotherapy gloves (ASTM D6978), changed every 30 minutes or when torn"
        + (", outer pair sterile" if sterile else ""),
        "Disposable gown shown to resist hazardous drugs, closed in the back, knit cuffs",
        "Head, hair and beard covers; a second pair of shoe covers to enter the C-SEC",
        "Goggles and face shield where splashes may happen; fit-tested N95 for spills",
    ]
    lines = [room, *ppe]
    if sterile:
        lines.append("Closed-system drug-transfer device (CSTD) where the dosage form allows")
    lines.append("Label the preparation as hazardous; transport sealed with a spill kit at hand")
    lines.append("Deactivate, decontaminate, clean (and disinfect) the C-PEC after compounding")
    if level == ASSESSMENT:
        lines.append(
            "Handled under the site's assessment of risk for this drug and dosage form "
            "(reviewed every 12 months)"
        )
    return lines


RECEIVING = [
    "Unpack in a neutral or negative-pressure area, never in a sterile or positive-pressure room",
    "Chemotherapy gloves to unpack antineoplastics; a spill kit at receiving",
    "A damaged shipment is a spill: full PPE, seal it in plastic, tell the supplier",
]
STORAGE = [
    "Antineoplastics that need manipulation and every hazardous API: apart from other stock, "
    "in an externally vented, negative-pressure room with ≥12 air changes an hour",
    "Refrigerated antineoplastics in a dedicated refrigerator in a negative-pressure area",
    "Final dosage forms and reproductive-only hazards: with other stock if the assessment of "
    "risk allows",
    "Never in automated counting or packaging machines (antineoplastic tablets and capsules)",
]


# --- Assessments of risk (<800>, reference §5.2) ----------------------------------------------

# What is done with the drug, as an assessment of risk names it. Only the first two leave a
# final dosage form as it came: the one thing an antineoplastic may be under an AoR for.
COUNT, INTACT = "count-repackage", "dispense-intact"
MANIPULATIONS: dict[str, str] = {
    COUNT: "Count or repackage the final dosage form",
    INTACT: "Dispense intact (unit of use, sealed package)",
    "crush-split": "Crush, split, cut or open tablets or capsules",
    "reconstitute-dilute": "Reconstitute, dilute or draw up",
    "compound-nonsterile": "Compound nonsterile (weigh, mix, levigate)",
    "compound-sterile": "Compound sterile (aseptic manipulation)",
    "administer": "Administer",
}
FINAL_FORM_ONLY = frozenset({COUNT, INTACT})


def assessment_refusal(*, substances: str, bulk: bool, manipulation: str) -> str | None:
    """Why <800> allows no assessment of risk for this drug and handling (``None`` when
    one is allowed): every hazardous API, and an antineoplastic manipulated beyond counting
    or repackaging its final dosage form, must follow all of <800>'s containment."""
    if bulk:
        return (
            "A hazardous active pharmaceutical ingredient (bulk) is always handled with full "
            "containment (USP <800>); an assessment of risk cannot replace it."
        )
    if is_antineoplastic(substances) and manipulation not in FINAL_FORM_ONLY:
        return (
            "An antineoplastic that is manipulated (anything but counting or repackaging the "
            "final dosage form) needs full containment under USP <800>; an assessment of risk "
            "cannot replace it."
        )
    return None


# Handlings that are compounding: an assessment of risk for one of these covers making a
# preparation with the drug; one for counting or administering does not.
COMPOUNDING_MANIPULATIONS = frozenset(
    {"crush-split", "reconstitute-dilute", "compound-nonsterile", "compound-sterile"}
)
