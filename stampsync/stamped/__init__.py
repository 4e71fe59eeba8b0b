"""Stamped.io (reviews and loyalty): the client, its API sections and models."""

from .client import StampedClient
from .models import Customer

__all__ = ["Customer", "StampedClient"]
