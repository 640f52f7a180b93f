"""Make the demo drug catalog shipped in src/rxdesk/catalog/data/ (run from the repo root):

    python -m bench.make_demo_catalog [--data ../shared/data]

Selects a few hundred real products from the FDA NDC Directory in ../shared/data/fda-ndc —
the top outpatient generics and their brands, controlled substances of every schedule,
insulins, vaccines, inhalers, eye drops, oral liquids, hazardous drugs and the look-alike
pairs that tall-man lettering tells apart — with a few packages each, and the Drugs@FDA
rows (Products, TE codes, marketing status) of their applications. Lines are copied byte
for byte (same columns, CRLF, Latin-1), so the demo goes through the real importer. The
selection is deterministic: the same data gives the same files.
"""

from __future__ import annotations

import argparse
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data"
OUT = ROOT / "src" / "rxdesk" / "catalog" / "data"

PACKAGES_PER_PRODUCT = 3

# Manufacturers (not repackagers) preferred when a generic is made by many labelers.
MAKERS = re.compile(
    r"teva|mylan|sandoz|aurobindo|lupin|zydus|cadila|sun pharma|dr\.? reddy|amneal|apotex|"
    r"accord|cipla|torrent|camber|greenstone|par pharm|west-ward|hikma|lannett|"
    r"mallinckrodt|specgx|rhodes|kvk|actavis|glenmark|macleods|unichem|ascend|solco|"
    r"prasco|heritage|breckenridge|alembic|ajanta|cadista|strides|granules|epic pharma|"
    r"taro|perrigo|fresenius|hospira|pfizer|merck|lilly|novo nordisk|sanofi|glaxo|"
    r"astrazeneca|boehringer|janssen|abbvie|purdue|bausch|alcon|allergan|seqirus|"
    r"bristol|novartis|wyeth|roche|genentech|shire|indivior|endo|upsher|akorn|sagent|"
    r"american regent|xiromed|northstar|bluepoint|major|mckesson|l\.?n\.?k|rugby",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Pick:
    """Products whose generic name matches ``generic`` (a regex, whole words)."""

    generic: str
    products: int = 6
    labelers: int = 3
    form: str = ""  # regex over DOSAGEFORMNAME
    route: str = ""  # regex over ROUTENAME
    otc: bool = False


GENERICS = [
    # The most dispensed outpatient generics.
    Pick("atorvastatin calcium"),
    Pick("lisinopril"),
    Pick("levothyroxine sodium", products=7),
    Pick("metformin hydrochloride"),
    Pick("amlodipine besylate"),
    Pick("metoprolol (tartrate|succinate)"),
    Pick("omeprazole", form="CAPSULE, DELAYED RELEASE"),
    Pick("losartan potassium"),
    Pick("simvastatin"),
    Pick("gabapentin"),
    Pick("hydrochlorothiazide", form="^TABLET$|^CAPSULE$"),
    Pick("sertraline hydrochloride"),
    Pick("montelukast sodium"),
    Pick("furosemide", form="TABLET"),
    Pick("pantoprazole sodium", form="TABLET"),
    Pick("escitalopram( oxalate)?"),
    Pick("rosuvastatin calcium"),
    Pick("bupropion hydrochloride"),
    Pick("trazodone hydrochloride"),
    Pick("fluoxetine( hydrochloride)?", form="CAPSULE|TABLET"),
    Pick("prednisone"),
    Pick("tamsulosin hydrochloride"),
    Pick("meloxicam", form="TABLET"),
    Pick("clopidogrel( bisulfate)?"),
    Pick("carvedilol"),
    Pick("warfarin sodium"),
    Pick("duloxetine( hydrochloride)?"),
    Pick("cyclobenzaprine hydrochloride"),
    Pick("allopurinol"),
    Pick("amoxicillin", form="CAPSULE"),
    Pick("azithromycin", form="TABLET"),
    Pick("cephalexin", form="CAPSULE"),
    Pick("sulfamethoxazole and trimethoprim", form="TABLET"),
    Pick("lamotrigine", form="^TABLET$"),
    Pick("apixaban", products=2),
    # Look-alike names told apart by tall-man lettering.
    Pick("hydroxyzine hydrochloride", form="TABLET"),
    Pick("hydralazine hydrochloride", form="TABLET"),
    Pick("buspirone hydrochloride"),
    Pick("glipizide", form="^TABLET$"),
    Pick("glyburide", form="^TABLET$"),
    Pick("clonidine hydrochloride", form="^TABLET$"),
    Pick("quetiapine fumarate", form="^TABLET, FILM COATED$"),
    Pick("olanzapine", form="^TABLET"),
    Pick("metronidazole", form="^TABLET"),
    Pick("prednisolone", form="SOLUTION|SYRUP", route="ORAL"),
    Pick("risperidone", form="^TABLET"),
    Pick("ropinirole( hydrochloride)?", form="^TABLET"),
    Pick("valacyclovir( hydrochloride)?"),
    Pick("levetiracetam", form="^TABLET"),
    Pick("levofloxacin", form="TABLET"),
    Pick("nifedipine", form="EXTENDED RELEASE"),
    Pick("carbamazepine", form="^TABLET$"),
    # Controlled substances, every schedule.
    Pick("oxycodone hydrochloride", form="^TABLET$"),  # CII
    Pick("oxycodone and acetaminophen", form="TABLET"),  # CII
    Pick("hydrocodone bitartrate and acetaminophen", form="TABLET"),  # CII
    Pick("morphine sulfate", form="TABLET"),  # CII
    Pick("fentanyl", form="PATCH|FILM, EXTENDED RELEASE", products=4),  # CII
    Pick("hydromorphone hydrochloride", form="TABLET"),  # CII
    Pick("methylphenidate hydrochloride", form="TABLET"),  # CII
    Pick(
        "dextroamphetamine saccharate, amphetamine aspartate.*",
        form="TABLET|CAPSULE",
    ),  # CII
    Pick("buprenorphine hydrochloride and naloxone hydrochloride", products=4),  # CIII
    Pick("buprenorphine hydrochloride", form="TABLET", products=3),  # CIII
    Pick("testosterone cypionate", products=3),  # CIII
    Pick("testosterone", form="GEL", products=2),  # CIII
    Pick("alprazolam", form="^TABLET$"),  # CIV
    Pick("lorazepam", form="^TABLET$"),  # CIV
    Pick("clonazepam", form="^TABLET$"),  # CIV
    Pick("zolpidem tartrate", form="^TABLET"),  # CIV
    Pick("tramadol hydrochloride", form="^TABLET"),  # CIV
    Pick("diazepam", form="^TABLET$"),  # CIV
    Pick("pregabalin", form="CAPSULE"),  # CV
    Pick("promethazine hydrochloride and codeine phosphate", products=3),  # CV
    Pick("(guaifenesin and codeine|codeine phosphate and guaifenesin).*", products=3, otc=True),
    Pick("lacosamide", form="TABLET", products=2),  # CV
    # Insulins.
    Pick("insulin glargine", products=4),
    Pick("insulin lispro", products=4),
    Pick("insulin aspart", products=4),
    Pick("insulin human", products=5),
    # Inhalers and nasal sprays.
    Pick("albuterol sulfate", form="AEROSOL", products=5),
    Pick("albuterol sulfate", form="SOLUTION", route="RESPIRATORY", products=2),
    Pick("fluticasone propionate", form="AEROSOL", products=3),
    Pick("fluticasone propionate", form="SPRAY", route="NASAL", products=3),
    Pick("fluticasone propionate and salmeterol.*", products=3),
    Pick("budesonide and formoterol.*", products=2),
    Pick("tiotropium bromide.*", products=2),
    # Eye drops.
    Pick("latanoprost", route="OPHTHALMIC", products=3),
    Pick("timolol maleate", route="OPHTHALMIC", products=3),
    Pick("prednisolone acetate", route="OPHTHALMIC", products=2),
    Pick("moxifloxacin( hydrochloride)?", route="OPHTHALMIC", products=2),
    # Oral liquids.
    Pick("amoxicillin", form="SUSPENSION", products=4),
    Pick("amoxicillin and clavulanate potassium", form="SUSPENSION", products=3),
    Pick("cephalexin", form="SUSPENSION", products=2),
    Pick("ibuprofen", form="SUSPENSION", products=2, otc=True),
    Pick("acetaminophen", form="SUSPENSION|SOLUTION", route="ORAL", products=2, otc=True),
    # Hazardous drugs (NIOSH) handled under USP <800>.
    Pick("methotrexate( sodium)?", form="TABLET|INJECTION", products=4),
    Pick("tamoxifen citrate"),
    Pick("anastrozole", products=3),
    Pick("letrozole", products=3),
    Pick("capecitabine", products=2),
    Pick("mycophenolate mofetil", form="TABLET|CAPSULE", products=3),
    Pick("finasteride", products=3),
    Pick("estradiol", form="^TABLET$", products=3),
    # Others a counter sees every day.
    Pick("epinephrine", form="INJECTION", route="INTRAMUSCULAR", products=3),
    Pick("naloxone hydrochloride", form="SPRAY|INJECTION", products=3),
    Pick("nitroglycerin", form="TABLET", route="SUBLINGUAL", products=2),
    Pick("ondansetron", form="ORALLY DISINTEGRATING", products=3),
    Pick("sumatriptan( succinate)?", form="TABLET", products=3),
    Pick("norgestimate and ethinyl estradiol", products=3),
    Pick("loratadine", form="TABLET", products=2, otc=True),
    Pick("cetirizine hydrochloride", form="TABLET", products=2, otc=True),
]

BRANDS = [
    "Lipitor",
    "Synthroid",
    "Zoloft",
    "Lantus",
    "Humalog",
    "Humulin R",
    "Humulin N",
    "Novolog",
    "Novolin R",
    "Novolin N",
    "ProAir HFA",
    "Ventolin HFA",
    "Flovent HFA",
    "Advair Diskus",
    "Flovent Diskus",
    "Symbicort",
    "Spiriva",
    "EpiPen",
    "Narcan",
    "OxyContin",
    "Xanax",
    "Ambien",
    "Lyrica",
    "Adderall",
    "Concerta",
    "Suboxone",
    "Celebrex",
    "Celexa",
    "Zyprexa",
    "Zyrtec",
    "Prilosec OTC",
    "Nexium",
    "Eliquis",
    "Xarelto",
    "Januvia",
    "Plavix",
    "Seroquel",
    "Lexapro",
    "Singulair",
    "Norvasc",
    "Keppra",
    "Lamictal",
    "Coumadin",
    "Levaquin",
]

# Vaccines by proprietary name (product type VACCINE).
VACCINES = [
    "Fluzone High-Dose Quadrivalent",
    "Fluzone Quadrivalent",
    "Flucelvax Quadrivalent",
    "Shingrix",
    "Pneumovax 23",
    "Prevnar 13",
    "Engerix-B",
    "Boostrix",
    "Gardasil 9",
    "Havrix",
]


def read_lines(path: Path) -> tuple[bytes, list[bytes]]:
    """The header line and the data lines of an FDA file, as bytes (CRLF kept)."""
    data = path.read_bytes()
    lines = data.split(b"\n")
    lines = [line + b"\n" for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])
    return lines[0], lines[1:]


