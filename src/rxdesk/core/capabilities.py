"""The one table of what each role may do.

Services call :func:`require` before they change or reveal anything; views and the API use
:func:`has` only to hide what a user may not do. A forbidden step therefore fails the same
way from the UI, the API, the admin and the CLI.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from rxdesk.core.choices import PHARMACIST_ROLES, TECHNICIAN_ROLES, Role
from rxdesk.core.errors import CredentialExpired, Forbidden

if TYPE_CHECKING:
    from rxdesk.core.models import User


class Cap(StrEnum):
    """Named capabilities. Add new ones here and grant them in ROLE_CAPABILITIES."""

    PATIENT_VIEW = "patient.view"
    PATIENT_EDIT = "patient.edit"
    PRESCRIBER_VIEW = "prescriber.view"
    PRESCRIBER_EDIT = "prescriber.edit"
    SITE_VIEW = "site.view"
    SITE_EDIT = "site.edit"
    STAFF_VIEW = "staff.view"
    STAFF_EDIT = "staff.edit"
    SITE_ASSIGN = "site.assign"
    AUDIT_VIEW = "audit.view"
    AUDIT_EXPORT = "audit.export"
    AUDIT_VERIFY = "audit.verify"
    TOKEN_CREATE = "token.create"
    CATALOG_VIEW = "catalog.view"
    CATALOG_EDIT = "catalog.edit"
    CATALOG_IMPORT = "catalog.import"
    INVENTORY_VIEW = "inventory.view"
    INVENTORY_SETUP = "inventory.setup"
    INVENTORY_RECEIVE = "inventory.receive"
    INVENTORY_ORDER = "inventory.order"
    INVENTORY_COUNT = "inventory.count"
    INVENTORY_ADJUST = "inventory.adjust"
    INVENTORY_APPROVE = "inventory.approve"
    INVENTORY_RECALL = "inventory.recall"
    INVENTORY_TRANSFER = "inventory.transfer"
    INVENTORY_RETURN = "inventory.return"
    STOCK_DISPENSE = "stock.dispense"
    COLD_CHAIN_RECORD = "coldchain.record"
    RX_VIEW = "rx.view"
    RX_ENTER = "rx.enter"
    RX_TRANSFER = "rx.transfer"
    RX_FILL = "rx.fill"
    RX_SELL = "rx.sell"
    RX_VERIFY_DATA = "rx.verify_data"
    RX_VERIFY_FINAL = "rx.verify_final"
    RX_SCAN_OVERRIDE = "rx.scan_override"
    POS_DRAWER = "pos.drawer"
    POS_PSE_SELL = "pos.pse_sell"
    POS_DELIVER = "pos.deliver"
    POS_COUNSEL = "pos.counsel"
    POS_REFUND = "pos.refund"
    POS_ACCOUNTS = "pos.accounts"
    POS_REPORT = "pos.report"
    POS_PSE_LOG = "pos.pse_log"
    SCREENING_RESOLVE = "screening.resolve"
    SCREENING_REPORT = "screening.report"
    CLAIMS_VIEW = "claims.view"
    CLAIMS_BILL = "claims.bill"
    CLAIMS_PROCEED = "claims.proceed"
    CLAIMS_PLANS = "claims.plans"
    CLAIMS_REPORT = "claims.report"
    CS_VIEW = "cs.view"
    CS_COUNT = "cs.count"
    CS_ORDER = "cs.order"
    CS_INVESTIGATE = "cs.investigate"
    CS_INVENTORY_SIGN = "cs.inventory_sign"
    CS_LOSS = "cs.loss"
    CS_DESTROY = "cs.destroy"
    CS_WASTE = "cs.waste"
    CS_WITNESS = "cs.witness"
    CS_SIGNOFF = "cs.signoff"
    CS_PMP = "cs.pmp"
    CS_SIGNALS = "cs.signals"
    COMPOUNDING_VIEW = "compounding.view"
    COMPOUNDING_MAKE = "compounding.make"
    COMPOUNDING_VERIFY = "compounding.verify"
    COMPOUNDING_FORMULA = "compounding.formula"
    COMPOUNDING_APPROVE = "compounding.approve"
    COMPOUNDING_MONITOR = "compounding.monitor"
    COMPOUNDING_CORRECT = "compounding.correct"
    COMPOUNDING_COMPETENCY = "compounding.competency"
    COMPOUNDING_FACILITY = "compounding.facility"
    LTC_VIEW = "ltc.view"
    LTC_CENSUS = "ltc.census"
    LTC_CYCLE = "ltc.cycle"
    LTC_SETUP = "ltc.setup"
    PACKAGING_MAKE = "packaging.make"
    PACKAGING_CHECK = "packaging.check"
    ADC_VIEW = "adc.view"
    ADC_RESTOCK = "adc.restock"
    ADC_IMPORT = "adc.import"
    ADC_SETUP = "adc.setup"
    ADC_RESOLVE = "adc.resolve"
    ADC_REPORT = "adc.report"
    # Immunizations
    IMM_VIEW = "imm.view"
    IMM_RECORD = "imm.record"
    IMM_ADMINISTER = "imm.administer"
    IMM_STOCK = "imm.stock"
    IMM_REGISTRY = "imm.registry"
    IMM_REPORT = "imm.report"
    IMM_OUTREACH = "imm.outreach"
    IMM_SETUP = "imm.setup"
    # Patient care
    CARE_VIEW = "care.view"
    CARE_MEDREC = "care.medrec"
    CARE_MEDREC_RESOLVE = "care.medrec_resolve"
    CARE_COUNSEL = "care.counsel"
    CARE_INTERVENE = "care.intervene"
    CARE_EVENT = "care.event"
    CARE_QI = "care.qi"
    CARE_QI_REPORT = "care.qi_report"
    CARE_INQUIRY = "care.inquiry"
    CARE_POCT = "care.poct"
    CARE_SETUP = "care.setup"
    # People: training, competency, precepting, continuing education, credentials
    PEOPLE_VIEW = "people.view"
    PEOPLE_TRAIN = "people.train"
    PEOPLE_CE = "people.ce"
    PEOPLE_SETUP = "people.setup"
    # Operations: who is on duty (the ratio), cleaning, waste, equipment
    DUTY_VIEW = "duty.view"
    DUTY_SIGN = "duty.sign"
    OPS_VIEW = "ops.view"
    OPS_LOG = "ops.log"
    OPS_SETUP = "ops.setup"
    # Daily reports and metrics
    REPORTS_DAILY = "reports.daily"
    REPORTS_REVIEW = "reports.review"
    METRICS_VIEW = "metrics.view"
    # Programs: 340B, medication synchronization, formulary and interchange, outreach
    P340B_VIEW = "340b.view"
    P340B_ORDER = "340b.order"
    P340B_SETUP = "340b.setup"
    SYNC_VIEW = "sync.view"
    SYNC_MANAGE = "sync.manage"
    FORMULARY_VIEW = "formulary.view"
    FORMULARY_EDIT = "formulary.edit"
    INTERCHANGE_APPLY = "interchange.apply"
    OUTREACH_VIEW = "outreach.view"
    # FHIR interoperability: loading another system's records, and exporting the whole
    # pharmacy (every patient's record) for a move to another system.
    FHIR_IMPORT = "fhir.import"
    FHIR_EXPORT = "fhir.export"


_CLINICAL_READ = {Cap.PATIENT_VIEW, Cap.PRESCRIBER_VIEW, Cap.RX_VIEW}
_CLINICAL_WRITE = {Cap.PATIENT_EDIT, Cap.PRESCRIBER_EDIT}
# Typing prescriptions, receiving e-prescriptions, taking refill requests.
_RX_INTAKE = {Cap.RX_ENTER, Cap.RX_FILL, Cap.RX_SELL}
# 21 CFR 1306.25: a transfer is communicated between two licensed pharmacists. Data and
# final verification, accepting a product whose barcode did not match, and resolving an
# interrupting screening alert (NCPDP DUR/PPS codes) are the pharmacist's judgement.
_RX_PHARMACIST = {
    Cap.RX_TRANSFER,
    Cap.RX_VERIFY_DATA,
    Cap.RX_VERIFY_FINAL,
    Cap.RX_SCAN_OVERRIDE,
    Cap.SCREENING_RESOLVE,
}
# The counter: opening and closing a drawer, selling behind-the-counter PSE (CMEA training
# is on file for every technician), and taking deliveries out. Trainees sell prescriptions
# (rx.sell) but do not keep a drawer or sell PSE.
_COUNTER = {Cap.POS_DRAWER, Cap.POS_PSE_SELL, Cap.POS_DELIVER}
# Counseling is the pharmacist's (OBRA '90 and state rules); refunds, voids, house accounts
# and the day's reports are a pharmacist's or the PIC's. The CMEA logbook is confidential:
# pharmacists, the PIC and the auditor read it.
_COUNTER_PHARMACIST = {
    Cap.POS_COUNSEL,
    Cap.POS_REFUND,
    Cap.POS_ACCOUNTS,
    Cap.POS_REPORT,
    Cap.POS_PSE_LOG,
}
# Third-party billing is the technician's daily work: bill, check eligibility, reverse,
# rebill, work rejections and prior authorization cases, or switch a fill to cash.
_CLAIMS_WORK = {Cap.CLAIMS_VIEW, Cap.CLAIMS_BILL}
# Letting a fill go on while its claim waits for a switch that does not answer, and keeping
# the plan file (where claims are routed) are a pharmacist's call.
_CLAIMS_PHARMACIST = {Cap.CLAIMS_PROCEED, Cap.CLAIMS_PLANS, Cap.CLAIMS_REPORT}
# Alert and override rates per screening rule (no patient names): which rules are noise.
_SCREENING_REPORT = {Cap.SCREENING_REPORT}
# Controlled substances (21 CFR 1304, 1305, 1317). Technicians read the perpetual inventory,
# count (blind), record waste and witness; the inventory specialist reads and counts. A
# pharmacist records order forms, investigates discrepancies, destroys stock (Form 41),
# opens a theft or loss (Form 106), reports to the PMP and signs the daily log; only the
# pharmacist-in-charge signs an inventory. Diversion signals name staff: the PIC and the
# auditor read them.
_CS_TECH = {Cap.CS_VIEW, Cap.CS_COUNT, Cap.CS_WASTE, Cap.CS_WITNESS}
_CS_PHARMACIST = _CS_TECH | {
    Cap.CS_ORDER,
    Cap.CS_INVESTIGATE,
    Cap.CS_LOSS,
    Cap.CS_DESTROY,
    Cap.CS_SIGNOFF,
    Cap.CS_PMP,
}
_CS_PIC = _CS_PHARMACIST | {Cap.CS_INVENTORY_SIGN, Cap.CS_SIGNALS}
# Compounding (USP <795>/<797>/<800>). Technicians compound under supervision and log the
# cleanroom's samples, readings and cleaning; a pharmacist verifies preparations, drafts
# master formulas, closes corrective actions and evaluates staff competency; the
# pharmacist-in-charge (the designated person) approves formulas and assessments of risk
# and keeps the rooms, PECs, certifications and the site's limits. The auditor reads.
_COMPOUNDING_TECH = {Cap.COMPOUNDING_VIEW, Cap.COMPOUNDING_MAKE, Cap.COMPOUNDING_MONITOR}
_COMPOUNDING_PHARMACIST = _COMPOUNDING_TECH | {
    Cap.COMPOUNDING_VERIFY,
    Cap.COMPOUNDING_FORMULA,
    Cap.COMPOUNDING_CORRECT,
    Cap.COMPOUNDING_COMPETENCY,
}
_COMPOUNDING_PIC = _COMPOUNDING_PHARMACIST | {
    Cap.COMPOUNDING_APPROVE,
    Cap.COMPOUNDING_FACILITY,
}
# Long-term care and packaging. Technicians keep the census, run the cycle fills and
# repackage or pack adherence cards; a pharmacist checks every repackaging and med pak;
# the pharmacist-in-charge sets up facilities, pass times, cycles and the repackaging rule
# of the state. A trainee reads; the auditor reads.
_LTC_TECH = {Cap.LTC_VIEW, Cap.LTC_CENSUS, Cap.LTC_CYCLE, Cap.PACKAGING_MAKE}
_LTC_PHARMACIST = _LTC_TECH | {Cap.PACKAGING_CHECK}
_LTC_PIC = _LTC_PHARMACIST | {Cap.LTC_SETUP}
# Automated dispensing cabinets. Technicians and the inventory specialist restock (a
# controlled restock needs a witness: cs.witness) and read the cabinets; technicians load
# the cabinets' transaction files (they name patients, so not the inventory specialist).
# Pharmacists set pockets and par, resolve discrepancies and review overrides; the
# dispensed-versus-administered comparison names nurses: pharmacists, the PIC, the auditor.
_ADC_STOCK = {Cap.ADC_VIEW, Cap.ADC_RESTOCK}
_ADC_TECH = _ADC_STOCK | {Cap.ADC_IMPORT}
_ADC_PHARMACIST = _ADC_TECH | {Cap.ADC_SETUP, Cap.ADC_RESOLVE, Cap.ADC_REPORT}
# The drug catalog is reference data with no PHI: everyone who signs in may read it.
# Immunizations. Technicians screen, take consent, receive vaccine stock, send to the
# registry and keep the outreach list; a technician vaccinates only where the site's state
# allows it (ImmunizationSettings.technicians_administer, checked by the service). The PIC
# sets up the registry connection and the state's rules. An auditor sees the registry's
# reporting figures, never the patients. An inventory specialist keeps vaccine stock.
_IMM_TECH = {
    Cap.IMM_VIEW,
    Cap.IMM_RECORD,
    Cap.IMM_ADMINISTER,
    Cap.IMM_STOCK,
    Cap.IMM_REGISTRY,
    Cap.IMM_OUTREACH,
}
_IMM_PHARMACIST = _IMM_TECH | {Cap.IMM_REPORT}
_IMM_PIC = _IMM_PHARMACIST | {Cap.IMM_SETUP}

# Patient care. Technicians gather medication histories, record counseling offers, log
# inquiries, report safety events and (where the state allows, checked by the service)
# perform point-of-care tests; pharmacists resolve med rec discrepancies, make
# interventions, run root-cause analyses and answer escalations; the PIC sets up
# point-of-care testing. An auditor sees the quality trends (no patients). Anyone who
# works in the pharmacy may report a safety event.
_CARE_TECH = {
    Cap.CARE_VIEW,
    Cap.CARE_MEDREC,
    Cap.CARE_COUNSEL,
    Cap.CARE_EVENT,
    Cap.CARE_INQUIRY,
    Cap.CARE_POCT,
}
_CARE_PHARMACIST = _CARE_TECH | {
    Cap.CARE_MEDREC_RESOLVE,
    Cap.CARE_INTERVENE,
    Cap.CARE_QI,
    Cap.CARE_QI_REPORT,
}
_CARE_PIC = _CARE_PHARMACIST | {Cap.CARE_SETUP}

# Running the pharmacy. Everyone who works here signs on and off duty, sees who is on duty
# (and the technician-to-pharmacist ratio), keeps the cleaning, waste and equipment logs,
# and records their own continuing education; everyone reads their own training record.
# Pharmacists assess competency, precept and see everyone's training; they read and sign
# the daily reports and the metrics (no patient names in the metrics). The PIC keeps the
# skills, the renewal rules, the ratio, the cleaning schedule and the equipment list,
# approves interchange protocols and keeps the formulary and the 340B covered-entity set-up.
# The auditor (an inspector's view) reads training, logs, reports, metrics and 340B records.
_RUN_STAFF = {Cap.DUTY_VIEW, Cap.DUTY_SIGN, Cap.OPS_VIEW, Cap.OPS_LOG, Cap.PEOPLE_CE}
_RUN_PHARMACIST = _RUN_STAFF | {
    Cap.PEOPLE_VIEW,
    Cap.PEOPLE_TRAIN,
    Cap.REPORTS_DAILY,
    Cap.REPORTS_REVIEW,
    Cap.METRICS_VIEW,
}
_RUN_PIC = _RUN_PHARMACIST | {Cap.PEOPLE_SETUP, Cap.OPS_SETUP}
_RUN_AUDIT = {
    Cap.PEOPLE_VIEW,
    Cap.DUTY_VIEW,
    Cap.OPS_VIEW,
    Cap.REPORTS_DAILY,
    Cap.METRICS_VIEW,
    Cap.P340B_VIEW,
    Cap.FORMULARY_VIEW,
}
# Programs. Technicians keep med sync (enrol, align, call, queue the sync fills), work the
# outreach lists, and place 340B replenishment orders; the inventory specialist reads the
# 340B virtual inventory and orders from it (no patients on it). Applying a therapeutic
# interchange is a pharmacist's decision; keeping the formulary and approving interchange
# protocols, the PIC's.
_PROGRAMS_TECH = {
    Cap.P340B_VIEW,
    Cap.P340B_ORDER,
    Cap.SYNC_VIEW,
    Cap.SYNC_MANAGE,
    Cap.FORMULARY_VIEW,
    Cap.OUTREACH_VIEW,
}
_PROGRAMS_PHARMACIST = _PROGRAMS_TECH | {Cap.INTERCHANGE_APPLY}
_PROGRAMS_PIC = _PROGRAMS_PHARMACIST | {Cap.FORMULARY_EDIT, Cap.P340B_SETUP}

_CATALOG_READ = {Cap.CATALOG_VIEW}
# Stock work every technician does: receive, order, count, transfer, return, log fridges.
_STOCK_WORK = {
    Cap.INVENTORY_VIEW,
    Cap.INVENTORY_RECEIVE,
    Cap.INVENTORY_ORDER,
    Cap.INVENTORY_COUNT,
    Cap.INVENTORY_TRANSFER,
    Cap.INVENTORY_RETURN,
    Cap.COLD_CHAIN_RECORD,
}
# Taking stock out of the ledger without a sale, and entering recalls.
_STOCK_CONTROL = {Cap.INVENTORY_ADJUST, Cap.INVENTORY_RECALL}

ROLE_CAPABILITIES: dict[Role, frozenset[Cap]] = {
    Role.TECHNICIAN: frozenset(
        _CLINICAL_READ
        | _CLINICAL_WRITE
        | _RX_INTAKE
        | _CATALOG_READ
        | _STOCK_WORK
        | _COUNTER
        | _CLAIMS_WORK
        | _CS_TECH
        | _COMPOUNDING_TECH
        | _LTC_TECH
        | _ADC_TECH
        | _IMM_TECH
        | _CARE_TECH
        | _RUN_STAFF
        | _PROGRAMS_TECH
        | {Cap.SITE_VIEW, Cap.STOCK_DISPENSE}
    ),
    # A trainee types patients, fills, counts and logs temperatures under supervision, but
    # does not maintain the prescriber file or check in deliveries.
    Role.TECHNICIAN_IN_TRAINING: frozenset(
        _CLINICAL_READ
        | _CATALOG_READ
        | _RX_INTAKE
        | {
            Cap.PATIENT_EDIT,
            Cap.SITE_VIEW,
            Cap.INVENTORY_VIEW,
            Cap.INVENTORY_COUNT,
            Cap.COLD_CHAIN_RECORD,
            Cap.STOCK_DISPENSE,
            Cap.POS_DELIVER,
            Cap.LTC_VIEW,
            Cap.IMM_VIEW,
            Cap.CARE_VIEW,
            Cap.CARE_EVENT,
            Cap.SYNC_VIEW,
            Cap.FORMULARY_VIEW,
        }
        | _RUN_STAFF
    ),
    Role.PHARMACIST: frozenset(
        _CLINICAL_READ
        | _CLINICAL_WRITE
        | _RX_INTAKE
        | _RX_PHARMACIST
        | _COUNTER
        | _COUNTER_PHARMACIST
        | _SCREENING_REPORT
        | _CLAIMS_WORK
        | _CLAIMS_PHARMACIST
        | _CATALOG_READ
        | _STOCK_WORK
        | _STOCK_CONTROL
        | _CS_PHARMACIST
        | _COMPOUNDING_PHARMACIST
        | _LTC_PHARMACIST
        | _ADC_PHARMACIST
        | _IMM_PHARMACIST
        | _CARE_PHARMACIST
        | _RUN_PHARMACIST
        | _PROGRAMS_PHARMACIST
        # Approving count adjustments and releasing quarantined stock is a pharmacist's call.
        | {Cap.SITE_VIEW, Cap.TOKEN_CREATE, Cap.STOCK_DISPENSE, Cap.INVENTORY_APPROVE}
    ),
    Role.PHARMACIST_IN_CHARGE: frozenset(
        _CLINICAL_READ
        | _CLINICAL_WRITE
        | _RX_INTAKE
        | _RX_PHARMACIST
        | _COUNTER
        | _COUNTER_PHARMACIST
        | _SCREENING_REPORT
        | _CLAIMS_WORK
        | _CLAIMS_PHARMACIST
        | _CATALOG_READ
        | _STOCK_WORK
        | _STOCK_CONTROL
        | _CS_PIC
        | _COMPOUNDING_PIC
        | _LTC_PIC
        | _ADC_PHARMACIST
        | _IMM_PIC
        | _CARE_PIC
        | _RUN_PIC
        | _PROGRAMS_PIC
        | {
            Cap.STOCK_DISPENSE,
            Cap.INVENTORY_APPROVE,
            Cap.INVENTORY_SETUP,
            # The PIC keeps the drug file's flags (state scheduling, hazardous, high-alert).
            Cap.CATALOG_EDIT,
            # Loading the FDA files replaces the drug file the whole pharmacy works from.
            Cap.CATALOG_IMPORT,
            Cap.SITE_VIEW,
            Cap.SITE_EDIT,
            Cap.STAFF_VIEW,
            Cap.STAFF_EDIT,
            # Letting a person work at another of the chain's pharmacies (SiteAssignment).
            Cap.SITE_ASSIGN,
            Cap.AUDIT_VIEW,
            Cap.AUDIT_EXPORT,
            Cap.AUDIT_VERIFY,
            Cap.TOKEN_CREATE,
            # The pharmacy's data is the PIC's to bring in and to take away (FHIR).
            Cap.FHIR_IMPORT,
            Cap.FHIR_EXPORT,
        }
    ),
    # Minimum necessary (HIPAA): stock work needs no patient record.
    Role.INVENTORY_SPECIALIST: frozenset(
        _CATALOG_READ
        | _STOCK_WORK
        | _STOCK_CONTROL
        | _ADC_STOCK
        | _RUN_STAFF
        | {Cap.SITE_VIEW, Cap.INVENTORY_SETUP, Cap.CS_VIEW, Cap.CS_COUNT, Cap.IMM_STOCK}
        | {Cap.P340B_VIEW, Cap.P340B_ORDER, Cap.FORMULARY_VIEW}
    ),
    Role.AUDITOR: frozenset(
        _CATALOG_READ
        | _SCREENING_REPORT
        | _RUN_AUDIT
        | {
            Cap.CLAIMS_REPORT,
            Cap.CS_VIEW,
            Cap.CS_SIGNALS,
            Cap.COMPOUNDING_VIEW,
            Cap.LTC_VIEW,
            Cap.ADC_VIEW,
            Cap.ADC_REPORT,
            Cap.IMM_REPORT,
            Cap.CARE_QI_REPORT,
            Cap.POS_REPORT,
            Cap.POS_PSE_LOG,
            Cap.INVENTORY_VIEW,
            Cap.SITE_VIEW,
            Cap.STAFF_VIEW,
            Cap.AUDIT_VIEW,
            Cap.AUDIT_EXPORT,
            Cap.AUDIT_VERIFY,
        }
    ),
    # The system administrator runs the site and its accounts, not patient care.
    Role.ADMIN: frozenset(
        _CATALOG_READ
        | {
            Cap.CATALOG_IMPORT,
            # The plan file holds no PHI: routing (BIN, PCN, switch endpoints) is set-up.
            Cap.CLAIMS_PLANS,
            Cap.SITE_VIEW,
            Cap.SITE_EDIT,
            Cap.STAFF_VIEW,
            Cap.STAFF_EDIT,
            # Letting a person work at another of the chain's pharmacies (SiteAssignment).
            Cap.SITE_ASSIGN,
            Cap.AUDIT_VERIFY,
            Cap.TOKEN_CREATE,
        }
    ),
}

# Steps that a state board lets only a currently registered technician or a currently
# licensed pharmacist take. Other capabilities (reading the audit log, running the site)
# need no practice credential.
CREDENTIALED: frozenset[Cap] = frozenset(
    _CLINICAL_WRITE
    | _RX_INTAKE
    | _RX_PHARMACIST
    | {Cap.POS_COUNSEL, Cap.POS_PSE_SELL, Cap.POS_REFUND}
    | {Cap.CLAIMS_BILL, Cap.CLAIMS_PROCEED}
    | {Cap.STAFF_EDIT, Cap.CATALOG_EDIT, Cap.STOCK_DISPENSE, Cap.INVENTORY_APPROVE}
    | {Cap.CS_WITNESS, Cap.CS_DESTROY, Cap.CS_WASTE, Cap.CS_SIGNOFF, Cap.CS_INVENTORY_SIGN}
    | {Cap.COMPOUNDING_MAKE, Cap.COMPOUNDING_VERIFY, Cap.COMPOUNDING_APPROVE}
    | {Cap.LTC_CYCLE, Cap.PACKAGING_MAKE, Cap.PACKAGING_CHECK, Cap.ADC_RESTOCK, Cap.ADC_RESOLVE}
    | {Cap.IMM_ADMINISTER, Cap.IMM_RECORD, Cap.CARE_MEDREC, Cap.CARE_MEDREC_RESOLVE}
    | {Cap.CARE_COUNSEL, Cap.CARE_INTERVENE, Cap.CARE_POCT}
    | {Cap.INTERCHANGE_APPLY, Cap.REPORTS_REVIEW, Cap.PEOPLE_TRAIN}
)


def has(user: User | None, cap: Cap) -> bool:
    """Whether the user's role grants ``cap`` (credentials not considered)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    try:
        role = Role(user.role)
    except ValueError:
        return False
    return cap in ROLE_CAPABILITIES.get(role, frozenset())


def require(user: User | None, cap: Cap) -> None:
    """Raise :class:`Forbidden` or :class:`CredentialExpired` unless ``user`` may do ``cap``."""
    if not has(user, cap):
        role = getattr(user, "role", None) or "anonymous"
        label = Role(role).label if role in Role.values else role
        raise Forbidden(f"A {label.lower()} may not do this ({cap}).", capability=str(cap))
    assert user is not None
    if cap in CREDENTIALED:
        problem = user.credential_problem()
        if problem:
            raise CredentialExpired(problem, capability=str(cap))


def capabilities_of(role: str) -> frozenset[Cap]:
    try:
        return ROLE_CAPABILITIES[Role(role)]
    except ValueError:
        return frozenset()


__all__ = [
    "CREDENTIALED",
    "PHARMACIST_ROLES",
    "ROLE_CAPABILITIES",
    "TECHNICIAN_ROLES",
    "Cap",
    "capabilities_of",
    "has",
    "require",
]
