"""The client's side: the branded link /r/<token>."""

from flask import Blueprint

from ..extensions import limiter

bp = Blueprint("client", __name__, url_prefix="/r")
# Every page of the link, per address: enough for a person (and the live
# status polling), far too few to guess tokens.
limiter.limit("60/minute")(bp)

from . import views  # noqa: E402,F401
