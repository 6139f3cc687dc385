"""The client's pages under /r/<token>.

Every page is a full page on reload, back or without JavaScript, and one
block of the same template for htmx (`portal.web.render`). A page loads the
request with its agency, client and grants in two queries. Platform calls
(preflight, assets, grants) happen outside any database transaction.
"""

from __future__ import annotations

from flask import (
    Response,
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import defer, joinedload, selectinload

from .. import audit, crypto, i18n, oauth, observability, platforms
from ..extensions import db
from ..inputs import web_address
from ..models import AccessRequest, Agency, Grant
from ..platforms.base import Asset, Connector, PlatformError
from ..platforms.manual.custom import use_agency
from ..services import branding
from ..services import requests as service
from ..services import templates as intake
from ..services.connections import end_transaction, get_connection, is_usable
from ..web import is_htmx, render
from . import bp, flow

STATUS_TARGET = "grant-status"
# Pages that carry the live status component (a `status` block).
STATUS_TEMPLATES = frozenset({"client/platform.html", "client/summary.html"})
LOGO_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp", "image/svg+xml"}


# ------------------------------------------------------------------ helpers


class Closed(Exception):
    def __init__(self, access_request: AccessRequest):
        self.access_request = access_request


def load(token: str) -> AccessRequest:
    """The open request behind the link: 404 if unknown, 410 if closed."""
    access_request = service.find_by_token(token)
    if access_request is None or not branding.host_serves(
        access_request.agency_id, access_request.agency.custom_domain
    ):
        # On an agency's custom domain, only that agency's links exist.
        abort(404)
    observability.note_agency(access_request.agency_id)
    service.expire_if_due(access_request)
    if not service.is_open(access_request):
        raise Closed(access_request)
    g.client_token = token
    # The agency's own "other tools" are the ones this link may ask for.
    use_agency(access_request.agency_id)
    # Whichever page the client lands on first, the agency learns it was opened.
    service.mark_opened(access_request)
    _remember_browser_language(access_request)
    return access_request


def locale_for(access_request: AccessRequest) -> str:
    """The language picked with the switcher, else the one the agency chose,
    else the browser's, else the agency's default."""
    chosen = session.get("locale")
    if chosen in current_app.config["LANGUAGES"]:
        return chosen
    return (
        i18n.supported(access_request.locale)
        or i18n.browser_locale()
        or i18n.supported(access_request.agency.default_locale)
        or "en"
    )


def _remember_browser_language(access_request: AccessRequest) -> None:
    """A request left to the client's browser: keep the language the client
    reads it in, so the e-mails and the PDF they get later are in it too."""
    if access_request.locale:
        return
    seen = locale_for(access_request)
    client = access_request.client
    if client is not None and client.locale != seen:
        client.locale = seen
        db.session.commit()


def page(
    access_request: AccessRequest,
    template: str,
    step: str,
    block: str = "step",
    status: int = 200,
    **context,
) -> tuple[str, int]:
    """Render a client page (or its block for htmx) in the client's language."""
    token = g.client_token
    polling = request.htmx.target == STATUS_TARGET
    if block == "step" and polling and template in STATUS_TEMPLATES:
        block = "status"  # the live status component polling this same URL
    with force_locale(locale_for(access_request)):
        body = render(
            template,
            block,
            ar=access_request,
            agency=access_request.agency,
            token=token,
            flow=flow,
            progress=flow.progress(access_request, token, step),
            brand=flow.brand_colours(access_request.agency.primary_color),
            fragment=is_htmx(),
            status_target=STATUS_TARGET,
            polling_status=block == "status",
            platform_name=_platform_name,
            **context,
        )
    return body, status


def _platform_name(platform_id: str) -> str:
    try:
        return platforms.get(platform_id).name
    except KeyError:
        return platform_id


def connector_or_404(access_request: AccessRequest, platform: str) -> Connector:
    if platform not in access_request.platforms:
        abort(404)
    try:
        return platforms.get(platform)
    except KeyError:
        abort(404)


def grant_or_404(access_request: AccessRequest, grant_id: int) -> Grant:
    grant = next((x for x in access_request.grants if x.id == grant_id), None)
    if grant is None:
        abort(404)
    return grant


def _flash_complete(access_request: AccessRequest) -> None:
    with force_locale(locale_for(access_request)):
        flash(_("This request is already complete: there is nothing more to do."), "info")


def back_to(endpoint: str, **values) -> Response:
    """After a plain form post: see the page again (post/redirect/get)."""
    return redirect(url_for(endpoint, token=g.client_token, **values), 303)


@bp.app_errorhandler(Closed)
def closed(error: Closed):
    access_request = error.access_request
    g.client_token = None
    with force_locale(locale_for(access_request)):
        token = (request.view_args or {}).get("token")
        body = render_template(
            "client/closed.html",
            token=token if token and service.looks_like_token(token) else None,
            ar=access_request,
            agency=access_request.agency,
            brand=flow.brand_colours(access_request.agency.primary_color),
        )
    return body, 410


def error_page(code: int) -> str | None:
    """An error under /r/<token>/...: keep the agency's branding and contact.

    A known link shows its agency's page. An unknown token (often a link copied
    only in part) says so and what to do, naming no agency, unless the request
    came in on an agency's custom domain. Other errors on unknown links: None.
    """
    from ..errors import messages

    parts = request.path.split("/")
    token = parts[2] if len(parts) > 2 else ""
    access_request = service.find_by_token(token)
    if access_request is not None and branding.host_serves(
        access_request.agency_id, access_request.agency.custom_domain
    ):
        agency = access_request.agency
        with force_locale(locale_for(access_request)):
            if code not in messages():
                return None
            title, detail = messages()[code]
            return render_template(
                "client/error.html",
                code=code,
                title=title,
                detail=detail,
                ar=access_request,
                agency=agency,
                token=token,
                brand=flow.brand_colours(agency.primary_color),
            )
    if code != 404:
        return None
    agency = branding.host_agency()
    return render_template(
        "client/unknown_link.html",
        agency=agency,
        token=None,
        brand=flow.brand_colours(agency.primary_color if agency else None),
    )


@bp.before_app_request
def _forget_tool_scope() -> None:
    # `g` can outlive a request (tests keep one app context): each link sets its own.
    g.pop("tool_agency_id", None)


@bp.after_app_request
def no_referrer(response: Response) -> Response:
    # The link token is in every URL under /r/ (even a mistyped one, a 404 or
    # a 429): never send it to another site.
    if request.path.startswith(bp.url_prefix + "/"):
        response.headers["Referrer-Policy"] = "no-referrer"
    return response


# ----------------------------------------------------------------- welcome


@bp.get("/<token>")
def welcome(token: str):
    access_request = load(token)
    next_connector = flow.next_platform(access_request)
    questions_pending = bool(access_request.questions) and not intake.questions_answered(
        access_request
    )
    if access_request.grants and next_connector is not None and not questions_pending:
        # Coming back after sharing on some platforms: pick up where they left
        # off, on the first platform not done yet (the ones before it are).
        return back_to("client.platform", platform=next_connector.id)
    return page(
        access_request,
        "client/welcome.html",
        "welcome",
        groups=flow.by_platform(access_request),
        next_connector=next_connector,
        questions_pending=questions_pending,
    )


# --------------------------------------------------------------- questions


@bp.route("/<token>/questions", methods=["GET", "POST"])
def questions(token: str):
    """The agency's intake questions, answered before connecting."""
    access_request = load(token)
    if not access_request.questions:
        return back_to("client.welcome")
    answers = dict(access_request.answers or {})
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        with force_locale(locale_for(access_request)):
            answers, errors = intake.validate_answers(access_request.questions, request.form)
        if not errors:
            intake.save_answers(access_request, answers, service.client_actor(access_request))
            next_connector = flow.next_platform(access_request)
            if next_connector is not None:
                return back_to("client.platform", platform=next_connector.id)
            return back_to("client.summary")
        # Keep what was typed, even the invalid values, to correct them in place.
        answers = {
            q["id"]: (request.form.get(f"answer-{q['id']}") or "").strip()
            for q in access_request.questions
        }
        status = 200 if is_htmx() else 422
    body, status = page(
        access_request,
        "client/questions.html",
        "questions",
        status=status,
        answers=answers,
        errors=errors,
    )
    # The form pushes the address of the step it leads to (the redirect's);
    # answered with errors, the client stays on the questions: no new entry.
    headers = {"HX-Push-Url": "false"} if errors and is_htmx() else {}
    return body, status, headers


@bp.post("/<token>/language")
def set_language(token: str):
    """The switcher on the link: the page, and what the client receives from
    now on (e-mails, the PDF), follow the language chosen."""
    access_request = load(token)
    locale = request.form.get("locale", "")
    if locale in current_app.config["LANGUAGES"]:
        session["locale"] = locale
        if access_request.locale != locale or access_request.client.locale != locale:
            access_request.locale = locale
            access_request.client.locale = locale
            db.session.commit()
    target = request.form.get("next") or ""
    own = url_for("client.welcome", token=token)
    # Back to a page of this link only (a path, no control character).
    if (
        (target != own and not target.startswith(own + "/"))
        or ".." in target
        or any(c == "\\" or ord(c) < 32 or ord(c) == 127 for c in target)
    ):
        target = own
    return redirect(target, 303)


@bp.get("/<token>/logo")
def logo(token: str):
    if not service.looks_like_token(token):
        abort(404)
    row = db.session.execute(
        select(Agency.logo, Agency.logo_mimetype, Agency.id, Agency.custom_domain)
        .join(AccessRequest, AccessRequest.agency_id == Agency.id)
        .where(AccessRequest.token_hash == crypto.token_hash(token))
    ).first()
    if row is None or not row.logo or row.logo_mimetype not in LOGO_TYPES:
        abort(404)
    if not branding.host_serves(row.id, row.custom_domain):
        abort(404)
    response = make_response(row.logo)
    response.mimetype = row.logo_mimetype
    response.headers["Cache-Control"] = "private, max-age=3600"
    # An SVG opened on its own must not run anything.
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    )
    return response


