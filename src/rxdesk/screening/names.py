"""Ingredient names as screening compares them: the lower-case generic BASE name.

FDA's NDC Directory names the active substance with its salt, ester or hydrate
("FLUOXETINE HYDROCHLORIDE", "ATORVASTATIN CALCIUM TRIHYDRATE", "METOPROLOL SUCCINATE");
screening rules speak of the moiety ("fluoxetine", "atorvastatin", "metoprolol"). Pure: no
Django.

How a name is reduced (:func:`ingredient_name`):

1. lower case, typographic quotes made plain, FDA's dotted Greek (".ALPHA.-") undone,
   spaces collapsed;
2. comma qualifiers that only say the form ("…, DIBASIC, ANHYDROUS", "…, UNSPECIFIED FORM",
   "THYROID, PORCINE") are dropped; a qualifier that names the chemical ("DIBASIC") stays;
3. trailing hydrate/solvate words are dropped, then trailing salt and ester words — but
   only while what is left still names something other than ions, so that a name in which
   the "salt" IS the drug stays whole: "potassium chloride", "calcium acetate",
   "magnesium sulfate heptahydrate" -> "magnesium sulfate", "lithium carbonate",
   "sodium bicarbonate", "magnesium oxide", "calcium carbonate", "zinc sulfate";
4. a few synonyms are mapped to the US generic (USAN) name a US catalog uses
   (INN "glibenclamide" -> "glyburide", "paracetamol" -> "acetaminophen", …; FDA's
   "alpha-tocopherol" -> "vitamin e", the name the ONC interaction lists use).

The result is never empty: a name that would reduce to nothing is kept whole (cleaned)."""

from __future__ import annotations

import re

# Words that name the hydrate or solvate form: dropped whenever something remains.
HYDRATE_WORDS = frozenset(
    {
        "anhydrous",
        "hydrate",
        "monohydrate",
        "dihydrate",
        "trihydrate",
        "tetrahydrate",
        "pentahydrate",
        "hexahydrate",
        "heptahydrate",
        "octahydrate",
        "nonahydrate",
        "decahydrate",
        "dodecahydrate",
        "hemihydrate",
        "sesquihydrate",
        "hemi-pentahydrate",
        "solvate",
        "ethanolate",
        "dried",
    }
)

# Salt, counter-ion and ester words: dropped from the END of a name only while the rest
# still holds a word that is neither an ion (below) nor another salt word.
SALT_WORDS = frozenset(
    {
        "hydrochloride",
        "dihydrochloride",
        "hcl",
        "hydrobromide",
        "hydroiodide",
        "sodium",
        "disodium",
        "trisodium",
        "potassium",
        "dipotassium",
        "calcium",
        "magnesium",
        "besylate",
        "bisulfate",
        "maleate",
        "dimaleate",
        "mesylate",
        "dimesylate",
        "succinate",
        "ethylsuccinate",
        "tartrate",
        "bitartrate",
        "citrate",
        "sulfate",
        "phosphate",
        "acetate",
        "diacetate",
        "bromide",
        "chloride",
        "iodide",
        "nitrate",
        "fumarate",
        "hemifumarate",
        "dipropionate",
        "propionate",
        "valerate",
        "butyrate",
        "furoate",
        "cypionate",
        "enanthate",
        "decanoate",
        "palmitate",
        "pamoate",
        "benzoate",
        "hyclate",
        "tosylate",
        "edisylate",
        "napsylate",
        "lactate",
        "gluconate",
        "stearate",
        "estolate",
        "lactobionate",
        "saccharate",
        "aspartate",
        "tromethamine",
        "meglumine",
        "acetonide",
        "dimeglumine",
    }
)

# Ions and mineral words: a name made only of these and salt words is the drug itself.
ION_WORDS = frozenset(
    {
        "sodium",
        "disodium",
        "trisodium",
        "potassium",
        "dipotassium",
        "calcium",
        "tricalcium",
        "magnesium",
        "zinc",
        "lithium",
        "aluminum",
        "ferrous",
        "ferric",
        "iron",
        "silver",
        "ammonium",
        "copper",
        "cupric",
        "manganese",
        "chromium",
        "selenium",
        "bismuth",
        "barium",
        "strontium",
        "cobalt",
        "gold",
        "mercuric",
        "stannous",
        "nickel",
        "lead",
        # elements and inorganic radicals (homeopathic and mineral products)
        "boron",
        "cadmium",
        "cerous",
        "cesium",
        "chromic",
        "erbium",
        "germanium",
        "mercurous",
        "platinic",
        "scandium",
        "sulfur",
        "uranyl",
        "yttrium",
        "cobaltous",
        "antimony",
        "mercury",
        "basic",
        "cation",
        "dibasic",
        "monobasic",
        "tribasic",
    }
)

