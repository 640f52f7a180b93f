"""Default safety flags for newly imported products: a curated NIOSH hazardous-drug list
(USP <800>) and an ISMP high-alert list, matched on the directory's active substances.

These are seeds, not the last word. USP <800> makes each pharmacy keep its own hazardous-
drug list and review it at least every 12 months, and ISMP's lists differ by setting (acute,
community, long-term care); the pharmacist-in-charge corrects a product's flags through
rxdesk.catalog.services.product_flags_update, which is audited. The importer calls
:func:`seed_flags` only for products it creates, so a PIC's decision is never overwritten.

Sources (our own summary in ../shared/reference/): compounding-storage.md §5 (NIOSH 2016 and
2024 lists, common community-pharmacy hazardous drugs) and clinical-screening.md §2 (ISMP
acute-care 2024, community/ambulatory 2021 and long-term-care 2021 lists). Liraglutide left
the NIOSH list in 2024 and is not here. Where ISMP lists a drug only for injection (e.g.
concentrated potassium chloride), it is in ``HIGH_ALERT_PARENTERAL_INGREDIENTS`` and flags
a product only when its route or dosage form is parenteral."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

# Pure arithmetic (no Django, no models): the catalog does not depend on the POS app.
from rxdesk.calc import cmea

# Antineoplastics (NIOSH Table 1 in 2016; most also ISMP "chemotherapy, oral and
# parenteral"). Hormonal antineoplastics are hazardous but ISMP excludes them from the
# high-alert chemotherapy class, so they are listed apart.
_ANTINEOPLASTICS = frozenset(
    {
        "ABEMACICLIB",
        "AFATINIB",
        "ALTRETAMINE",
        "ARSENIC TRIOXIDE",
        "AXITINIB",
        "AZACITIDINE",
        "BENDAMUSTINE",
        "BLEOMYCIN",
        "BORTEZOMIB",
        "BOSUTINIB",
        "BUSULFAN",
        "CABOZANTINIB",
        "CAPECITABINE",
        "CARBOPLATIN",
        "CARFILZOMIB",
        "CARMUSTINE",
        "CHLORAMBUCIL",
        "CISPLATIN",
        "CLADRIBINE",
        "CYCLOPHOSPHAMIDE",
        "CYTARABINE",
        "DABRAFENIB",
        "DACARBAZINE",
        "DACTINOMYCIN",
        "DASATINIB",
        "DAUNORUBICIN",
        "DECITABINE",
        "DOCETAXEL",
        "DOXORUBICIN",
        "EPIRUBICIN",
        "ERLOTINIB",
        "ETOPOSIDE",
        "EVEROLIMUS",
        "FLUDARABINE",
        "FLUOROURACIL",
        "GEFITINIB",
        "GEMCITABINE",
        "HYDROXYUREA",
        "IBRUTINIB",
        "IDARUBICIN",
        "IFOSFAMIDE",
        "IMATINIB",
        "IRINOTECAN",
        "IXABEPILONE",
        "LAPATINIB",
        "LENALIDOMIDE",
        "LENVATINIB",
        "LOMUSTINE",
        "MELPHALAN",
        "MERCAPTOPURINE",
        "METHOTREXATE",
        "MITOMYCIN",
        "MITOXANTRONE",
        "NILOTINIB",
        "NIRAPARIB",
        "OLAPARIB",
        "OSIMERTINIB",
        "OXALIPLATIN",
        "PACLITAXEL",
        "PALBOCICLIB",
        "PAZOPANIB",
        "PEMETREXED",
        "POMALIDOMIDE",
        "PROCARBAZINE",
        "REGORAFENIB",
        "RIBOCICLIB",
        "RUCAPARIB",
        "SORAFENIB",
        "SUNITINIB",
        "TEMOZOLOMIDE",
        "THALIDOMIDE",
        "THIOGUANINE",
        "THIOTEPA",
        "TOPOTECAN",
        "TRAMETINIB",
        "VEMURAFENIB",
        "VENETOCLAX",
        "VINBLASTINE",
        "VINCRISTINE",
        "VINORELBINE",
        "VISMODEGIB",
    }
)

_HORMONAL_ANTINEOPLASTICS = frozenset(
    {
        "ABIRATERONE",
        "ANASTROZOLE",
        "BICALUTAMIDE",
        "ENZALUTAMIDE",
        "EXEMESTANE",
        "FULVESTRANT",
        "LETROZOLE",
        "MEGESTROL",
        "TAMOXIFEN",
        "TOREMIFENE",
        "TRIPTORELIN",
    }
)

_IMMUNOSUPPRESSANTS = frozenset(
    {
        "AZATHIOPRINE",
        "CYCLOSPORINE",
        "MYCOPHENOLATE",
        "MYCOPHENOLIC ACID",
        "SIROLIMUS",
        "TACROLIMUS",
    }
)

# Teratogens that ISMP's community list calls "contraindicated in pregnancy" and NIOSH
# lists for reproductive or developmental hazard.
_PREGNANCY_HAZARDS = frozenset(
    {"ACITRETIN", "AMBRISENTAN", "BOSENTAN", "ISOTRETINOIN", "MACITENTAN", "RIOCIGUAT"}
)

HAZARDOUS_INGREDIENTS: frozenset[str] = (
    _ANTINEOPLASTICS
    | _HORMONAL_ANTINEOPLASTICS
    | _IMMUNOSUPPRESSANTS
    | _PREGNANCY_HAZARDS
    | frozenset(
        {
            # NIOSH non-antineoplastics common in community pharmacy (reference §5.7).
            "CARBAMAZEPINE",
            "DIVALPROEX",
            "DUTASTERIDE",
            "ESTRADIOL",
            "ESTROGENS, CONJUGATED",
            "ESTROGENS, ESTERIFIED",
            "CONJUGATED ESTROGENS",
            "ESTROPIPATE",
            "FINASTERIDE",
            "FLUCONAZOLE",
            "GANCICLOVIR",
            "LEFLUNOMIDE",
            "MEDROXYPROGESTERONE",
            "METHIMAZOLE",
            "MISOPROSTOL",
            "PAROXETINE",
            "PROGESTERONE",
            "SPIRONOLACTONE",
            "TERIFLUNOMIDE",
            "TESTOSTERONE",
            "TOFACITINIB",
            "TOPIRAMATE",
            "VALGANCICLOVIR",
            "VALPROATE",
            "VALPROIC ACID",
            "VORICONAZOLE",
            "WARFARIN",
            "ZIPRASIDONE",
            "ZOLEDRONIC ACID",
            "ZONISAMIDE",
        }
    )
)

_OPIOIDS = frozenset(
    {
        "ALFENTANIL",
        "BUPRENORPHINE",
        "BUTORPHANOL",
        "CODEINE",
        "FENTANYL",
        "HYDROCODONE",
        "HYDROMORPHONE",
        "LEVORPHANOL",
        "MEPERIDINE",
        "METHADONE",
        "MORPHINE",
        "NALBUPHINE",
        "OPIUM",
        "OXYCODONE",
        "OXYMORPHONE",
        "PENTAZOCINE",
        "REMIFENTANIL",
        "SUFENTANIL",
        "TAPENTADOL",
        "TRAMADOL",
    }
)

_ANTITHROMBOTICS = frozenset(
    {
        "ALTEPLASE",
        "APIXABAN",
        "ARGATROBAN",
        "BETRIXABAN",
        "BIVALIRUDIN",
        "DABIGATRAN",
        "DALTEPARIN",
        "DESIRUDIN",
        "EDOXABAN",
        "ENOXAPARIN",
        "EPTIFIBATIDE",
        "FONDAPARINUX",
        "HEPARIN",
        "RETEPLASE",
        "RIVAROXABAN",
        "TENECTEPLASE",
        "TINZAPARIN",
        "WARFARIN",
    }
)

_SULFONYLUREAS = frozenset(
    {"CHLORPROPAMIDE", "GLIMEPIRIDE", "GLIPIZIDE", "GLYBURIDE", "TOLAZAMIDE", "TOLBUTAMIDE"}
)

HIGH_ALERT_INGREDIENTS: frozenset[str] = (
    _ANTINEOPLASTICS
    | _IMMUNOSUPPRESSANTS
    | _PREGNANCY_HAZARDS
    | _OPIOIDS
    | _ANTITHROMBOTICS
    | _SULFONYLUREAS
    | frozenset(
        {
            "INSULIN",  # every insulin: "INSULIN GLARGINE", "INSULIN HUMAN", …
            # Specific medications (community 2021, long-term care 2021).
            "CARBAMAZEPINE",
            "CARBIDOPA",
            "CHLORAL HYDRATE",
            "DIGOXIN",
            "DIVALPROEX",
            "LAMOTRIGINE",
            "LEVODOPA",
            "PHENYTOIN",
            "FOSPHENYTOIN",
            "PROPYLTHIOURACIL",
            "SACUBITRIL",
            "VALPROATE",
            "VALPROIC ACID",
        }
    )
)

# High-alert only as injections (ISMP acute-care list and the parenteral items of the
# community and long-term-care lists).
HIGH_ALERT_PARENTERAL_INGREDIENTS: frozenset[str] = frozenset(
    {
        "AMIODARONE",
        "ATRACURIUM",
        "CISATRACURIUM",
        "DEXMEDETOMIDINE",
        "EPINEPHRINE",
        "EPOPROSTENOL",
        "IRON DEXTRAN",
        "KETAMINE",
        "MAGNESIUM SULFATE",
        "MIDAZOLAM",
        "MILRINONE",
        "NITROPRUSSIDE",
        "NOREPINEPHRINE",
        "OXYTOCIN",
        "PANCURONIUM",
        "POTASSIUM CHLORIDE",
        "POTASSIUM PHOSPHATE",
        "POTASSIUM PHOSPHATES",
        "PROMETHAZINE",
        "PROPOFOL",
        "ROCURONIUM",
        "SUCCINYLCHOLINE",
        "VASOPRESSIN",
        "VECURONIUM",
    }
)

_PARENTERAL = re.compile(
    r"INJECT|INTRAVENOUS|INTRAMUSCULAR|SUBCUTANEOUS|INTRATHECAL|EPIDURAL|INTRAOSSEOUS|INFUSION"
)


def substances_of(text: str) -> list[str]:
    """The directory's SUBSTANCENAME field ('OXYCODONE HYDROCHLORIDE; ACETAMINOPHEN') as a
    list of upper-case names."""
    return [s.strip().upper() for s in re.split(r"[;|]", text or "") if s.strip()]


def _listed(substance: str, names: frozenset[str]) -> bool:
    """Whether ``substance`` is one of ``names`` or a salt or form of it: 'METHOTREXATE
    SODIUM' is methotrexate, 'INSULIN GLARGINE' is an insulin; 'ESTRADIOLX' is not."""
    if substance in names:
        return True
    words = substance.replace(",", " ").split()
    # Try every leading run of words: 'VALPROIC ACID', 'POTASSIUM CHLORIDE', 'INSULIN'.
    return any(" ".join(words[:n]) in names for n in range(1, len(words)))