# ---------------------------------------------------------------- platform


def _platform_state(access_request: AccessRequest, connector: Connector, error=None, chosen=None):
    """What the platform step shows: connect, choose assets, or results."""
    grants = flow.grants_of(access_request, connector.id)
    items = flow.requested_items(access_request, connector.id)
    context = {
        "connector": connector,
        "items": items,
        "grants": grants,
        "error": error,
        "problems": [],
        "assets": {},
        "chosen": chosen or {},
        # Assets already shared (or under way), shown ticked and locked in the picker.
        "shared": {(g.item_index, g.asset_id): g.status for g in grants if g.status != "failed"},
        "state": "connect",
        "agency_ready": True,
    }
    if connector.needs_agency_connection and not is_usable(
        get_connection(access_request.agency_id, connector.id)
    ):
        context["agency_ready"] = False
        return context
    client_token = oauth.client_token(access_request.id, connector.id)
    if client_token is None:
        context["state"] = "results" if grants else "connect"
        return context
    context["state"] = "choose"
    end_transaction()
    try:
        context["problems"] = service.patiently(connector.preflight, client_token)
        if not any(p.blocking for p in context["problems"]):
            listing = service.patiently(
                connector.list_assets, client_token, [i.asset_type.id for i in items]
            )
            context["assets"] = listing
            if not chosen:
                context["chosen"] = _default_choice(items, listing, grants)
    except PlatformError as exc:
        if exc.status in (401, 403) or exc.code in ("invalid_token", "token_expired"):
            # The client's sign-in no longer works: they connect again.
            oauth.discard_client_token(access_request.id, connector.id)
            context["state"] = "results" if grants else "connect"
        context["error"] = exc
    return context


