"""The client's side: the branded link /r/<token>."""

from flask import Blueprint

from ..extensions import limiter

bp = Blueprint("client", __name__, url_prefix="/r")
# Each page of the link, per address: enough for a person (and the live
# status polling every few seconds).
limiter.limit("60/minute")(bp)
# Guessing: links that do not exist (404), counted per address across every
# page of the link. Past the limit the address waits for all links, real ones
# too, so trying tokens on one page after another gains nothing.
MISSED_LINKS_LIMIT = "20/minute"
limiter.shared_limit(
    MISSED_LINKS_LIMIT,
    scope="client-link-misses",
    deduct_when=lambda response: response.status_code == 404,
)(bp)

from . import views  # noqa: E402,F401
