"""Code sets of the point of sale."""

from django.db import models


class SaleStatus(models.TextChoices):
    OPEN = "open", "Open"
    AWAITING_COUNSEL = "counsel", "Waiting for the pharmacist to counsel"
    COMPLETED = "completed", "Completed"
    VOIDED = "voided", "Voided"


class LineKind(models.TextChoices):
    RX = "rx", "Prescription"
    OTC = "otc", "Over the counter"
    PSE = "pse", "Behind the counter (pseudoephedrine/ephedrine)"


class TenderKind(models.TextChoices):
    CASH = "cash", "Cash"
    CARD = "card", "Credit/debit card"
    FSA_HSA = "fsa_hsa", "FSA/HSA card"
    HOUSE = "house", "House charge account"
    CHECK = "check", "Check"


class PickupPerson(models.TextChoices):
    PATIENT = "patient", "The patient"
    CAREGIVER = "caregiver", "Caregiver or family member"
    OTHER = "other", "Someone else the patient sent"


class Counseling(models.TextChoices):
    ACCEPTED = "accepted", "Offered and accepted"
    DECLINED = "declined", "Offered and declined"


class IdType(models.TextChoices):
    DRIVERS_LICENSE = "drivers_license", "Driver's license"
    STATE_ID = "state_id", "State ID card"
    PASSPORT = "passport", "Passport"
    MILITARY_ID = "military_id", "Military ID"
    TRIBAL_ID = "tribal_id", "Tribal ID"


class SecondIdentifier(models.TextChoices):
    """What a pickup is checked by besides the date of birth."""

    ADDRESS = "address", "Street address"
    PHONE = "phone", "Phone number"
    PHOTO_ID = "photo_id", "Photo ID"
    RX_NUMBER = "rx_number", "Prescription number"


class HouseEntryKind(models.TextChoices):
    CHARGE = "charge", "Charge"
    PAYMENT = "payment", "Payment"
    CREDIT = "credit", "Refund credit"


class DrawerStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Waiting for a driver"
    OUT = "out", "Out for delivery"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Not delivered (came back)"


class DeliveryMethod(models.TextChoices):
    COURIER = "courier", "Pharmacy driver"
    MAIL = "mail", "Mail / parcel carrier"
