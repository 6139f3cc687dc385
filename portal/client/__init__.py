"""The client's side: the branded link /r/<token>."""

from flask import Blueprint

bp = Blueprint("client", __name__, url_prefix="/r")
