from django.apps import AppConfig


class Program340BConfig(AppConfig):
    name = "rxdesk.program340b"
    label = "program340b"
    verbose_name = "340B"

    def ready(self) -> None:
        from rxdesk.claims.seams import register_claim_marker
        from rxdesk.program340b.marker import mark_claim

        register_claim_marker(mark_claim)
