"""Emulated platforms for the demo and the tests (never in production)."""

from flask import Blueprint

bp = Blueprint("sandbox", __name__, url_prefix="/sandbox")