def _default_choice(items, listing: dict[str, list[Asset]], grants) -> dict[int, set[str]]:
    """Pre-check: the only asset of a type, else the first; never one already shared."""
    shared = {(g.item_index, g.asset_id) for g in grants if g.status != "failed"}
    chosen: dict[int, set[str]] = {}
    for item in items:
        candidates = [
            a for a in listing.get(item.asset_type.id, []) if (item.index, a.id) not in shared
        ]
        chosen[item.index] = {candidates[0].id} if candidates else set()
    return chosen


@bp.get("/<token>/p/<platform>")
def platform(token: str, platform: str):
    access_request = load(token)
    connector = connector_or_404(access_request, platform)
    if flow.is_guided(connector):
        return _guided_page(access_request, connector)
    if request.htmx.target == STATUS_TARGET:
        return page(
            access_request,
            "client/platform.html",
            f"platform:{platform}",
            block="status",
            connector=connector,
            grants=flow.grants_of(access_request, platform),
        )
    return page(
        access_request,
        "client/platform.html",
        f"platform:{platform}",
        **_platform_state(access_request, connector),
    )


@bp.post("/<token>/p/<platform>/connect")
def connect(token: str, platform: str):
    """Start the platform's sign-in (OAuth with PKCE); it comes back to the callback."""
    access_request = load(token)
    connector = connector_or_404(access_request, platform)
    if flow.is_guided(connector):
        # No sign-in on this platform: its steps are on its page.
        return back_to("client.platform", platform=platform)
    try:
        url = oauth.authorization_url(
            connector, "client", access_request.id, access_request.agency_id
        )
    except PlatformError as exc:
        flash(f"{exc.message} {exc.fix}", "error")
        return back_to("client.platform", platform=platform)
    if is_htmx():
        return Response(status=204, headers={"HX-Redirect": url})
    return redirect(url, 303)


