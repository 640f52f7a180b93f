"""Drug–allergy screening (NCPDP DUR "DA"). Pure: no Django.

The patient's recorded allergens are compared with the ingredients of the proposed drug
(reference §3.9): the same ingredient; the same allergen class; a cross-sensitive class
(a weaker alert). How strong each finding is follows the reference:

- an allergy (immune) to the same ingredient → major; contraindicated when the recorded
  reaction was anaphylaxis/angioedema or a severe cutaneous reaction (SJS/TEN, DRESS,
  AGEP: "never re-challenge the drug or its close structural relatives", §3.1);
- the same allergen class (another penicillin, another sulfonamide antibiotic, another
  phenanthrene opioid, another aromatic anticonvulsant, any NSAID after an aspirin or
  NSAID-class allergy, any member of a class recorded as the allergen) → major
  (contraindicated after a severe cutaneous reaction);
- weaker relatives (§3.2 R1 side chains, §3.4 single-NSAID reactions, §3.6 lamotrigine,
  rufinamide, zonisamide) → moderate, escalated one step after a severe reaction;
- cross-sensitive classes: penicillin ↔ cephalosporin with a shared or similar R1 side
  chain → moderate (major after a severe reaction); with a dissimilar side chain → minor
  (moderate after a severe reaction); penicillins/cephalosporins ↔ carbapenems (<1%) and
  sulfonamide antibiotics → non-antibiotic sulfonamides (a predisposition, not a
  cross-reaction, §3.3) → minor, and only after a severe reaction; a different opioid
  chemical class (§3.5), celecoxib or acetaminophen after an NSAID allergy (§3.4) → none.
- an intolerance (nausea, sedation… — or an "allergy" whose recorded reaction is only
  such a side effect) never interrupts: moderate for the same ingredient, minor for the
  same class, nothing for cross-sensitivity (§3.1: mislabelled intolerances are the main
  cause of allergy-alert fatigue).
- refuted, inactive, resolved or entered-in-error records (any ``kind`` other than
  "allergy"/"intolerance") give no alert (§3.9).

Allergen words are mapped to ingredients and classes by :func:`allergen_terms`: a class
key or its plural ("penicillins", "statins", "ace inhibitors"), the common words of intake
("PCN", "sulfa", "NSAIDs", "narcotics", "codeine", "aspirin") and a few brand names. Words
for non-drug allergens that must NOT be mapped to drugs ("iodine", "shellfish", "sulfite",
"sulfate", "egg", "latex", §3.3/§3.7/§3.8) map to nothing; an unknown word is taken as an
ingredient name, so it matches only that ingredient and otherwise gives nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rxdesk.screening.classes import CLASS_MEMBERS, classes_of, members, normalise
from rxdesk.screening.names import ingredient_name
from rxdesk.screening.types import RANK, Alert, AllergyFact, Context, Drug, Severity

SOURCE = "rxdesk allergy cross-sensitivity table (reference §3)"

# --- allergen words -----------------------------------------------------------------------

# Words that name no drug allergen screening can act on, or that must not be mapped to one:
# "sulfa" is not sulfate, sulfite or sulfur (§3.3); "iodine" and shellfish do not predict
# contrast reactions and must not alert on amiodarone or levothyroxine (§3.7); vaccine
# excipients (§3.8) need inactive-ingredient data the Drug does not carry.
NON_DRUG_WORDS = frozenset(
    {
        "iodine",
        "iodides",
        "shellfish",
        "seafood",
        "fish",
        "contrast",
        "iodinated contrast",
        "sulfite",
        "sulfites",
        "sulfate",
        "sulfates",
        "sulfur",
        "egg",
        "eggs",
        "latex",
        "peanut",
        "peanuts",
        "gelatin",
        "nkda",
        "nka",
        "none",
        "no known allergies",
        "no known drug allergies",
    }
)

# word → (ingredients, class keys)
SYNONYMS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "pcn": ((), ("penicillin",)),
    "pen": ((), ("penicillin",)),
    "penicillins": ((), ("penicillin",)),
    "amoxil": (("amoxicillin",), ()),
    "augmentin": (("amoxicillin", "clavulanic acid"), ()),
    "keflex": (("cephalexin",), ()),
    "ceph": ((), ("cephalosporin",)),
    "cephs": ((), ("cephalosporin",)),
    "beta lactam": ((), ("beta_lactam",)),
    "beta-lactam": ((), ("beta_lactam",)),
    "beta-lactams": ((), ("beta_lactam",)),
    # "Sulfa" at intake means the sulfonamide antibiotics (§3.3 asks intake to choose).
    "sulfa": ((), ("sulfonamide_antibiotic",)),
    "sulpha": ((), ("sulfonamide_antibiotic",)),
    "sulfa drugs": ((), ("sulfonamide_antibiotic",)),
    "sulfas": ((), ("sulfonamide_antibiotic",)),
    "sulfonamide": ((), ("sulfonamide_antibiotic",)),
    "sulfonamides": ((), ("sulfonamide_antibiotic",)),
    "sulfonamide antibiotics": ((), ("sulfonamide_antibiotic",)),
    "sulfonamide (non-antibiotic)": ((), ("sulfonamide_nonantibiotic",)),
    "non-antibiotic sulfonamides": ((), ("sulfonamide_nonantibiotic",)),
    "bactrim": (("sulfamethoxazole", "trimethoprim"), ()),
    "septra": (("sulfamethoxazole", "trimethoprim"), ()),
    "smx-tmp": (("sulfamethoxazole", "trimethoprim"), ()),
    "tmp-smx": (("sulfamethoxazole", "trimethoprim"), ()),
    "co-trimoxazole": (("sulfamethoxazole", "trimethoprim"), ()),
    # An NSAID-class allergy is the COX-1 cross-reactive kind (§3.4 screening rule).
    "nsaid": ((), ("cox1_cross_reactive",)),
    "nsaids": ((), ("cox1_cross_reactive",)),
    "non-steroidal anti-inflammatory drugs": ((), ("cox1_cross_reactive",)),
    "nonsteroidal anti-inflammatory drugs": ((), ("cox1_cross_reactive",)),
    "anti-inflammatories": ((), ("cox1_cross_reactive",)),
    "aspirin": (("aspirin",), ("cox1_cross_reactive",)),
    "asa": (("aspirin",), ("cox1_cross_reactive",)),
    "acetylsalicylic acid": (("aspirin",), ("cox1_cross_reactive",)),
    "salicylates": ((), ("salicylate",)),
    "motrin": (("ibuprofen",), ()),
    "advil": (("ibuprofen",), ()),
    "aleve": (("naproxen",), ()),
    "naprosyn": (("naproxen",), ()),
    "toradol": (("ketorolac",), ()),
    "celebrex": (("celecoxib",), ()),
    "tylenol": (("acetaminophen",), ()),
    "apap": (("acetaminophen",), ()),
    "paracetamol": (("acetaminophen",), ()),
    "opiate": ((), ("opioid",)),
    "opiates": ((), ("opioid",)),
    "opioids": ((), ("opioid",)),
    "narcotic": ((), ("opioid",)),
    "narcotics": ((), ("opioid",)),
    "phenanthrenes": ((), ("opioid_phenanthrene",)),
    "demerol": (("meperidine",), ()),
    "pethidine": (("meperidine",), ()),
    "tegretol": (("carbamazepine",), ()),
    "dilantin": (("phenytoin",), ()),
    "trileptal": (("oxcarbazepine",), ()),
    "lamictal": (("lamotrigine",), ()),
    "aromatic anticonvulsants": ((), ("aromatic_anticonvulsant",)),
    "benzos": ((), ("benzodiazepine",)),
    "acei": ((), ("ace_inhibitor",)),
    "ace inhibitors": ((), ("ace_inhibitor",)),
    "arbs": ((), ("arb",)),
    "quinolones": ((), ("fluoroquinolone",)),
    "ssris": ((), ("ssri",)),
    "snris": ((), ("snri",)),
    "maois": ((), ("maoi",)),
    "ppis": ((), ("ppi",)),
}


_CLASS_LABELS = {
    "cox1_cross_reactive": "NSAIDs and aspirin (COX-1 inhibitors)",
    "sulfonamide_antibiotic": "sulfonamide (sulfa) antibiotics",
    "sulfonamide_nonantibiotic": "non-antibiotic sulfonamides",
    "beta_lactam": "beta-lactam antibiotics",
    "opioid": "opioids",
}


def class_label(key: str) -> str:
    """A class key as a technician reads it, plural: "penicillins", "ace inhibitors"."""
    return _CLASS_LABELS.get(key) or key.replace("_", " ") + "s"


@dataclass(frozen=True)
class Allergen:
    """A recorded allergen word resolved to ingredient names and class keys."""

    word: str
    ingredients: frozenset[str]
    classes: frozenset[str]

    @property
    def empty(self) -> bool:
        return not self.ingredients and not self.classes


def _class_key(word: str) -> str | None:
    for candidate in (word, word[:-1] if word.endswith("s") else word):
        key = candidate.replace(" ", "_").replace("-", "_")
        if key in CLASS_MEMBERS:
            return key
    return None


def allergen_terms(word: str) -> Allergen:
    """What a recorded allergen word means to screening (see the module docstring)."""
    text = normalise(word)
    for prefix in ("allergic to ", "allergy to "):
        text = text.removeprefix(prefix)
    text = text.removesuffix(" allergy").strip()
    if not text or text in NON_DRUG_WORDS:
        return Allergen(text, frozenset(), frozenset())
    if text in SYNONYMS:
        names, keys = SYNONYMS[text]
        return Allergen(text, frozenset(names), frozenset(keys))
    key = _class_key(text)
    if key is not None:
        return Allergen(text, frozenset(), frozenset({key}))
    # Salt words are not the allergen ("morphine sulfate" → morphine; §3.3 sulfa ≠ sulfate).
    return Allergen(text, frozenset({ingredient_name(text)}), frozenset())


# --- reactions --------------------------------------------------------------------------------

_SCAR = re.compile(
    r"\b(sjs|dress|agep|scar|stevens|johnson|toxic epidermal|epidermal necrolysis|"
    r"eosinophilia|exfoliat\w*|pustulosis)\b"
)
_TEN = re.compile(r"\bTEN\b")  # upper case only: "ten years ago" is no necrolysis
_ANAPHYLAXIS = re.compile(r"\b(anaphyla\w*|angioedema|bronchospasm|throat swelling)\b")
_SIDE_EFFECT = re.compile(
    r"\b(nausea|vomit\w*|gi upset|upset stomach|stomach upset|constipat\w*|diarrh\w*|"
    r"drows\w*|sedat\w*|dizz\w*|headache|cough|insomnia|jitter\w*)\b"
)
_IMMUNE = re.compile(r"\b(hives|urticaria|rash|swelling|wheez\w*|itch\w*|pruritus)\b")


@dataclass(frozen=True)
class _Record:
    fact: AllergyFact
    allergen: Allergen
    allergy: bool  # immune allergy (False: intolerance)
    scar: bool
    severe: bool  # anaphylaxis or SCAR


def _record(fact: AllergyFact) -> _Record | None:
    kind = normalise(fact.kind)
    if kind not in ("allergy", "intolerance"):
        return None  # refuted / inactive / resolved / entered-in-error: §3.9 no alert
    allergen = allergen_terms(fact.allergen)
    if allergen.empty:
        return None
    reaction = normalise(fact.reaction)
    scar = bool(_SCAR.search(reaction) or _TEN.search(fact.reaction))
    severe = scar or bool(_ANAPHYLAXIS.search(reaction))
    # An "allergy" whose only recorded reaction is a side effect is an intolerance (§3.1).
    side_effect_only = bool(_SIDE_EFFECT.search(reaction)) and not (
        severe or _IMMUNE.search(reaction)
    )
    allergy = kind == "allergy" and not side_effect_only
    return _Record(fact, allergen, allergy, scar and allergy, severe and allergy)


# --- relations between an allergen and an ingredient -------------------------------------------

# R1 side-chain groups (§3.2): members cross-react more with each other than across groups.
R1_GROUPS: dict[str, frozenset[str]] = {
    # Aminopenicillins and aminocephalosporins: "one broad amino group".
    "amino": frozenset(
        {
            "amoxicillin",
            "ampicillin",
            "cefadroxil",
            "cefprozil",
            "cefatrizine",
            "cephalexin",
            "cefaclor",
            "cephradine",
            "loracarbef",
        }
    ),
    "benzyl": frozenset(
        {
            "penicillin g",
            "penicillin g benzathine",
            "penicillin g procaine",
            "cefoxitin",
            "cephalothin",
        }
    ),
    # Methoxyimino-aminothiazolyl; ceftaroline's place is (unverified), cefuroxime "similar".
    "methoxyimino": frozenset(
        {"ceftriaxone", "cefotaxime", "cefpodoxime", "cefepime", "ceftaroline", "cefuroxime"}
    ),
    "ceftazidime": frozenset({"ceftazidime", "aztreonam", "cefiderocol"}),
}
# Penicillin R1 groups shared with cephalosporins (for a "penicillins" class allergen).
_PENICILLIN_LIKE_R1 = R1_GROUPS["amino"] | R1_GROUPS["benzyl"]
# §3.6: lamotrigine (lower cross-reactivity), rufinamide and zonisamide ("sometimes listed").
_AROMATIC_WEAK = frozenset({"lamotrigine", "rufinamide", "zonisamide"})
_BETA = frozenset({"penicillin", "cephalosporin", "carbapenem", "monobactam"})
_OPIOID_CHEMICAL = ("opioid_phenanthrene", "opioid_phenylpiperidine", "opioid_diphenylheptane")

# Relation strengths.
DIRECT, SAME_CLASS, NEAR, CROSS_SHARED, CROSS_DISSIMILAR, CROSS_REMOTE = (
    "ingredient",
    "class",
    "related",
    "cross-shared-side-chain",
    "cross",
    "cross-remote",
)


@dataclass(frozen=True)
class _Relation:
    strength: str
    rule: str  # stable id part of the alert key
    why: str  # what a technician reads: "amoxicillin is a penicillin"


def _r1(name: str) -> str | None:
    for group, names in R1_GROUPS.items():
        if name in names:
            return group
    return None


def _relation(allergen: Allergen, name: str) -> _Relation | None:
    """How ingredient ``name`` relates to the allergen; None when it does not."""
    if name in allergen.ingredients:
        return _Relation(DIRECT, "ingredient", f"{name} is the recorded allergen")
    for key in sorted(allergen.classes):
        if name in members(key):
            return _Relation(SAME_CLASS, key, f"{name} is one of the {class_label(key)}")
    cls = classes_of(name)
    relations = [r for a in sorted(allergen.ingredients) if (r := _pair(a, name, cls))]
    relations += [r for key in sorted(allergen.classes) if (r := _class_pair(key, name, cls))]
    if not relations:
        return None
    order = (SAME_CLASS, NEAR, CROSS_SHARED, CROSS_DISSIMILAR, CROSS_REMOTE)
    return min(relations, key=lambda r: order.index(r.strength))


def _pair(allergen: str, name: str, cls: frozenset[str]) -> _Relation | None:
    """A specific allergen ingredient vs another ingredient."""
    acls = classes_of(allergen)
    beta = _beta_lactam_pair(allergen, name, acls, cls)
    if beta is not None:
        return beta if beta.strength else None
    # Sulfonamides (§3.3).
    if "sulfonamide_antibiotic" in acls and "sulfonamide_antibiotic" in cls:
        return _Relation(
            SAME_CLASS,
            "sulfonamide_antibiotic",
            f"{name} and {allergen} are both sulfonamide antibiotics",
        )
    if "sulfonamide_antibiotic" in acls and "sulfonamide_nonantibiotic" in cls:
        return _Relation(
            CROSS_REMOTE,
            "sulfonamide-nonantibiotic",
            f"{name} is a non-antibiotic sulfonamide (cross-reactivity with {allergen} is low)",
        )
    # NSAIDs (§3.4): an aspirin reaction is the COX-1 cross-reactive kind; a reaction to one
    # other NSAID may be selective, so other NSAIDs are a weaker alert.
    if "cox1_cross_reactive" in acls and "cox1_cross_reactive" in cls:
        if allergen == "aspirin":
            return _Relation(
                SAME_CLASS,
                "cox1_cross_reactive",
                f"{name} inhibits COX-1 like {allergen} (cross-reactive)",
            )
        return _Relation(NEAR, "nsaid", f"{name} and {allergen} are both NSAIDs (COX-1 inhibitors)")
    # Opioids (§3.5): the same chemical class only.
    for key in _OPIOID_CHEMICAL:
        if key in acls and key in cls:
            return _Relation(SAME_CLASS, key, f"{name} and {allergen} are both {class_label(key)}")
    # Aromatic anticonvulsants (§3.6).
    if "aromatic_anticonvulsant" in acls and "aromatic_anticonvulsant" in cls:
        strength = NEAR if {allergen, name} & _AROMATIC_WEAK else SAME_CLASS
        return _Relation(
            strength,
            "aromatic_anticonvulsant",
            f"{name} and {allergen} are both aromatic anticonvulsants",
        )
    return None


def _beta_lactam_pair(
    allergen: str, name: str, acls: frozenset[str], cls: frozenset[str]
) -> _Relation | None:
    """Beta-lactam allergen vs beta-lactam (§3.2). None: not both beta-lactams; a relation
    with an empty strength: both are, and they do not cross-react (aztreonam)."""
    a_bl, n_bl = acls & _BETA, cls & _BETA
    if not a_bl or not n_bl:
        return None
    r1 = _r1(name) if _r1(allergen) == _r1(name) else None
    if a_bl == n_bl:
        kind = next(iter(a_bl))
        if kind == "cephalosporin" and r1 is None:
            return _Relation(NEAR, kind, f"{name} and {allergen} are both cephalosporins")
        if kind == "cephalosporin":
            return _Relation(
                SAME_CLASS,
                f"{kind}-r1",
                f"{name} and {allergen} are cephalosporins with the same side chain",
            )
        return _Relation(SAME_CLASS, kind, f"{name} and {allergen} are both {kind}s")
    if r1 is not None:
        return _Relation(
            CROSS_SHARED,
            f"r1-{r1}",
            f"{name} shares a side chain with {allergen} (cross-sensitivity)",
        )
    if "monobactam" in a_bl | n_bl:
        # Aztreonam: negligible cross-reactivity except the ceftazidime side chain.
        return _Relation("", "monobactam", "")
    if "carbapenem" in a_bl | n_bl:
        return _Relation(
            CROSS_REMOTE,
            "carbapenem",
            f"{name} is a beta-lactam related to {allergen} (cross-sensitivity <1%)",
        )
    return _Relation(
        CROSS_DISSIMILAR,
        "penicillin-cephalosporin",
        f"{name} is a beta-lactam related to {allergen} (low cross-sensitivity, dissimilar "
        "side chain)",
    )


def _class_pair(key: str, name: str, cls: frozenset[str]) -> _Relation | None:
    """A class allergen ("penicillins", "cephalosporins", "sulfa") vs a non-member."""
    if key in ("penicillin", "cephalosporin") and ({"penicillin", "cephalosporin"} - {key}) & cls:
        other = "cephalosporin" if key == "penicillin" else "penicillin"
        # Shared side chain: the ingredient's R1 group has members of the allergen class.
        group = R1_GROUPS.get(_r1(name) or "", frozenset())
        if group & members(key):
            return _Relation(
                CROSS_SHARED,
                f"{key}-{other}-r1",
                f"{name} shares a side chain with some {key}s (cross-sensitivity)",
            )
        return _Relation(
            CROSS_DISSIMILAR,
            f"{key}-{other}",
            f"{name} is a {other} (low cross-sensitivity with {key}s, dissimilar side chain)",
        )
    remote = {"penicillin", "cephalosporin", "carbapenem"}
    if key in remote and cls & remote and key not in cls:
        return _Relation(
            CROSS_REMOTE,
            f"{key}-carbapenem",
            f"{name} is a beta-lactam related to the {key}s (cross-sensitivity <1%)",
        )
    if key == "sulfonamide_antibiotic" and "sulfonamide_nonantibiotic" in cls:
        return _Relation(
            CROSS_REMOTE,
            "sulfonamide-nonantibiotic",
            f"{name} is a non-antibiotic sulfonamide (cross-reactivity with sulfa antibiotics "
            "is low)",
        )
    return None


# --- severities ---------------------------------------------------------------------------

_ALLERGY: dict[str, tuple[Severity | None, Severity | None]] = {
    # strength: (ordinary reaction, severe reaction)
    DIRECT: (Severity.MAJOR, Severity.CONTRAINDICATED),
    SAME_CLASS: (Severity.MAJOR, Severity.MAJOR),  # SCAR → contraindicated, below
    NEAR: (Severity.MODERATE, Severity.MAJOR),
    CROSS_SHARED: (Severity.MODERATE, Severity.MAJOR),
    CROSS_DISSIMILAR: (Severity.MINOR, Severity.MODERATE),
    CROSS_REMOTE: (None, Severity.MINOR),
}
_INTOLERANCE: dict[str, Severity | None] = {
    DIRECT: Severity.MODERATE,
    SAME_CLASS: Severity.MINOR,
    NEAR: Severity.MINOR,
}


def _severity(record: _Record, relation: _Relation) -> Severity | None:
    if not record.allergy:
        return _INTOLERANCE.get(relation.strength)
    ordinary, severe = _ALLERGY[relation.strength]
    if relation.strength == SAME_CLASS and record.scar:
        return Severity.CONTRAINDICATED  # §3.1: never re-challenge close relatives
    return severe if record.severe else ordinary


def _consequence(record: _Record, severity: Severity) -> str:
    if not record.allergy:
        return "The same side effect may happen again; it is not an allergic reaction."
    if record.scar:
        return "Risk of a severe skin or organ reaction (SJS/TEN, DRESS) like the one on file."
    if severity in (Severity.CONTRAINDICATED, Severity.MAJOR):
        return "Allergic reaction, possibly severe (hives, swelling, anaphylaxis)."
    return "Small risk of an allergic reaction through cross-sensitivity."


def _action(record: _Record, severity: Severity) -> str:
    if severity == Severity.CONTRAINDICATED:
        return (
            "Do not dispense. Pharmacist: contact the prescriber for an alternative from a "
            "different class."
        )
    if severity == Severity.MAJOR:
        return (
            "Pharmacist review before filling: confirm the allergy history (what happened, "
            "when) and contact the prescriber for an alternative if it is a true allergy."
        )
    if not record.allergy:
        return "Tell the pharmacist; counsel the patient on the side effect."
    return "Pharmacist: review the allergy history; usually safe to fill with monitoring."


def _alert(drug: Drug, record: _Record, relation: _Relation, severity: Severity) -> Alert:
    fact = record.fact
    reported = "allergy" if normalise(fact.kind) == "allergy" else "intolerance"
    reaction = f" ({fact.reaction.strip()})" if fact.reaction.strip() else ""
    if reported == "allergy" and not record.allergy:
        reported = "allergy (reaction looks like a side effect, not an allergy)"
    message = f"{reported.capitalize()} on file: {fact.allergen.strip()}{reaction}. " + (
        f"{drug.label}: {relation.why}."
    )
    key_drugs = "|".join(sorted(drug.names))
    return Alert(
        type="DA",
        severity=severity,
        drugs=(drug.label,),
        message=message,
        consequence=_consequence(record, severity),
        action=_action(record, severity),
        source=SOURCE,
        key=f"da:{relation.rule}:{record.allergen.word}|{key_drugs}",
    )


def check(ctx: Context) -> list[Alert]:
    """DA alerts for the proposed drug against the patient's recorded allergies: at most
    one per allergy record, the strongest over the drug's ingredients."""
    drug = ctx.proposed
    alerts: list[Alert] = []
    for fact in ctx.patient.allergies:
        record = _record(fact)
        if record is None:
            continue
        best: tuple[Severity, _Relation] | None = None
        for name in sorted(drug.names):
            relation = _relation(record.allergen, name)
            if relation is None:
                continue
            severity = _severity(record, relation)
            if severity is None:
                continue
            if best is None or RANK[severity] > RANK[best[0]]:
                best = (severity, relation)
        if best is not None:
            alerts.append(_alert(drug, record, best[1], best[0]))
    return alerts
