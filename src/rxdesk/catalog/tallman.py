"""Tall Man (mixed-case) lettering for look-alike drug names.

FDA's Name Differentiation Project (2001) and ISMP's list ask that the differing letters of
look-alike names be shown in capitals on pick-lists, labels, MAR and shelf tags, so that
hydrALAZINE is not picked for hydrOXYzine. The groups below restate the team reference
(identifiers-labels-math.md §3.6, FDA and ISMP lists combined); refresh them from the
current ISMP/FDA publication when it changes. Pure module: no Django, no database.
"""

from __future__ import annotations

import re

__all__ = ["TALL_MAN", "tall_man"]

# One look-alike group per line, spelled as the list prints it. Names with no capitals
# (morphine, tretinoin) are in the groups for completeness but need no rewriting.
_GROUPS: tuple[tuple[str, ...], ...] = (
    ("acetaZOLAMIDE", "acetoHEXAMIDE"),
    ("ALPRAZolam", "LORazepam", "clonazePAM"),
    ("amLODIPine", "aMILoride"),
    ("azaCITIDine", "azaTHIOprine"),
    ("buPROPion", "busPIRone"),
    ("carBAMazepine", "OXcarbazepine"),
    ("CARBOplatin", "CISplatin"),
    ("ceFAZolin", "cefTRIAXone"),
    ("CeleBREX", "CeleXA"),
    ("chlorproMAZINE", "chlorproPAMIDE"),
    ("chlordiazePOXIDE", "chlorproMAZINE"),
    ("clomiPHENE", "clomiPRAMINE"),
    ("cloNIDine", "clonazePAM", "KlonoPIN"),
    ("cycloSERINE", "cycloSPORINE"),
    ("DACTINomycin", "DAPTOmycin"),
    ("DAUNOrubicin", "DOXOrubicin"),
    ("dimenhyDRINATE", "diphenhydrAMINE"),
    ("DOBUTamine", "DOPamine"),
    ("DOCEtaxel", "PACLitaxel"),
    ("DULoxetine", "FLUoxetine", "PARoxetine"),
    ("ePHEDrine", "EPINEPHrine"),
    ("fentaNYL", "SUFentanil"),
    ("glipiZIDE", "glyBURIDE"),
    ("guaiFENesin", "guanFACINE"),
    ("HumaLOG", "HumuLIN"),
    ("hydrALAZINE", "hydrOXYzine"),
    ("HYDROcodone", "oxyCODONE"),
    ("HYDROmorphone", "morphine"),
    ("ISOtretinoin", "tretinoin"),
    ("lamiVUDine", "lamoTRIgine"),
    ("levETIRAcetam", "levOCARNitine", "levoFLOXacin"),
    ("medroxyPROGESTERone", "methylPREDNISolone", "methylTESTOSTERone"),
    ("metFORMIN", "metroNIDAZOLE"),
    ("methIMAzole", "metOLazone"),
    ("niCARdipine", "NIFEdipine", "niMODipine"),
    ("NexAVAR", "NexIUM"),
    ("NovoLIN", "NovoLOG"),
    ("OLANZapine", "QUEtiapine"),
    ("oxyCODONE", "OxyCONTIN"),
    ("PENTobarbital", "PHENobarbital"),
    ("predniSONE", "prednisoLONE"),
    ("PriLOSEC", "PROzac"),
    ("quiNIDine", "quiNINE"),
    ("risperiDONE", "rOPINIRole"),
    ("riTUXimab", "inFLIXimab"),
    ("SandIMMUNE", "SandoSTATIN"),
    ("SAXagliptin", "SITagliptin"),
    ("sitaGLIPtin", "SUMAtriptan"),
    ("SEROquel", "SINEquan"),
    ("sulfADIAZINE", "sulfiSOXAZOLE"),
    ("TOLAZamide", "TOLBUTamide"),
    ("traMADol", "traZODone"),
    ("valACYclovir", "valGANciclovir"),
    ("vinBLAStine", "vinCRIStine"),
    ("ZyPREXA", "ZyrTEC"),
)

# The list capitalizes sitagliptin two ways (against saxagliptin and against sumatriptan);
# a one-spelling-per-word table must choose. The sumatriptan mix-up crosses therapeutic
# classes (diabetes/migraine) and so does more harm, hence its spelling.
_CHOSEN = {"sitagliptin": "sitaGLIPtin"}


def _build(groups: tuple[tuple[str, ...], ...]) -> dict[str, str]:
    table: dict[str, str] = {}
    for group in groups:
        for spelling in group:
            word = spelling.lower()
            if spelling == word:
                continue
            if word in _CHOSEN:
                table[word] = _CHOSEN[word]
            elif table.setdefault(word, spelling) != spelling:
                raise ValueError(f"Tall-man list spells {word!r} two ways; add it to _CHOSEN.")
    return table


TALL_MAN: dict[str, str] = _build(_GROUPS)

# Whole words only: a listed name inside a longer word is someone else's name.
_WORD = re.compile(
    r"(?<!\w)(?:"
    + "|".join(re.escape(w) for w in sorted(TALL_MAN, key=len, reverse=True))
    + r")(?!\w)",
    re.IGNORECASE,
)


def tall_man(name: str) -> str:
    """``name`` with every listed drug word in its tall-man spelling; other words unchanged.

    "Hydroxyzine Hydrochloride" -> "hydrOXYzine Hydrochloride".
    """
    # Unicode case-insensitive matching can pair odd characters (e.g. the long s) with an
    # ASCII letter; such a match is not in the table and is left as it was.
    return _WORD.sub(lambda m: TALL_MAN.get(m.group(0).lower(), m.group(0)), name)