def seed_flags(product: str | Mapping[str, Any]) -> dict[str, bool]:
    """``{"hazardous": …, "high_alert": …}`` for a new product, from its substances.

    Takes the SUBSTANCENAME text, or the importer's mapping of product fields (then
    ``substances``, and where present ``route``, ``dosage_form`` and
    ``marketing_category``, are read: parenteral-only entries need a parenteral route, and
    homeopathic dilutions are never flagged)."""
    if isinstance(product, str):
        substances, route, marketing = product, "", ""
    else:
        substances = str(product.get("substances") or "")
        route = f"{product.get('route') or ''} {product.get('dosage_form') or ''}".upper()
        marketing = str(product.get("marketing_category") or "").upper()
    if "HOMEOPATHIC" in marketing:
        return {"hazardous": False, "high_alert": False}
    names = substances_of(substances)
    parenteral = bool(_PARENTERAL.search(route))
    hazardous = any(_listed(n, HAZARDOUS_INGREDIENTS) for n in names)
    high_alert = any(_listed(n, HIGH_ALERT_INGREDIENTS) for n in names) or (
        parenteral and any(_listed(n, HIGH_ALERT_PARENTERAL_INGREDIENTS) for n in names)
    )
    return {"hazardous": hazardous, "high_alert": high_alert}


