"""Drug classes screening reasons with: class key → member generic (base) names. Pure.

Keys are lower-case words joined by "_" ("nsaid", "ace_inhibitor", "opioid_phenanthrene").
Members are lower-case generic BASE names, as rxdesk.screening.names produces them
("fluoxetine", not "fluoxetine hydrochloride"). A name may sit in several classes
(``classes_of("diflunisal")`` is {"nsaid", "nsaid_nonselective", "salicylate",
"cox1_cross_reactive"}).

Sources (reference: /work/shared/reference/clinical-screening.md):
- allergen classes and cross-sensitivity groups: §3.2 beta-lactams, §3.3 sulfonamides,
  §3.4 NSAIDs, §3.5 opioid chemical classes, §3.6 aromatic anticonvulsants;
- duplicate-therapy classes: §4.2; MAOI/SSRI/PPI memberships: §1.1; Beers lists: §6.1.
Where the reference marks a membership "(unverified)" the member is kept and commented.

Meaning of the keys other modules rely on (keep them stable):
- "nsaid": every NSAID including the COX-2 inhibitor celecoxib, EXCLUDING aspirin and the
  other salicylates (see "salicylate"): low-dose aspirin is an antiplatelet, and counting it
  as an NSAID would make every aspirin 81 mg a duplicate.
- "cox1_cross_reactive": aspirin, every salicylate and every non-selective NSAID — what an
  NSAID-class (COX-1, AERD-type) allergy reacts to (§3.4); celecoxib is not in it.
- "opioid": every opioid agonist or agonist-antagonist (buprenorphine included), no
  antagonists (naloxone, naltrexone) and no antidiarrhoeals (loperamide, diphenoxylate).
- "cns_depressant": the union used for additive-toxicity counting (opioids,
  benzodiazepines, Z-drugs, gabapentinoids, barbiturates, skeletal muscle relaxants).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from rxdesk.screening.types import Drug


def _m(*names: str) -> frozenset[str]:
    return frozenset(names)


_BASE: dict[str, frozenset[str]] = {
    # --- beta-lactams (§3.2) ---
    "penicillin": _m(
        "penicillin g",
        "penicillin g benzathine",
        "penicillin g procaine",
        "penicillin v",
        "amoxicillin",
        "ampicillin",
        "dicloxacillin",
        "cloxacillin",
        "nafcillin",
        "oxacillin",
        "piperacillin",
        "ticarcillin",
        "carbenicillin",
    ),
    "cephalosporin": _m(
        "cefadroxil",
        "cefazolin",
        "cephalexin",
        "cephradine",
        "cephalothin",
        "cefatrizine",
        "cefaclor",
        "cefprozil",
        "cefuroxime",
        "cefoxitin",
        "cefotetan",
        # loracarbef is a carbacephem, grouped with the cephalosporins by every allergy
        # table (§3.2 lists it in the ampicillin side-chain group).
        "loracarbef",
        "ceftriaxone",
        "cefotaxime",
        "cefpodoxime",
        "ceftazidime",
        "cefdinir",
        "cefixime",
        "cefditoren",
        "ceftibuten",
        "cefoperazone",
        "cefepime",
        "ceftaroline",
        "ceftobiprole",
        "ceftolozane",
        "cefiderocol",
    ),
    "carbapenem": _m("imipenem", "meropenem", "ertapenem", "doripenem"),
    "monobactam": _m("aztreonam"),
    # --- sulfonamides (§3.3) ---
    "sulfonamide_antibiotic": _m(
        "sulfamethoxazole",
        "sulfadiazine",
        "sulfisoxazole",
        "sulfacetamide",
        # §3.3: "dapsone-like sulfones" share the N4 arylamine.
        "dapsone",
    ),
    "sulfonamide_nonantibiotic": _m(
        "hydrochlorothiazide",
        "chlorthalidone",
        "indapamide",
        "metolazone",
        "furosemide",
        "bumetanide",
        "torsemide",
        "acetazolamide",
        "methazolamide",
        "glipizide",
        "glyburide",
        "glimepiride",
        "chlorpropamide",
        "tolbutamide",
        "tolazamide",
        "celecoxib",
        "sumatriptan",
        "zonisamide",
        "topiramate",
        "probenecid",
        "dorzolamide",
        "tamsulosin",
    ),
    # --- NSAIDs and salicylates (§3.4, §4.2) ---
    "nsaid_nonselective": _m(
        "ibuprofen",
        "naproxen",
        "diclofenac",
        "ketorolac",
        "indomethacin",
        "meloxicam",
        "piroxicam",
        "etodolac",
        "nabumetone",
        "ketoprofen",
        "flurbiprofen",
        "oxaprozin",
        "sulindac",
        "diflunisal",
        "fenoprofen",
        "mefenamic acid",
        "meclofenamate",
        "tolmetin",
    ),
    "cox2_inhibitor": _m("celecoxib"),
    "salicylate": _m(
        "aspirin",
        "salsalate",
        "diflunisal",
        "choline magnesium trisalicylate",
        "magnesium salicylate",
        "choline salicylate",
        "bismuth subsalicylate",
    ),
    # --- opioids by chemical class (§3.5) ---
    "opioid_phenanthrene": _m(
        "morphine",
        "codeine",
        "hydrocodone",
        "hydromorphone",
        "oxycodone",
        "oxymorphone",
        "levorphanol",
        "dihydrocodeine",
        "buprenorphine",
        "nalbuphine",
        "butorphanol",
    ),
    "opioid_phenylpiperidine": _m(
        "fentanyl", "sufentanil", "alfentanil", "remifentanil", "meperidine"
    ),
    "opioid_diphenylheptane": _m("methadone", "propoxyphene"),
    "opioid_atypical": _m("tramadol", "tapentadol"),
    # --- sedatives (§4.2, §6.1, §7.5) ---
    "benzodiazepine": _m(
        "alprazolam",
        "chlordiazepoxide",
        "clobazam",
        "clonazepam",
        "clorazepate",
        "diazepam",
        "estazolam",
        "flurazepam",
        "lorazepam",
        "midazolam",
        "oxazepam",
        "quazepam",
        "temazepam",
        "triazolam",
    ),
    "z_drug": _m("zolpidem", "eszopiclone", "zaleplon"),
    "gabapentinoid": _m("gabapentin", "gabapentin enacarbil", "pregabalin"),
    "barbiturate": _m("phenobarbital", "butalbital", "pentobarbital", "secobarbital"),
    # §6.1 (Beers) list; tizanidine and baclofen are antispasticity agents, not in it.
    "skeletal_muscle_relaxant": _m(
        "carisoprodol",
        "cyclobenzaprine",
        "methocarbamol",
        "metaxalone",
        "chlorzoxazone",
        "orphenadrine",
    ),
    # --- anticonvulsants (§3.6) ---
    "aromatic_anticonvulsant": _m(
        "carbamazepine",
        "oxcarbazepine",
        "eslicarbazepine",
        "phenytoin",
        "fosphenytoin",
        "phenobarbital",
        "primidone",
        # §3.6: lamotrigine "often grouped here" (lower cross-reactivity); rufinamide and
        # zonisamide "sometimes listed". checks.allergy treats these three as weaker.
        "lamotrigine",
        "rufinamide",
        "zonisamide",
    ),
    # --- antidepressants (§1.1, §4.2) ---
    "ssri": _m(
        "fluoxetine",
        "paroxetine",
        "sertraline",
        "citalopram",
        "escitalopram",
        "fluvoxamine",
        "vilazodone",
    ),
    "snri": _m("venlafaxine", "desvenlafaxine", "duloxetine", "milnacipran", "levomilnacipran"),
    "maoi": _m(
        "tranylcypromine",
        "phenelzine",
        "isocarboxazid",
        "procarbazine",
        "selegiline",
        # §1.1: most vendor knowledge bases include these; their membership in the 2012
        # ONC list is (unverified).
        "linezolid",
        "methylene blue",
    ),
    "tca": _m(
        "amitriptyline",
        "nortriptyline",
        "imipramine",
        "desipramine",
        "clomipramine",
        "doxepin",
        "protriptyline",
        "trimipramine",
        "amoxapine",
    ),
    "antipsychotic": _m(
        "haloperidol",
        "chlorpromazine",
        "fluphenazine",
        "perphenazine",
        "thioridazine",
        "thiothixene",
        "trifluoperazine",
        "loxapine",
        "molindone",
        "pimozide",
        "aripiprazole",
        "brexpiprazole",
        "cariprazine",
        "clozapine",
        "iloperidone",
        "lurasidone",
        "olanzapine",
        "paliperidone",
        "quetiapine",
        "risperidone",
        "ziprasidone",
        "asenapine",
        "lumateperone",
        "pimavanserin",
    ),
    # --- cardiovascular (§4.2) ---
    "statin": _m(
        "atorvastatin",
        "simvastatin",
        "rosuvastatin",
        "pravastatin",
        "lovastatin",
        "fluvastatin",
        "pitavastatin",
    ),
    "ace_inhibitor": _m(
        "benazepril",
        "captopril",
        "enalapril",
        "enalaprilat",
        "fosinopril",
        "lisinopril",
        "moexipril",
        "perindopril",
        "quinapril",
        "ramipril",
        "trandolapril",
    ),
    "arb": _m(
        "azilsartan",
        "candesartan",
        "eprosartan",
        "irbesartan",
        "losartan",
        "olmesartan",
        "telmisartan",
        "valsartan",
    ),
    "renin_inhibitor": _m("aliskiren"),
    "beta_blocker": _m(
        "acebutolol",
        "atenolol",
        "betaxolol",
        "bisoprolol",
        "carvedilol",
        "esmolol",
        "labetalol",
        "metoprolol",
        "nadolol",
        "nebivolol",
        "pindolol",
        "propranolol",
        "sotalol",
        "timolol",
    ),
    "ccb_dihydropyridine": _m(
        "amlodipine",
        "levamlodipine",
        "felodipine",
        "isradipine",
        "nicardipine",
        "nifedipine",
        "nimodipine",
        "nisoldipine",
        "clevidipine",
    ),
    "ccb_nondihydropyridine": _m("diltiazem", "verapamil"),
    "anticoagulant": _m(
        "warfarin",
        "apixaban",
        "rivaroxaban",
        "dabigatran",
        "edoxaban",
        "enoxaparin",
        "dalteparin",
        "tinzaparin",
        "heparin",
        "fondaparinux",
        "argatroban",
        "bivalirudin",
    ),
    "p2y12_inhibitor": _m("clopidogrel", "prasugrel", "ticagrelor", "ticlopidine", "cangrelor"),
    # --- GI (§1.1, §4.2) ---
    "ppi": _m(
        "omeprazole",
        "esomeprazole",
        "lansoprazole",
        "dexlansoprazole",
        "pantoprazole",
        "rabeprazole",
    ),
    "h2_blocker": _m("famotidine", "ranitidine", "cimetidine", "nizatidine"),
    # --- endocrine (§4.2) ---
    "sulfonylurea": _m(
        "glipizide",
        "glyburide",
        "glimepiride",
        "chlorpropamide",
        "tolbutamide",
        "tolazamide",
        "gliclazide",
    ),
    "dpp4_inhibitor": _m("sitagliptin", "saxagliptin", "linagliptin", "alogliptin"),
    "glp1_agonist": _m(
        "exenatide",
        "liraglutide",
        "dulaglutide",
        "semaglutide",
        "lixisenatide",
        "tirzepatide",
    ),
    "thyroid_hormone": _m("levothyroxine", "liothyronine", "liotrix", "thyroid"),
    "bisphosphonate": _m(
        "alendronate",
        "risedronate",
        "ibandronate",
        "etidronate",
        "pamidronate",
        "zoledronic acid",
    ),
    # --- other duplicate-therapy classes (§4.2) ---
    "triptan": _m(
        "sumatriptan",
        "rizatriptan",
        "zolmitriptan",
        "naratriptan",
        "almotriptan",
        "frovatriptan",
        "eletriptan",
    ),
    "stimulant": _m(
        "amphetamine",
        "dextroamphetamine",
        "lisdexamfetamine",
        "methamphetamine",
        "methylphenidate",
        "dexmethylphenidate",
    ),
    # §6.1 first-generation (strongly anticholinergic) antihistamines.
    "sedating_antihistamine": _m(
        "diphenhydramine",
        "hydroxyzine",
        "chlorpheniramine",
        "brompheniramine",
        "cyproheptadine",
        "doxylamine",
        "dimenhydrinate",
        "meclizine",
        "promethazine",
        "triprolidine",
    ),
    "bladder_antimuscarinic": _m(
        "oxybutynin",
        "tolterodine",
        "fesoterodine",
        "solifenacin",
        "darifenacin",
        "trospium",
    ),
    # Inhaled classes: several members also come as nasal, oral or ophthalmic products
    # (fluticasone nasal, budesonide oral, glycopyrrolate oral); checks look at the route.
    "inhaled_corticosteroid": _m(
        "fluticasone",
        "budesonide",
        "beclomethasone",
        "mometasone",
        "ciclesonide",
        "flunisolide",
    ),
    "laba": _m(
        "salmeterol",
        "formoterol",
        "arformoterol",
        "vilanterol",
        "olodaterol",
        "indacaterol",
    ),
    "lama": _m("tiotropium", "umeclidinium", "aclidinium", "glycopyrrolate", "revefenacin"),
    # --- anti-infectives others may need ---
    "fluoroquinolone": _m(
        "ciprofloxacin",
        "levofloxacin",
        "moxifloxacin",
        "ofloxacin",
        "gemifloxacin",
        "delafloxacin",
        "norfloxacin",
    ),
    "macrolide": _m("erythromycin", "clarithromycin", "azithromycin"),
    "tetracycline": _m(
        "tetracycline",
        "doxycycline",
        "minocycline",
        "demeclocycline",
        "omadacycline",
        "sarecycline",
        "eravacycline",
    ),
}


def _union(*keys: str, extra: Iterable[str] = ()) -> frozenset[str]:
    out: set[str] = set(extra)
    for key in keys:
        out |= _BASE[key]
    return frozenset(out)


_DERIVED: dict[str, frozenset[str]] = {
    "beta_lactam": _union("penicillin", "cephalosporin", "carbapenem", "monobactam"),
    "nsaid": _union("nsaid_nonselective", "cox2_inhibitor"),
    "cox1_cross_reactive": _union("nsaid_nonselective", "salicylate"),
    # pentazocine (a benzomorphan) is an opioid outside the §3.5 chemical groups.
    "opioid": _union(
        "opioid_phenanthrene",
        "opioid_phenylpiperidine",
        "opioid_diphenylheptane",
        "opioid_atypical",
        extra=("pentazocine",),
    ),
}
_DERIVED["cns_depressant"] = frozenset(
    _DERIVED["opioid"]
    | _BASE["benzodiazepine"]
    | _BASE["z_drug"]
    | _BASE["gabapentinoid"]
    | _BASE["barbiturate"]
    | _BASE["skeletal_muscle_relaxant"]
)

CLASS_MEMBERS: Mapping[str, frozenset[str]] = {**_BASE, **_DERIVED}

_INDEX: dict[str, frozenset[str]] = {}


def _build_index() -> None:
    acc: dict[str, set[str]] = {}
    for key, members in CLASS_MEMBERS.items():
        for name in members:
            acc.setdefault(name, set()).add(key)
    _INDEX.update({name: frozenset(keys) for name, keys in acc.items()})


_build_index()


def normalise(name: str) -> str:
    """Lower-case, trimmed, single-spaced: how names and class keys are compared."""
    return " ".join(name.lower().split())


def classes_of(name: str) -> frozenset[str]:
    """The class keys a generic (base) ingredient name belongs to; empty if none."""
    return _INDEX.get(normalise(name), frozenset())


def members(key: str) -> frozenset[str]:
    """The member names of a class key; empty for an unknown key."""
    return CLASS_MEMBERS.get(normalise(key).replace(" ", "_"), frozenset())


def ingredients_in(names: Iterable[str], key: str) -> frozenset[str]:
    """Those of ``names`` (normalised) that belong to class ``key``."""
    group = members(key)
    return frozenset(n for n in (normalise(x) for x in names) if n in group)


def drug_members(drug: Drug, key: str) -> frozenset[str]:
    """The drug's ingredient names that belong to class ``key``. A one-ingredient drug
    whose resolved ``classes`` carry the key counts even when this table does not list the
    ingredient (a catalog class for a drug the table has not learnt yet)."""
    found = ingredients_in(drug.names, key)
    if not found and key in drug.classes and len(drug.ingredients) == 1:
        return drug.names
    return found