@oauth.on_callback("client")
def _client_callback(connector: Connector, state: oauth.OAuthState, code, error):
    """Back from the platform's consent page: keep the token until the grant."""
    access_request = db.session.execute(
        select(AccessRequest)
        .where(AccessRequest.id == state.subject_id)
        .options(
            joinedload(AccessRequest.agency).options(defer(Agency.logo)),
            joinedload(AccessRequest.client),
            selectinload(AccessRequest.grants),
        )
    ).scalar_one_or_none()
    if access_request is None:
        abort(404)
    if not service.is_open(access_request):
        raise Closed(access_request)
    g.client_token = crypto.decrypt(access_request.token_encrypted)
    actor = service.client_actor(access_request)
    with force_locale(locale_for(access_request)):
        if error:
            audit.record(
                "oauth.declined",
                agency_id=access_request.agency_id,
                actor=actor,
                subject=("access_request", access_request.id),
                details={"platform": connector.id, "error": error[:64]},
            )
            db.session.commit()
            if error == "access_denied":
                flash(
                    _(
                        "You chose not to allow access on %(platform)s, so nothing was shared. "
                        "Connect again whenever you are ready.",
                        platform=connector.name,
                    ),
                    "warning",
                )
            else:
                flash(
                    _(
                        "%(platform)s did not complete the sign-in. Please connect again.",
                        platform=connector.name,
                    ),
                    "error",
                )
            return back_to("client.platform", platform=connector.id)
        end_transaction()
        try:
            token = oauth.exchange_code(connector, state, code)
        except PlatformError as exc:
            flash(f"{exc.message} {exc.fix}", "error")
            return back_to("client.platform", platform=connector.id)
    oauth.keep_client_token(access_request.id, connector.id, token)
    audit.record(
        "oauth.client_connected",
        agency_id=access_request.agency_id,
        actor=actor,
        subject=("access_request", access_request.id),
        details={"platform": connector.id},
    )
    db.session.commit()
    return back_to("client.platform", platform=connector.id)


@oauth.on_rejected("client")
def _client_sign_in_rejected(connector: Connector, state: oauth.OAuthState, reason: str):
    """A sign-in this browser started that cannot be used any more: most often
    Back to the platform's consent page, then Allow again. The client goes back
    to the platform's step on the link, which shows where they are."""
    access_request = db.session.execute(
        select(AccessRequest)
        .where(AccessRequest.id == state.subject_id)
        .options(joinedload(AccessRequest.agency).options(defer(Agency.logo)))
    ).scalar_one_or_none()
    if access_request is None or connector.id not in access_request.platforms:
        abort(404)
    if not service.is_open(access_request):
        raise Closed(access_request)
    g.client_token = crypto.decrypt(access_request.token_encrypted)
    with force_locale(locale_for(access_request)):
        if reason == "unknown_or_used":
            message = _(
                "You had already signed in to %(platform)s here: nothing more was needed "
                "there. Carry on below.",
                platform=connector.name,
            )
        else:
            message = _(
                "The sign-in to %(platform)s took too long and has expired. Connect again "
                "to continue.",
                platform=connector.name,
            )
        flash(message, "info")
    return back_to("client.platform", platform=connector.id)


def _read_choice(items) -> dict[int, set[str]]:
    return {item.index: set(request.form.getlist(f"item-{item.index}")) for item in items}