OTC_PRODUCT_TYPE = "HUMAN OTC DRUG"


def seed_cmea(
    product_type: str, ingredients: Iterable[Sequence[str]]
) -> tuple[bool, Decimal | None]:
    """``(cmea, cmea_base_mg)`` for a new product: an OTC product with pseudoephedrine,
    ephedrine or phenylpropanolamine among its (name, strength, unit) ingredients is a
    behind-the-counter CMEA product (21 CFR 1314), with its base mg per unit (per mL of a
    liquid). A prescription product is not (it is dispensed as an Rx). A listed chemical
    whose salt or strength cannot be converted is still flagged, without a base: it cannot
    be sold until the pharmacist-in-charge enters one."""
    if product_type.strip().upper() != OTC_PRODUCT_TYPE:
        return False, None
    rows = [(str(i[0]), str(i[1]), str(i[2])) for i in ingredients]
    if not any(cmea.is_listed(name) for name, _, _ in rows):
        return False, None
    try:
        return True, cmea.product_base_mg(rows)
    except cmea.CmeaError:
        return True, None


# For USP <800> handling (rxdesk.compounding.hd): the antineoplastics above, and the matcher.
ANTINEOPLASTICS = _ANTINEOPLASTICS
HORMONAL_ANTINEOPLASTICS = _HORMONAL_ANTINEOPLASTICS


def listed(substance: str, names: frozenset[str]) -> bool:
    """Whether ``substance`` is ``names``'s entry or begins with one (see ``_listed``)."""
    return _listed(substance, names)
