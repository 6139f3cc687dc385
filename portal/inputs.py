"""Hostile input: the rules every form, query string, URL segment and API body
goes through, in one place.

- Text: no control characters anywhere (NUL, ESC, DEL, C1 controls, lone
  surrogates): PostgreSQL refuses NUL in text, and none of them has a use in
  typed text. Line breaks only in multi-line fields (`MULTILINE_FIELDS` for
  forms, `multiline` for the API's models): a line break in a one-line value
  ends up in an e-mail header or a redirect. `guard()` checks every request's
  query string, URL segments and form fields before any view runs; the API's
  models call `text_problem()` for every string of a JSON body.
- Numbers: ids within the database's integer range (the `int` URL converter,
  `parse_id`, `get_for_agency`), page numbers and other numbers within bounds
  (`int_arg`, `page_arg`), dates that arithmetic cannot overflow (`date_arg`).
- URLs: web addresses and same-site paths without spaces or control
  characters (`web_address`, `local_path`), checked when saved and again when
  used.
- Values written where a line break means something else (e-mail headers):
  `one_line()` on the way out, so rows saved before these rules cannot break
  anything.
- Hosts: compared lower-case, without the port or a trailing dot, in their
  IDNA form (`normalise_host`).
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from fnmatch import fnmatchcase
from urllib.parse import urlsplit

from flask import Flask, render_template, request
from flask_babel import gettext as _
from werkzeug.routing import IntegerConverter

from .errors import _problem, wants_json

MAX_ID = 2**31 - 1  # ids are PostgreSQL integers
MAX_PAGE = 100_000
MAX_URL = 2000
# Dates a filter may name: one day either side is still a date.
MIN_DATE = date.min + timedelta(days=1)
MAX_DATE = date.max - timedelta(days=1)

# Never in text: C0 controls but tab, line feed and carriage return; DEL and
# the C1 controls; lone surrogates (they cannot be encoded, so cannot be stored).
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
LINE_BREAK = re.compile("[\r\n\u2028\u2029]")
# Stripped from a value written on one line (an e-mail header).
NOT_ON_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029]+")
# What the API's JSON schema says a string may hold (ECMA-262 regular expressions).
# No surrogate range: a schema string is Unicode scalar values (a lone surrogate is
# not one), and a pattern naming \ud800-\udfff is no regex to Rust-based validators
# (jsonschema-rs, so Schemathesis): they would ignore the rule altogether.
ONE_LINE_PATTERN = r"^[^\u0000-\u001f\u007f-\u009f\u2028\u2029]*$"
MULTILINE_PATTERN = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$"

# Form fields whose text may span lines (textareas), by name; glob patterns.
# A new <textarea> gets its name here (tests/test_hostile_input.py checks).
MULTILINE_FIELDS = (
    "message",  # request and template message
    "instructions",  # custom tool steps
    "q-*-choices",  # a template question's choices, one per line
    "answer-*",  # the client's answers to intake questions
)
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


# ------------------------------------------------------------------- text


def text_problem(value: str, *, multiline: bool = False) -> str | None:
    """What is wrong with `value` as typed text, in words for the person who typed it."""
    if CONTROL.search(value):
        return _(
            "This contains invisible control characters (such as a NUL byte). "
            "Remove them, or type the text again instead of pasting it."
        )
    if not multiline and LINE_BREAK.search(value):
        return _("This must fit on one line: remove the line breaks.")
    return None


def is_multiline_field(name: str) -> bool:
    return any(fnmatchcase(name, pattern) for pattern in MULTILINE_FIELDS)


def one_line(value: str | None) -> str:
    """`value` with control characters and line breaks replaced by spaces."""
    if not value:
        return ""
    return " ".join(NOT_ON_ONE_LINE.sub(" ", str(value)).split())


def _first_problem() -> tuple[str, str, str] | None:
    """(where, field, message) of the first unacceptable value of this request."""
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str) and CONTROL.search(value):
            return "path", name, text_problem(value, multiline=True) or ""
    for name, value in request.args.items(multi=True):
        problem = text_problem(name) or text_problem(value, multiline=True)
        if problem:
            return "query", name, problem
    if request.mimetype in FORM_TYPES:
        for name, value in request.form.items(multi=True):
            problem = text_problem(name) or text_problem(value, multiline=is_multiline_field(name))
            if problem:
                return "form", name, problem
    return None


def guard():
    """Refuse the request if a URL segment, query parameter or form field is unacceptable.

    Runs before every view (and after the CSRF check): a 422 page, or a 422
    problem for the API, names what to fix; nothing is saved.
    """
    if (request.endpoint or "").startswith("sandbox."):
        return None  # the emulated platforms answer as the real ones would
    found = _first_problem()
    if found is None:
        return None
    where, name, message = found
    title = _("Characters that cannot be used")
    if wants_json():
        detail = _("Some fields are not right: fix each one listed in errors and send again.")
        field = "path" if where == "path" else CONTROL.sub("?", LINE_BREAK.sub("?", name))[:100]
        return _problem(422, title, detail, [{"field": field, "message": message}])
    if where == "form":
        detail = _(
            "What you sent contains invisible control characters, or line breaks where one "
            "line is expected. Go back, remove them (or type the text again instead of "
            "pasting it) and send the form again."
        )
    else:
        detail = _(
            "The address contains invisible control characters. Check the link, or go back "
            "and try again."
        )
    return render_template("errors/error.html", code=422, title=title, detail=detail), 422


# ---------------------------------------------------------------- numbers


class IdConverter(IntegerConverter):
    """`<int:...>` in every route: an id beyond the database's range is a 404, not a 500."""

    def __init__(self, map, fixed_digits=0, min=None, max=MAX_ID, signed=False):
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def parse_id(value: object) -> int | None:
    """An id (1 to MAX_ID) from a number or a string of digits; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = value.strip()
        if not value.isascii() or not value.isdigit() or len(value) > 10:
            return None
        value = int(value)
    if isinstance(value, int) and 1 <= value <= MAX_ID:
        return value
    return None


def int_arg(
    name: str,
    default: int | None = None,
    *,
    low: int = 0,
    high: int = MAX_ID,
    clamp: bool = False,
) -> int | None:
    """A whole number from the query string: `default` if missing or malformed; one
    out of `low`..`high` is brought within them (`clamp`) or is `default`."""
    raw = (request.args.get(name) or "").strip()
    digits = raw[1:] if raw[:1] in ("+", "-") else raw
    if not digits.isascii() or not digits.isdigit():
        return default
    # Beyond 18 digits the value only needs to be out of range (int() has limits too).
    value = int(digits) if len(digits) <= 18 else 10**18
    value = -value if raw.startswith("-") else value
    if low <= value <= high:
        return value
    return min(max(value, low), high) if clamp else default


def id_arg(name: str) -> int | None:
    """An id from the query string or the form; None if missing or not a possible id."""
    return parse_id(request.values.get(name))


def page_arg(name: str = "page") -> int:
    """A page number from the query string, 1 to MAX_PAGE (a larger one is past the
    last page of any list); 1 if missing or malformed."""
    return int_arg(name, 1, low=1, high=MAX_PAGE, clamp=True)


def date_arg(name: str) -> date | None:
    """An ISO date from the query string that date arithmetic cannot overflow; else None."""
    raw = (request.args.get(name) or "").strip()
    if not raw or len(raw) > 10:
        return None
    try:
        value = date.fromisoformat(raw)
    except ValueError:
        return None
    return value if MIN_DATE <= value <= MAX_DATE else None


# ------------------------------------------------------------------- URLs


def web_address(value: str | None, *, https_only: bool = False) -> str | None:
    """`value` if it is a full http(s) address that can be put in a Location header."""
    value = (value or "").strip()
    if not value or len(value) > MAX_URL or CONTROL.search(value) or re.search(r"\s", value):
        return None
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 (raises ValueError for a port out of range)
    except ValueError:
        return None
    schemes = ("https",) if https_only else ("https", "http")
    if parts.scheme.lower() not in schemes or not parts.hostname:
        return None
    return value


def local_path(target: str | None) -> str | None:
    """`target` if it is a path on this site (a safe place to send someone back to)."""
    if not target or len(target) > MAX_URL or not target.startswith("/"):
        return None
    if target.startswith("//") or "\\" in target or CONTROL.search(target):
        return None
    if re.search(r"\s", target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


# ------------------------------------------------------------------ hosts


def normalise_host(host: str | None) -> str:
    """A Host header or domain as compared: lower-case, no port, no trailing dot, IDNA."""
    host = (host or "").strip().lower()
    if host.startswith("["):  # an IPv6 literal, with or without a port
        return host.split("]")[0] + "]"
    host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    host = host.rstrip(".")  # "example.com." is example.com
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return host
    return host


# -------------------------------------------------------------------- app


def init_url_map(app: Flask) -> None:
    """Before any route is added: every `<int:...>` is bounded."""
    app.url_map.converters["int"] = IdConverter


def init_app(app: Flask) -> None:
    app.before_request(guard)