@bp.post("/<token>/p/<platform>/grant")
def grant(token: str, platform: str):
    access_request = load(token)
    connector = connector_or_404(access_request, platform)
    if flow.is_guided(connector):
        return back_to("client.platform", platform=platform)
    client_token = oauth.client_token(access_request.id, connector.id)
    with force_locale(locale_for(access_request)):
        if client_token is None:
            flash(
                _(
                    "Your %(platform)s sign-in has expired. Connect again to continue.",
                    platform=connector.name,
                ),
                "warning",
            )
            return _after_post(access_request, connector)
        items = flow.requested_items(access_request, platform)
        chosen = _read_choice(items)
        end_transaction()
        try:
            # Listed again so only the client's own assets can be granted.
            listing = service.patiently(
                connector.list_assets, client_token, [i.asset_type.id for i in items]
            )
        except PlatformError as exc:
            return _choose_again(access_request, connector, exc, chosen)
        selection: dict[int, list[Asset]] = {}
        for item in items:
            picked = [a for a in listing.get(item.asset_type.id, []) if a.id in chosen[item.index]]
            if picked:
                selection[item.index] = picked
        if not selection:
            error = PlatformError(
                _("Nothing was chosen."),
                _("Tick at least one item to share, then press Grant access."),
                code="nothing_chosen",
            )
            return _choose_again(access_request, connector, error, chosen, status=422)
        try:
            service.grant_assets(access_request, platform, selection, client_token)
        except service.RequestClosed:
            _flash_complete(access_request)
        finally:
            # The client's token is used for this grant only, then forgotten.
            oauth.discard_client_token(access_request.id, connector.id)
    return _after_post(access_request, connector)


def _choose_again(access_request, connector, error, chosen, status=200):
    context = _platform_state(access_request, connector, error=error, chosen=chosen)
    # htmx swaps only successful answers; a plain form post gets the real status.
    return page(
        access_request,
        "client/platform.html",
        f"platform:{connector.id}",
        status=200 if is_htmx() else status,
        **context,
    )


def _after_post(access_request: AccessRequest, connector: Connector):
    if is_htmx():
        db.session.expire_all()
        access_request = load(g.client_token)
        return page(
            access_request,
            "client/platform.html",
            f"platform:{connector.id}",
            **_platform_state(access_request, connector),
        )
    return back_to("client.platform", platform=connector.id)


# ----------------------------------------------------------- guided platforms


def _guided_page(access_request: AccessRequest, connector: Connector, typed=None, status=200):
    """A platform without sign-in: each item's steps, and what to send back."""
    return page(
        access_request,
        "client/guided.html",
        f"platform:{connector.id}",
        status=status,
        connector=connector,
        cards=flow.guided_cards(access_request, connector, typed),
        agency_ready=not connector.missing_identity(access_request.agency),
    )


def _guided_item_or_404(access_request: AccessRequest, platform: str, item_index: int):
    connector = connector_or_404(access_request, platform)
    if not flow.is_guided(connector):
        abort(404)
    item = next(
        (i for i in flow.requested_items(access_request, platform) if i.index == item_index), None
    )
    if item is None:
        abort(404)
    return connector, item


def _after_guided(access_request: AccessRequest, connector: Connector):
    if is_htmx():
        db.session.expire_all()
        return _guided_page(load(g.client_token), connector)
    return back_to("client.platform", platform=connector.id)


@bp.post("/<token>/p/<platform>/items/<int:item_index>/reply")
def guided_reply(token: str, platform: str, item_index: int):
    """The client did the steps and sends back what the platform needs (checked here)."""
    access_request = load(token)
    connector, item = _guided_item_or_404(access_request, platform, item_index)
    with force_locale(locale_for(access_request)):
        if connector.missing_identity(access_request.agency):
            flash(
                _(
                    "%(agency)s has not finished setting up %(platform)s yet. Please try again "
                    "later.",
                    agency=access_request.agency.brand_name,
                    platform=connector.name,
                ),
                "warning",
            )
            return _after_guided(access_request, connector)
        values, errors, asset_id, asset_name = flow.read_reply(connector, item, request.form)
        if not errors:
            try:
                service.record_guided_reply(
                    access_request, item_index, values, asset_id, asset_name
                )
            except service.RequestClosed:
                _flash_complete(access_request)
            except service.RequestError as exc:
                errors = {"_": exc.message}
            else:
                flash(
                    _(
                        "Sent. %(agency)s takes it from here: see below what happens next.",
                        agency=access_request.agency.brand_name,
                    ),
                    "success",
                )
        if errors:
            names = [f.name for f in connector.reply_fields(item.asset_type.id)]
            typed = {item_index: ({n: request.form.get(n, "")[:300] for n in names}, errors)}
            db.session.expire_all()
            # htmx swaps only successful answers; a plain form post gets the real status.
            return _guided_page(load(token), connector, typed, status=200 if is_htmx() else 422)
    return _after_guided(access_request, connector)


