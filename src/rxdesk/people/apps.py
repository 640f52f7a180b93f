from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "rxdesk.people"
    label = "people"
    verbose_name = "People and training"