def fields(line: bytes) -> list[str]:
    return line.decode("latin-1").rstrip("\r\n").split("\t")


def _strength_key(value: str) -> tuple[float, str]:
    match = re.match(r"[0-9.]+", value)
    try:
        return (float(match[0]) if match else 0.0, value)
    except ValueError:
        return (0.0, value)


def choose(products: list[dict[str, str]], pick: Pick) -> list[dict[str, str]]:
    pattern = re.compile(rf"^(?:{pick.generic})$", re.IGNORECASE)
    candidates = [
        p
        for p in products
        if pattern.match(p["NONPROPRIETARYNAME"].strip())
        and (not pick.form or re.search(pick.form, p["DOSAGEFORMNAME"]))
        and (not pick.route or re.search(pick.route, p["ROUTENAME"]))
        and p["NDC_EXCLUDE_FLAG"] == "N"
        and not p["ENDMARKETINGDATE"]
        and (pick.otc or p["PRODUCTTYPENAME"] != "HUMAN OTC DRUG")
    ]
    by_labeler: dict[str, list[dict[str, str]]] = defaultdict(list)
    for p in candidates:
        by_labeler[p["LABELERNAME"]].append(p)
    labelers = sorted(
        by_labeler,
        key=lambda name: (not MAKERS.search(name), -len(by_labeler[name]), name),
    )[: pick.labelers]
    chosen: list[dict[str, str]] = []
    strengths: list[str] = []
    for i, labeler in enumerate(labelers):
        items = sorted(
            by_labeler[labeler],
            key=lambda p: (_strength_key(p["ACTIVE_NUMERATOR_STRENGTH"]), p["PRODUCTNDC"]),
        )
        if i == 0:
            # The first maker's range, spread from the lowest strength to the highest.
            room = max(1, pick.products - 2 * (len(labelers) - 1))
            step = max(1, len(items) // room)
            taken = items[::step][:room]
            strengths = [p["ACTIVE_NUMERATOR_STRENGTH"] for p in taken]
        else:
            # Other makers of the same strengths: therapeutic equivalents to substitute.
            taken = [p for p in items if p["ACTIVE_NUMERATOR_STRENGTH"] in strengths][:2]
        chosen.extend(taken)
    return chosen[: pick.products]


def by_name(products: list[dict[str, str]], names: Iterable[str], per_name: int) -> list:
    """Products by brand: proprietary name and suffix ("ProAir" "HFA"), makers first."""
    out = []
    for name in names:
        wanted = name.lower()
        matches = sorted(
            (
                p
                for p in products
                if _brand(p) == wanted or _brand(p).startswith(wanted + " ")
                if p["NDC_EXCLUDE_FLAG"] == "N" and not p["ENDMARKETINGDATE"]
            ),
            key=lambda p: (
                not MAKERS.search(p["LABELERNAME"]),
                _strength_key(p["ACTIVE_NUMERATOR_STRENGTH"]),
                p["PRODUCTNDC"],
            ),
        )
        out.extend(matches[:per_name])
    return out


def _brand(product: dict[str, str]) -> str:
    return f"{product['PROPRIETARYNAME']} {product['PROPRIETARYNAMESUFFIX']}".strip().lower()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    ndc_dir = args.data / "fda-ndc"
    fda_dir = args.data / "drugsatfda"

    product_header, product_lines = read_lines(ndc_dir / "product.txt")
    columns = fields(product_header)
    products = []
    for line in product_lines:
        row = dict(zip(columns, fields(line), strict=True))
        row["_line"] = line  # type: ignore[assignment]
        products.append(row)

    chosen: dict[str, dict[str, str]] = {}
    for pick in GENERICS:
        for p in choose(products, pick):
            chosen.setdefault(p["PRODUCTID"], p)
    for p in by_name(products, BRANDS, 2) + by_name(products, VACCINES, 1):
        chosen.setdefault(p["PRODUCTID"], p)

    package_header, package_lines = read_lines(ndc_dir / "package.txt")
    package_columns = fields(package_header)
    packages: dict[str, list[bytes]] = defaultdict(list)
    for line in package_lines:
        row = dict(zip(package_columns, fields(line), strict=True))
        if row["PRODUCTID"] in chosen and len(packages[row["PRODUCTID"]]) < PACKAGES_PER_PRODUCT:
            packages[row["PRODUCTID"]].append(line)
    # A product without packages cannot be dispensed; the demo has no use for it.
    kept = [p for p in product_lines if fields(p)[0] in packages]

    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "demo_product.txt").write_bytes(product_header + b"".join(kept))
    (OUT / "demo_package.txt").write_bytes(
        package_header + b"".join(line for p in kept for line in packages[fields(p)[0]])
    )

    applications = set()
    for line in kept:
        number = dict(zip(columns, fields(line), strict=True))["APPLICATIONNUMBER"]
        match = re.fullmatch(r"(?:ANDA|NDA|BLA)([0-9]{6})", number)
        if match:
            applications.add(match[1])
    te_out = OUT / "demo_te"
    te_out.mkdir(exist_ok=True)
    for name, key in (
        ("Products.txt", 0),
        ("TE.txt", 0),
        ("MarketingStatus.txt", 1),
        ("MarketingStatus_Lookup.txt", None),
    ):
        header, lines = read_lines(fda_dir / name)
        if key is not None:
            lines = [line for line in lines if fields(line)[key] in applications]
        (te_out / name).write_bytes(header + b"".join(lines))

    total = sum(f.stat().st_size for f in OUT.rglob("*.txt"))
    print(
        f"{len(kept)} products, {sum(len(packages[fields(p)[0]]) for p in kept)} packages, "
        f"{len(applications)} applications; {total / 1024:,.0f} KiB in {OUT}"
    )


if __name__ == "__main__":
    main()