@bp.post("/<token>/p/<platform>/items/<int:item_index>/skip")
def guided_skip(token: str, platform: str, item_index: int):
    """The client cannot do this item (no such account, no admin rights...)."""
    access_request = load(token)
    connector, _item = _guided_item_or_404(access_request, platform, item_index)
    with force_locale(locale_for(access_request)):
        try:
            service.decline_guided_item(access_request, item_index)
        except service.RequestClosed:
            _flash_complete(access_request)
        except service.RequestError as exc:
            flash(exc.message, "warning")
        else:
            flash(
                _(
                    "Skipped. %(agency)s sees that this was not done and may contact you.",
                    agency=access_request.agency.brand_name,
                ),
                "info",
            )
    return _after_guided(access_request, connector)


# ------------------------------------------------------------ manual steps


@bp.get("/<token>/steps")
def manual(token: str):
    access_request = load(token)
    if not flow.has_manual_steps(access_request):
        return back_to("client.summary")
    return page(access_request, "client/manual.html", "manual", **_manual_context(access_request))


def _manual_context(access_request: AccessRequest) -> dict:
    # Guided platforms show their steps on their own page.
    items = [
        i
        for i in flow.requested_items(access_request)
        if (i.manual or i.manual_steps) and not flow.is_guided(i.connector)
    ]
    grants = [g for g in access_request.grants if g.manual and not flow.is_guided(g.platform)]
    return {"manual_items": items, "grants": grants}


@bp.post("/<token>/grants/<int:grant_id>/done")
def manual_done(token: str, grant_id: int):
    access_request = load(token)
    grant_ = grant_or_404(access_request, grant_id)
    if flow.is_guided(grant_.platform):
        # Sent from its platform's page, with what the platform needs.
        return back_to("client.platform", platform=grant_.platform)
    try:
        service.mark_manual_done(grant_, service.client_actor(access_request))
    except service.RequestClosed:
        _flash_complete(access_request)
    if is_htmx():
        return page(
            access_request, "client/manual.html", "manual", **_manual_context(access_request)
        )
    return back_to("client.manual")


@bp.post("/<token>/grants/<int:grant_id>/retry")
def retry(token: str, grant_id: int):
    access_request = load(token)
    grant_ = grant_or_404(access_request, grant_id)
    if flow.needs_new_grant(grant_) or flow.is_guided(grant_.platform):
        # The platform refused it: sign in again and grant it again.
        return back_to("client.platform", platform=grant_.platform)
    try:
        service.retry_verification(grant_, service.client_actor(access_request))
    except service.RequestClosed:
        _flash_complete(access_request)
    if is_htmx():
        return page(
            access_request, "client/summary.html", "summary", **_summary_context(access_request)
        )
    return back_to("client.summary")


# ----------------------------------------------------------------- summary


def _summary_context(access_request: AccessRequest) -> dict:
    return {
        "grants": access_request.grants,
        "uncovered": flow.uncovered_items(access_request),
        "next_connector": flow.next_platform(access_request),
    }


@bp.get("/<token>/summary")
def summary(token: str):
    access_request = load(token)
    return page(
        access_request, "client/summary.html", "summary", **_summary_context(access_request)
    )


@bp.get("/<token>/finish")
def finish(token: str):
    access_request = load(token)
    # Checked again on use: a row saved before the address rules were this strict
    # (a line break, a control character) shows the page instead of failing.
    target = web_address(access_request.redirect_url)
    if target:
        return redirect(target, 303)
    return page(access_request, "client/done.html", "summary", grants=access_request.grants)
