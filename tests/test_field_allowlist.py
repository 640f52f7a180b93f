"""Minimum necessary (HIPAA 45 CFR 164.502(b)): which fields each role receives.

``FIELDS`` lists, for every patient-bearing API response, the JSON keys (dotted, ``[]`` for
list items) each of four roles receives: the auditor, the inventory specialist, the
technician and the pharmacist-in-charge. A key added to a response later fails
``test_each_role_receives_exactly_its_fields`` until it is allow-listed here deliberately.
``test_auditor_and_inventory_get_no_patient_keys_elsewhere`` walks every other read the
auditor and inventory specialist may make and refuses patient keys in them.

Keys only: some responses keep a key but mask its value for roles that may not see patients
(cabinet moves' ``patient`` for the inventory specialist); the masking has its own tests
beside the cabinets."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from rxdesk.core.choices import Role
from tests.factories import SiteFactory, UserFactory
from tests.test_permission_matrix import API_MATRIX

AUD, INV, T, PIC = (
    Role.AUDITOR,
    Role.INVENTORY_SPECIALIST,
    Role.TECHNICIAN,
    Role.PHARMACIST_IN_CHARGE,
)
ROLES = (AUD, INV, T, PIC)
P = "/api/v1"

FIELDS: dict[str, dict[tuple[Role, ...], str]] = {
    "/audit/events": {
        (AUD, PIC): """
            [].action [].actor_kind [].actor_name [].client_addr [].data [].hash [].object_id
            [].object_type [].occurred_at [].patient_id [].reason [].request_id [].seq""",
    },
    "/care/inquiries/{inquiry_id}": {
        (T, PIC): """
            callback_due channel closed_at closed_by contact_name contact_phone due_words
            entries entries[].at entries[].by entries[].id entries[].kind entries[].kind_label
            entries[].text escalated_to escalated_to_id id incoming needs_pharmacist_to_close
            opened_at opened_by overdue party patient_id patient_name prescriber_id
            prescriber_name prescription_id resolution rx_number status status_label summary
            topic topic_label""",
    },
    "/care/interventions/{intervention_id}": {
        (T, PIC): """
            action action_detail action_label closed_at closed_by fill_id id minutes outcome
            outcome_detail outcome_label patient_id patient_name prescriber_contacted_at
            prescriber_id prescription_id problem problem_detail problem_label recorded_at
            recorded_by status""",
    },
    "/care/medrecs/{medrec_id}": {
        (T, PIC): """
            comparison completed_at completed_by discrepancies id interviewed items patient_id
            patient_name profile reason started_at started_by status status_label submitted_at
            submitted_by summary""",
    },
    "/care/poct/{result_id}": {
        (T, PIC): """
            collected_at communicated_at follow_up id interpretation interpretation_label
            kit_expiry kit_lot kit_name loinc patient_id patient_name performed_by recorded_at
            reference_range referral_reason referral_to referred result result_label reviewed_at
            reviewed_by specimen status status_label status_reason test_code test_name unit
            value""",
    },
    "/care/quality/ade-reports/{report_id}": {
        (T, PIC): """
            adverse_event age age_unit also_reported_to death_date description event_date
            event_id fda_reference health_professional history id missing occupation outcomes
            patient_id patient_identifier product_problem products products[].dechallenge
            products[].dose products[].expiry products[].frequency products[].id
            products[].indication products[].lot_number products[].manufacturer products[].name
            products[].ndc11 products[].prescription_id products[].rechallenge products[].role
            products[].route products[].strength products[].therapy_end products[].therapy_start
            report_date reporter_address reporter_email reporter_name reporter_phone sex status
            submitted_at tests_labs weight_kg""",
    },
    "/care/quality/events/{event_id}": {
        (T, PIC): """
            ade_report_id category close_blockers closed_at closing_note description error_type
            id kind kind_label may_close medication_error_id occurred_at patient patient_id rca
            rca_id reported_at reported_by status step title""",
    },
    "/care/quality/medication-errors/{error_id}": {
        (T, PIC): """
            category caught_at_step description discovered_at discovered_by error_type event_id
            fill_id follow_up follow_up_done_at follow_up_due id immediate_action occurred_at
            patient_id patient_notified prescriber_notified prescription_id rx_number step""",
    },
    "/claims/prior-auths/{pa_id}": {
        (T, PIC): """
            approved_from approved_to claim_id closed_at denied_reason documents drug events
            events[].actor events[].at events[].note events[].status_from events[].status_to
            follow_up follow_up_on help_desk_phone id note number opened_at opened_by patient_id
            patient_name plan_bin plan_id plan_name prescription_id rx_number status
            status_label updated_at""",
    },
    "/compounding/records/{record_id}": {
        (AUD, T, PIC): """
            beyond_use bud_rule bud_shows_time calculations calculations[].expression
            calculations[].label calculations[].result category checks components
            components[].billing_unit components[].expiry components[].first_opened_at
            components[].id components[].in_use_until components[].lot_number
            components[].manufacturer components[].measured_at components[].measured_by
            components[].measured_quantity components[].measured_unit components[].name
            components[].ndc components[].opened_in_iso5 components[].position
            components[].required_quantity components[].source_container
            components[].stock_quantity components[].unit compounded_by control deviations
            formula formula_code formula_id formula_version hazardous hd_requirements id
            label_printed_at limited_by_component lot_number patient_id physical_description
            prepared_at prescription_id quantity reject_reason room scale status status_label
            storage unit verified_at verified_by""",
    },
    "/fills": {
        (T, PIC): """
            [].drug [].fill_number [].id [].minutes_waiting [].over_target [].patient
            [].patient.id [].patient.name [].prescription_id [].priority [].promised_at
            [].quantity [].requested_at [].rx_number [].status""",
    },
    "/fills/return-to-stock": {
        (T, PIC): """
            [].bin [].days_waiting [].drug [].fill_number [].id [].patient [].patient.id
            [].patient.name [].prescription_id [].quantity [].ready_at [].rx_number""",
    },
    "/fills/{fill_id}": {
        (T, PIC): """
            bin days_supply device drug fill_number fillable_on history history[].actor_name
            history[].at history[].from_status history[].reason history[].step
            history[].step_label history[].to_status hold_note hold_reason id labels_printed
            lots lots[].expiry lots[].lot_number lots[].quantity lots[].returned package
            package.description package.ndc10 package.ndc11 partial_reason patient patient.id
            patient.name prescription_id priority promised_at quantity ready_at requested_at
            rx_number scan_override_reason scanned_code status status_label steps
            steps.data_verified steps.data_verified.at steps.data_verified.by steps.entered
            steps.entered.at steps.entered.by steps.filled steps.filled.at steps.filled.by
            steps.final_verified steps.final_verified.at steps.final_verified.by steps.returned
            steps.returned.at steps.returned.by steps.sold steps.sold.at steps.sold.by""",
    },
    "/immunizations": {
        (T, PIC): """
            [].administered_at [].body_site [].completion [].cvx [].dose_ml [].dose_number
            [].eligibility [].funding [].id [].information_source [].lot_number [].patient_id
            [].refusal_reason [].registry_status [].route [].status [].vaccine""",
    },
    "/immunizations/registry/messages/{message_id}": {
        (AUD, T, PIC): """
            ack_code ack_text acked_at action administered_at attempts batch_id control_id
            created_at due_at errors id immunization_id last_error message next_attempt_at
            overdue patient status status_label vaccine""",
    },
    "/immunizations/{immunization_id}": {
        (T, PIC): """
            administered_at administered_by body_site completion consent_by consent_name cvx
            dose_ml dose_number eligibility expiry findings funding historical_source id
            information_source lot_number manufacturer ndc11 note patient_id protocol
            refusal_reason registry_status reporting_due_at route screening
            screening.allergy_gelatin screening.allergy_latex screening.allergy_other_vaccine
            screening.allergy_vaccine screening.antivirals screening.chronic_condition
            screening.guillain_barre screening.immune_condition screening.immune_treatment
            screening.live_vaccine_recent screening.pregnant screening.seizure_brain
            screening.serious_reaction screening.sick_today screening.transfusion screening_note
            screening_reviewed_by_id status status_reason stock_move_id
            supervising_pharmacist_id vaccine vis vis[].document_id vis[].edition_date
            vis[].name vis[].presented_on""",
    },
    "/institutional/cabinet-discrepancies/{discrepancy_id}": {
        (AUD, INV, T, PIC): """
            age_hours bucket cabinet cabinet_id cabinet_user cause cause_label controlled
            difference drug due_at expected explanation follow_up found id kind kind_label late
            moves moves[].balance_after moves[].cabinet_user moves[].event moves[].event_label
            moves[].id moves[].lot moves[].occurred_at moves[].opened_this moves[].override
            moves[].patient moves[].quantity moves[].witness_name ndc nurse_name opened_at
            overdue pocket pocket_id resolved_at resolved_by status witness""",
    },
    "/institutional/cabinet-feeds/{feed_id}": {
        (AUD, INV, T, PIC): """
            accepted discrepancies id kind moves moves[].balance_after moves[].cabinet
            moves[].cabinet_user moves[].drug moves[].event moves[].external_id moves[].id
            moves[].lot moves[].ndc moves[].occurred_at moves[].override moves[].patient
            moves[].pocket moves[].quantity moves[].witness name notes received_at received_by
            rows source source_label status status_label""",
    },
    "/institutional/med-paks/{pak_id}": {
        (AUD, T, PIC): """
            bud bud_rule checked_at checked_by consent_by container_class days design id items
            items[].description items[].drug items[].expiry items[].fill_id items[].lot
            items[].ndc items[].per_slot items[].per_slot.bedtime items[].per_slot.morning
            items[].rx_number items[].total_quantity note number patient patient_id prepared_by
            prepared_on slots start_on status status_label""",
    },
    "/institutional/residents/{resident_id}": {
        (T, PIC): """
            admitted_on bed census census[].effective_at census[].expected_return
            census[].from_room census[].from_unit census[].id census[].kind census[].kind_label
            census[].note census[].recorded_by census[].to_room census[].to_unit date_of_birth
            discharged_on facility facility_id id name orders patient_id room status
            status_label unit""",
    },
    "/institutional/residents/{resident_id}/mar": {
        (T, PIC): """
            allergies date_of_birth days facility month name pharmacy prn_rows resident_id room
            rows unit""",
    },
    "/patients/{patient_id}": {
        (T, PIC): """
            address_line1 address_line2 allergies allergy_status city conditions contact_method
            coverages created_at date_of_birth easy_open_caps email first_name id identifiers
            lactation_status large_print last_name measurements middle_name phone_home
            phone_mobile phone_work possible_duplicate postal_code preferred_language
            preferred_name pregnancy_status privacy_notice privacy_notice_on refill_reminders
            sex state status suffix updated_at""",
    },
    "/patients/{patient_id}/profile": {
        (T, PIC): """
            active active[].date_written active[].days_supply active[].directions_en
            active[].drug_description active[].expires_on active[].fills
            active[].fills[].days_supply active[].fills[].dispensed_on
            active[].fills[].fillable_on active[].fills[].id active[].fills[].number
            active[].fills[].quantity active[].fills[].requested_at active[].fills[].source
            active[].fills[].status active[].fills[].too_soon_message active[].id
            active[].last_filled_on active[].next_fill_on active[].number active[].quantity
            active[].refills_remaining active[].state expired inactive on_hold patient
            patient.date_of_birth patient.id patient.name transferred""",
    },
    "/pos/sales/{sale_id}": {
        (T, PIC): """
            change_given completed_at completed_by drawer_id fsa_eligible_total id lines paid
            patient pickup receipt_number refunded refunds started_at started_by status subtotal
            tax tenders total void_reason""",
    },
    "/pos/will-call/patients/{patient_id}": {
        (T, PIC): """
            household id_required in_progress patient patient.id patient.name
            privacy_notice_on_file ready ready[].bin ready[].code ready[].drug ready[].fill_id
            ready[].on_delivery ready[].past_return_window ready[].price ready[].quantity
            ready[].ready_at ready[].refrigerated ready[].schedule refills_due""",
    },
    "/prescriptions/{prescription_id}": {
        (T, PIC): """
            auto_refill can_fill can_fill_reason date_written daw days_supply
            days_supply_warning diagnosis_code directions directions_en directions_es
            directions_flags do_not_fill_before drug_description emergency_oral entered_at
            entered_by expires_on fills fills[].days_supply fills[].dispensed_on
            fills[].fillable_on fills[].id fills[].number fills[].quantity fills[].requested_at
            fills[].source fills[].status fills[].too_soon_message id images ndc needs_review
            next_fill_on notes number origin origin.code origin.label patient
            patient.date_of_birth patient.id patient.name prescriber prescriber.dea_number
            prescriber.id prescriber.name prescriber.npi product product.dosage_form product.id
            product.name product.schedule product.strength quantity quantity_remaining
            quantity_unit refills_authorized refills_remaining schedule state state_label status
            transfers""",
    },
    "/sync/cycles/{cycle_id}": {
        (T, PIC): """
            alignment calls enrollment_id fills fills[].action fills[].days_supply
            fills[].due_date fills[].fill_id fills[].fill_status fills[].prescription_id
            fills[].quantity fills[].queue_message fills[].rx_number fills[].short_fill
            fills[].target_date fills[].warning id patient_id patient_name status status_label
            sync_date""",
    },
    "/sync/enrollments/{enrollment_id}": {
        (T, PIC): """
            active anchor_date consent_note cycle_ids end_reason ended_at enrolled_at
            enrolled_by id members members[].drug members[].exclusion members[].included
            members[].note members[].prescription_id members[].rx_number patient_id patient_name
            sync_day""",
    },
}

# Leaf keys that carry, or point at, a patient.
PATIENT_KEYS = re.compile(
    r"(^|\.)(patient|patient_id|patient_name|date_of_birth|member_id|allergies|conditions|ssn)$"
)


def keys_of(value: Any, prefix: str = "") -> set[str]:
    """Every key of a JSON value, dotted; list items as ``[]``."""
    out: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            path = f"{prefix}.{key}" if prefix else key
            out |= {path} | keys_of(inner, path)
    elif isinstance(value, list):
        for item in value:
            out |= keys_of(item, f"{prefix}[]" if prefix else "[]")
    return out


def _read(role: Role, op: tuple[str, str]) -> set[str] | None:
    """The keys ``role`` receives from ``op`` (built at a fresh site), or None if not JSON."""
    _allowed, _status, setup = API_MATRIX[op]
    site = SiteFactory()
    user = UserFactory(site=site, role=role, username=f"fields-{role.value}")
    path, _body = setup(site, user)
    client = Client()
    client.force_login(user)
    response = client.get(path)
    assert response.status_code == 200, (op, role, response.content[:300])
    if not response["Content-Type"].startswith("application/json"):
        return None
    return keys_of(response.json())


CASES = [
    pytest.param(path, role, id=f"{path} as {role.value}")
    for path, groups in FIELDS.items()
    for roles in groups
    for role in roles
]


def test_the_table_names_real_reads_and_roles_that_may_make_them():
    for path, groups in FIELDS.items():
        allowed = API_MATRIX[("GET", path)][0]
        listed = [role for roles in groups for role in roles]
        assert len(listed) == len(set(listed)), path
        # Every one of the four roles allowed to read it has its row: none is forgotten.
        assert set(listed) == allowed & set(ROLES), path


@pytest.mark.slow
@pytest.mark.parametrize(("path", "role"), CASES)
def test_each_role_receives_exactly_its_fields(db, path, role):
    expected = next(set(k.split()) for roles, k in FIELDS[path].items() if role in roles)

    assert _read(role, ("GET", path)) == expected


OTHER_READS = [
    pytest.param(op, role, id=f"{op[1]} as {role.value}")
    for op, (allowed, _status, _setup) in sorted(API_MATRIX.items())
    if op[0] == "GET" and op[1] not in FIELDS
    for role in (AUD, INV)
    if role in allowed
]


@pytest.mark.slow
@pytest.mark.parametrize(("op", "role"), OTHER_READS)
def test_auditor_and_inventory_get_no_patient_keys_elsewhere(db, op, role):
    keys = _read(role, op) or set()

    assert sorted(k for k in keys if PATIENT_KEYS.search(k)) == []
