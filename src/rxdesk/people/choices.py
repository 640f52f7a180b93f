"""Choices of people and training."""

from django.db import models


class SkillCategory(models.TextChoices):
    STERILE = "sterile", "Sterile compounding"
    NONSTERILE = "nonsterile", "Non-sterile compounding"
    HAZARDOUS = "hazardous", "Hazardous drugs"
    AUTOMATION = "automation", "Automation equipment"
    CONTROLLED = "controlled", "Controlled substances"
    POINT_OF_SALE = "pos", "Point of sale"
    IMMUNIZATION = "immunization", "Immunization"
    OTHER = "other", "Other"


class PlanStatus(models.TextChoices):
    OPEN = "open", "In progress"
    COMPLETED = "completed", "Completed"


class AssessmentMethod(models.TextChoices):
    OBSERVATION = "observation", "Direct observation"
    WRITTEN = "written", "Written test"
    DEMONSTRATION = "demonstration", "Demonstration"
    MEDIA_FILL = "media_fill", "Media fill"
    GLOVED_FINGERTIP = "gloved_fingertip", "Gloved fingertip sampling"
    SIMULATION = "simulation", "Simulation"


class AssessmentResult(models.TextChoices):
    PASS = "pass", "Pass"
    FAIL = "fail", "Fail"
    RETRAIN = "retrain", "Needs retraining"


class CeStatus(models.TextChoices):
    ACTIVE = "active", "On file"
    ENTERED_IN_ERROR = "entered_in_error", "Entered in error"
