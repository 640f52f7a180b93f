"""factory_boy factories for test set-up (they bypass services on purpose; tests of
behaviour call the services)."""

from __future__ import annotations

import datetime as dt

import factory

from rxdesk.core.choices import PHARMACIST_ROLES, TECHNICIAN_ROLES, Role
from rxdesk.core.models import Site, User
from rxdesk.patients.models import Allergy, Patient, Prescriber

PASSWORD = "pharmacy-counter-42"
_FAR = dt.date.today() + dt.timedelta(days=700)


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Site

    name = "Riverside Test Pharmacy"
    state = "IL"
    time_zone = "America/Chicago"
    ncpdp_id = "7654321"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = "Test"
    last_name = factory.Sequence(lambda n: f"Person{n}")
    role = Role.TECHNICIAN
    site = factory.SubFactory(SiteFactory)
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.lazy_attribute
    def technician_registration(self) -> str:
        return "TR-100200" if self.role in TECHNICIAN_ROLES else ""

    @factory.lazy_attribute
    def technician_registration_expires(self) -> dt.date | None:
        return _FAR if self.role in TECHNICIAN_ROLES else None

    @factory.lazy_attribute
    def pharmacist_license(self) -> str:
        return "RPH-051.0099" if self.role in PHARMACIST_ROLES else ""

    @factory.lazy_attribute
    def pharmacist_license_expires(self) -> dt.date | None:
        return _FAR if self.role in PHARMACIST_ROLES else None

    @classmethod
    def _after_postgeneration(cls, instance, create, results=None):  # type: ignore[no-untyped-def]
        if create:
            instance.save()


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    site = factory.SubFactory(SiteFactory)
    first_name = factory.Sequence(lambda n: f"Pat{n}")
    last_name = "Doe"
    date_of_birth = dt.date(1970, 5, 17)
    sex = "F"


class PrescriberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Prescriber

    site = factory.SubFactory(SiteFactory)
    first_name = "Margaret"
    last_name = "Okafor"
    credential = "MD"
    npi = "1234567893"


class AllergyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Allergy

    patient = factory.SubFactory(PatientFactory)
    allergen = "Penicillins"
    allergen_kind = "class"
    severity = "moderate"