# Comma qualifiers that only describe the form or the animal source.
FORM_QUALIFIERS = frozenset(
    {
        "anhydrous",
        "dried",
        "crude",
        "unspecified",
        "unspecified form",
        "d-",
        "dl-",
        "l-",
        "(+/-)-",
        "porcine",
        "bovine",
        "ovine",
        "equine",
        *HYDRATE_WORDS,
    }
)

SUFFIX_PHRASES = ("propylene glycol solvate",)

# Names whose last word looks like a salt or hydrate but is part of the drug's name.
KEEP_WHOLE = frozenset({"chloral hydrate", "methylene chloride"})


def _is_ester_or_radical(word: str) -> bool:
    """ "benzyl benzoate", "isopropyl palmitate", "peg-100 stearate": the word before the
    acid is an alkyl/aryl radical or a numbered polymer, so the ester is the substance."""
    return word.endswith("yl") or any(ch.isdigit() for ch in word)


# Synonyms -> the US generic name (USAN/FDA) used throughout rxdesk.
SYNONYMS: dict[str, str] = {
    "paracetamol": "acetaminophen",
    "glibenclamide": "glyburide",
    "salbutamol": "albuterol",
    "adrenaline": "epinephrine",
    "noradrenaline": "norepinephrine",
    "frusemide": "furosemide",
    "pethidine": "meperidine",
    "rifampicin": "rifampin",
    "ciclosporin": "cyclosporine",
    "lignocaine": "lidocaine",
    "amfetamine": "amphetamine",
    "dexamfetamine": "dextroamphetamine",
    "metamfetamine": "methamphetamine",
    "methamfetamine": "methamphetamine",
    "st john's wort": "st. john's wort",
    "st johns wort": "st. john's wort",
    "st. johns wort": "st. john's wort",
    "saint john's wort": "st. john's wort",
    "hypericum perforatum": "st. john's wort",
    "hypericum": "st. john's wort",
    "alpha-tocopherol": "vitamin e",
    "d-alpha-tocopherol": "vitamin e",
    "dl-alpha-tocopherol": "vitamin e",
    "tocopherol": "vitamin e",
    "zoledronate": "zoledronic acid",
    "thyroid usp": "thyroid",
}

_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'})
_DOTTED = re.compile(r"\.([a-z]+)\.")
_SPACES = re.compile(r"\s+")
_SOURCE = re.compile(r"\s*\((human|bovine|ovine|equine|porcine|recombinant)\)$")


def clean(raw: str) -> str:
    """Lower case, plain quotes, FDA's dotted Greek undone, single spaces."""
    text = raw.translate(_QUOTES).lower()
    text = _DOTTED.sub(r"\1", text)
    return _SPACES.sub(" ", text).strip()


def _strip_words(words: list[str]) -> list[str]:
    if " ".join(words) in KEEP_WHOLE:
        return words
    while len(words) > 1 and words[0] in HYDRATE_WORDS:
        words = words[1:]
    while len(words) > 1 and words[-1] in HYDRATE_WORDS:
        words = words[:-1]
    while len(words) > 1 and words[-1] in SALT_WORDS:
        rest = words[:-1]
        if all(w in ION_WORDS or w in SALT_WORDS for w in rest):
            break
        if _is_ester_or_radical(rest[-1]):
            break
        words = rest
        while len(words) > 1 and words[-1] in HYDRATE_WORDS:
            words = words[:-1]
    return words


def ingredient_name(raw: str) -> str:
    """The lower-case generic base name of one active substance (see the module doc)."""
    whole = clean(raw)
    if not whole:
        return ""
    text = _SOURCE.sub("", whole)
    for phrase in SUFFIX_PHRASES:
        if text.endswith(" " + phrase):
            text = text[: -len(phrase) - 1]
    parts = [p.strip() for p in text.split(", ")]
    head, qualifiers = parts[0], [q for q in parts[1:] if q and q not in FORM_QUALIFIERS]
    words = _strip_words(head.split(" ")) if head else []
    name = " ".join(words)
    if qualifiers:
        name = ", ".join([name, *qualifiers])
    name = name.strip(" ,") or whole
    return SYNONYMS.get(name, name)


def ingredient_names(substances: str) -> tuple[str, ...]:
    """FDA's ``SUBSTANCENAME`` (``;``-separated) as base names, in order, without repeats."""
    out: list[str] = []
    for part in substances.split(";"):
        name = ingredient_name(part)
        if name and name not in out:
            out.append(name)
    return tuple(out)
