"""Templates ("permission profiles") and the intake questions they carry.

A template is a reusable list of items plus an optional message and
questions. Requests copy all three when they are created, so editing a
template never changes a request already sent.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from .. import audit
from ..extensions import db
from ..models import AccessRequest, Template
from ..models.base import utcnow
from .requests import RequestError, normalise_items

QUESTION_KINDS = {
    "short_text": _l("Short text"),
    "long_text": _l("Long text"),
    "choice": _l("Single choice"),
    "yes_no": _l("Yes / no"),
}
MAX_QUESTIONS = 20
MAX_LABEL = 300
MAX_CHOICES = 20
MAX_ANSWER = {"short_text": 300, "long_text": 5000}


def normalise_questions(raw: object) -> list[dict]:
    """Check questions; return clean copies with stable ids ("q1", "q2", ...).

    Each is {"id", "label", "kind", "required", "choices"}; rows with an empty
    label are dropped (the blank row of the form).
    """
    if raw is None:
        return []
    if not isinstance(raw, list | tuple):
        raise RequestError([("questions", _("Questions must be a list."))])
    errors: list[tuple[str, str]] = []
    clean: list[dict] = []
    used_ids: set[str] = set()
    for index, question in enumerate(raw):
        where = f"questions[{index}]"
        if not isinstance(question, Mapping):
            errors.append((where, _("Each question needs a text and a kind.")))
            continue
        label = str(question.get("label") or "").strip()
        if not label:
            continue
        kind = str(question.get("kind") or "short_text")
        if len(label) > MAX_LABEL:
            errors.append((f"{where}.label", _("Use at most %(n)d characters.", n=MAX_LABEL)))
        if kind not in QUESTION_KINDS:
            errors.append((f"{where}.kind", _("Choose a kind of answer.")))
        choices: list[str] = []
        if kind == "choice":
            raw_choices = question.get("choices") or []
            if isinstance(raw_choices, str):
                raw_choices = raw_choices.splitlines()
            stripped = (str(c).strip()[:200] for c in raw_choices)
            choices = list(dict.fromkeys(c for c in stripped if c))
            if not 2 <= len(choices) <= MAX_CHOICES:
                errors.append(
                    (
                        f"{where}.choices",
                        _("Give between 2 and %(n)d choices, one per line.", n=MAX_CHOICES),
                    )
                )
        qid = str(question.get("id") or "")
        if not qid or qid in used_ids or len(qid) > 20:
            qid = ""
        clean.append(
            {
                "id": qid,
                "label": label,
                "kind": kind,
                "required": bool(question.get("required")),
                "choices": choices,
            }
        )
        if qid:
            used_ids.add(qid)
    if len(clean) > MAX_QUESTIONS:
        errors.append(("questions", _("Ask at most %(n)d questions.", n=MAX_QUESTIONS)))
    if errors:
        raise RequestError(errors)
    counter = 1
    for question in clean:
        while not question["id"]:
            candidate = f"q{counter}"
            counter += 1
            if candidate not in used_ids:
                question["id"] = candidate
                used_ids.add(candidate)
    return clean


def save_template(
    agency_id: int,
    name: str,
    message: str | None,
    items: list[dict],
    questions: list[dict] | None,
    actor: audit.Actor | None,
    template: Template | None = None,
) -> Template:
    """Create (or update) a template; raises RequestError naming each field."""
    errors: list[tuple[str, str]] = []
    name = (name or "").strip()
    if not name:
        errors.append(("name", _("Give the template a name.")))
    elif len(name) > 200:
        errors.append(("name", _("Use at most 200 characters.")))
    message = (message or "").strip() or None
    if message and len(message) > 5000:
        errors.append(("message", _("Use at most 5,000 characters.")))
    try:
        clean_items = normalise_items(items)
    except RequestError as exc:
        errors.extend((e["field"], e["message"]) for e in exc.errors)
        clean_items = []
    try:
        clean_questions = normalise_questions(questions)
    except RequestError as exc:
        errors.extend((e["field"], e["message"]) for e in exc.errors)
        clean_questions = []
    if errors:
        raise RequestError(errors)
    created = template is None
    if template is None:
        template = Template(agency_id=agency_id)
        db.session.add(template)
    template.name = name
    template.message = message
    template.items = copy.deepcopy(clean_items)
    template.questions = copy.deepcopy(clean_questions)
    db.session.flush()
    audit.record(
        "template.created" if created else "template.updated",
        agency_id=agency_id,
        actor=actor,
        subject=("template", template.id),
        details={"name": name, "items": clean_items, "questions": len(clean_questions)},
    )
    db.session.commit()
    return template


def duplicate_template(template: Template, actor: audit.Actor | None) -> Template:
    copy_ = Template(
        agency_id=template.agency_id,
        name=(_("Copy of %(name)s", name=template.name))[:200],
        message=template.message,
        items=copy.deepcopy(template.items),
        questions=copy.deepcopy(template.questions),
    )
    db.session.add(copy_)
    db.session.flush()
    audit.record(
        "template.duplicated",
        agency_id=template.agency_id,
        actor=actor,
        subject=("template", copy_.id),
        details={"from": template.id},
    )
    db.session.commit()
    return copy_


def set_archived(template: Template, archived: bool, actor: audit.Actor | None) -> bool:
    if archived == (template.archived_at is not None):
        return False
    template.archived_at = utcnow() if archived else None
    audit.record(
        "template.archived" if archived else "template.restored",
        agency_id=template.agency_id,
        actor=actor,
        subject=("template", template.id),
    )
    db.session.commit()
    return True


# ---------------------------------------------------------------- answers


def validate_answers(questions: list[dict], form: Mapping) -> tuple[dict[str, str], dict[str, str]]:
    """Read `answer-<id>` fields; return (answers, errors by question id)."""
    answers: dict[str, str] = {}
    errors: dict[str, str] = {}
    for question in questions or []:
        qid = question["id"]
        value = str(form.get(f"answer-{qid}") or "").strip()
        kind = question.get("kind")
        if not value:
            if question.get("required"):
                errors[qid] = _("Please answer this question.")
            continue
        if kind in MAX_ANSWER and len(value) > MAX_ANSWER[kind]:
            errors[qid] = _("Use at most %(n)d characters.", n=MAX_ANSWER[kind])
        elif kind == "choice" and value not in question.get("choices", []):
            errors[qid] = _("Choose one of the options.")
        elif kind == "yes_no" and value not in ("yes", "no"):
            errors[qid] = _("Choose yes or no.")
        else:
            answers[qid] = value
    return answers, errors


def questions_answered(access_request: AccessRequest) -> bool:
    """Every required question has an answer."""
    answers = access_request.answers or {}
    return all(answers.get(q["id"]) for q in access_request.questions or [] if q.get("required"))


def save_answers(
    access_request: AccessRequest, answers: dict[str, str], actor: audit.Actor | None
) -> None:
    access_request.answers = dict(answers)
    audit.record(
        "access_request.answered",
        agency_id=access_request.agency_id,
        actor=actor,
        subject=("access_request", access_request.id),
        details={"questions": sorted(answers)},
    )
    db.session.commit()


def answer_label(question: dict, value: str | None) -> str:
    if value is None or value == "":
        return ""
    if question.get("kind") == "yes_no":
        return _("Yes") if value == "yes" else _("No")
    return value
