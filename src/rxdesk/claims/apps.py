from django.apps import AppConfig


class ClaimsConfig(AppConfig):
    name = "rxdesk.claims"
    label = "claims"
    verbose_name = "Claims"

    def ready(self) -> None:
        # The fill workflow bills through its seams: data verification waits for the first
        # payer's answer (or a cash / go-on decision), final verification checks the NDC
        # billed, return to stock and cancellation reverse; the counter charges the
        # patient pay of the last payer (rxdesk.claims.services).
        from rxdesk.claims.services import (
            fill_check_seam,
            fill_reverse_seam,
            fill_seam,
            patient_pays,
        )
        from rxdesk.pos.pricing import register_patient_pay
        from rxdesk.rx import seams

        seams.register_claim(fill_seam, fill_reverse_seam, fill_check_seam)
        register_patient_pay(patient_pays)
