"""Stamps (stamps.co.id, loyalty and CRM): the client, its API sections and models."""

from .client import StampsClient
from .models import AddStampsResult, Award, StampsCustomer

__all__ = ["AddStampsResult", "Award", "StampsClient", "StampsCustomer"]
