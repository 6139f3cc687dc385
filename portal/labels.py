"""Translated labels for statuses, shared by pages, e-mails and reports."""

from __future__ import annotations

from flask import Flask
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.routing import BuildError

REQUEST_STATUS_LABELS = {
    "draft": _l("Draft"),
    "sent": _l("Sent"),
    "opened": _l("Opened"),
    "in_progress": _l("In progress"),
    "completed": _l("Completed"),
    "partially_completed": _l("Partially completed"),
    "expired": _l("Expired"),
    "revoked": _l("Revoked"),
}
GRANT_STATUS_LABELS = {
    "pending": _l("Waiting"),
    "granted": _l("Granted"),
    "verifying": _l("Verifying"),
    "verified": _l("Verified"),
    "failed": _l("Failed"),
    "declined": _l("Declined"),
    "needs_action": _l("Action needed"),
    "removed": _l("Removed"),
}
# What each audit event means, in people's words (the audit log, a request's
# timeline, the PDF). The codes stay in the CSV export and the API.
AUDIT_ACTION_LABELS = {
    "access_request.created": _l("Request created"),
    "access_request.sent": _l("Link sent to the client"),
    "access_request.opened": _l("The client opened the link"),
    "access_request.in_progress": _l("The client started granting access"),
    "access_request.completed": _l("Request completed"),
    "access_request.partially_completed": _l("Request partly completed"),
    "access_request.expired": _l("The link expired"),
    "access_request.revoked": _l("Link revoked by the agency"),
    "access_request.extended": _l("Expiry extended"),
    "access_request.link_regenerated": _l("New link made; the old one stopped working"),
    "access_request.email_requested": _l("E-mail to the client queued"),
    "access_request.email_sent": _l("Link e-mailed to the client"),
    "access_request.reminder_sent": _l("Reminder sent to the client"),
    "access_request.report_sent": _l("PDF confirmation e-mailed"),
    "access_request.answered": _l("The client answered the questions"),
    "access_request.erased": _l("Personal data of the request erased"),
    "report.sent": _l("PDF confirmation e-mailed"),
    "oauth.client_connected": _l("The client signed in to the platform"),
    "oauth.declined": _l("The client declined on the platform"),
    "oauth.state_rejected": _l(
        "A platform sign-in was refused (expired, used or not this browser's)"
    ),
    "grant.granted": _l("Access granted on the platform"),
    "grant.verifying": _l("Verification started"),
    "grant.verified": _l("Access verified from the agency's side"),
    "grant.failed": _l("Grant failed"),
    "grant.declined": _l("The client declined this item"),
    "grant.needs_action": _l("Manual step waiting"),
    "grant.manual_done": _l("Manual step marked done"),
    "grant.retried": _l("Verification retried"),
    "grant.removed": _l("Access no longer found"),
    "grant.revoked": _l("Access removed by the agency"),
    "grant.revoke_failed": _l("Removing the access failed"),
    "client.exported": _l("Client's data downloaded"),
    "client.erased": _l("Client deleted and their personal data erased"),
    "template.created": _l("Template created"),
    "template.updated": _l("Template changed"),
    "template.duplicated": _l("Template duplicated"),
    "template.archived": _l("Template archived"),
    "template.restored": _l("Template back in use"),
    "custom_tool.created": _l("Other tool added"),
    "custom_tool.updated": _l("Other tool changed"),
    "custom_tool.archived": _l("Other tool archived"),
    "custom_tool.restored": _l("Other tool back in use"),
    "connection.connected": _l("Platform connected"),
    "connection.reconnected": _l("Platform reconnected"),
    "connection.refreshed": _l("Platform connection renewed"),
    "connection.disconnected": _l("Platform disconnected"),
    "connection.declined": _l("Platform connection declined"),
    "connection.failed": _l("Platform connection stopped working"),
    "agency.created": _l("Agency created"),
    "agency.deleted": _l("Agency deleted"),
    "agency.branding_changed": _l("Branding changed"),
    "agency.identities_changed": _l("Receiving accounts changed"),
    "agency.retention_changed": _l("Data retention rule changed"),
    "agency.email_verification_sent": _l("Link to confirm the agency's e-mail address sent"),
    "agency.email_verified": _l("Agency's e-mail address confirmed"),
    "client_email.refused": _l("E-mail to the client not sent"),
    "auth.login": _l("Signed in"),
    "auth.login_failed": _l("Sign-in failed"),
    "auth.logout": _l("Signed out"),
    "auth.logout_everywhere": _l("Signed out everywhere"),
    "auth.password_changed": _l("Password changed"),
    "auth.password_reset_requested": _l("Password reset asked for"),
    "auth.password_reset": _l("Password reset"),
    "auth.recovery_code_used": _l("Signed in with a recovery code"),
    "auth.recovery_codes_regenerated": _l("New recovery codes made"),
    "auth.2fa_enabled": _l("Two-factor authentication turned on"),
    "auth.2fa_disabled": _l("Two-factor authentication turned off"),
    "team.invited": _l("Team member invited"),
    "team.invitation_accepted": _l("Invitation accepted"),
    "team.invitation_revoked": _l("Invitation withdrawn"),
    "team.role_changed": _l("Team member's role changed"),
    "team.member_removed": _l("Team member removed"),
    "api_key.created": _l("API key created"),
    "api_key.revoked": _l("API key revoked"),
    "api.call": _l("API call"),
    "webhook_endpoint.created": _l("Webhook endpoint added"),
    "webhook_endpoint.updated": _l("Webhook endpoint changed"),
    "webhook_endpoint.deleted": _l("Webhook endpoint deleted"),
    "webhook_endpoint.enabled": _l("Webhook endpoint turned on"),
    "webhook_endpoint.disabled": _l("Webhook endpoint turned off"),
    "webhook_endpoint.secret_rotated": _l("Webhook signing secret replaced"),
    "webhook_endpoint.tested": _l("Webhook endpoint tested"),
    "webhook_delivery.redelivered": _l("Webhook delivery sent again"),
    "job.retried": _l("Background job retried"),
    "job.discarded": _l("Background job discarded"),
}
# Why an e-mail to a client was not sent (portal/notifications/client_mail.py).
CLIENT_EMAIL_REFUSALS = {
    "unverified": _l("the agency's e-mail address is not confirmed"),
    "request": _l("this link reached its daily limit of e-mails"),
    "recipient": _l("this address reached its daily limit of e-mails"),
    "agency": _l("the agency reached its daily limit of e-mails to clients"),
}
# Who did it (an audit event's actor type).
ACTOR_LABELS = {
    "user": _l("your team"),
    "client": _l("client"),
    "api_key": _l("API key"),
    "system": _l("Latchkey, automatically"),
}
ROLE_LABELS = {
    "owner": _l("Owner"),
    "admin": _l("Admin"),
    "member": _l("Member"),
    "viewer": _l("Viewer"),
}


def audit_action_label(action: str) -> str:
    """The event's name in people's words; an unknown code as it is."""
    label = AUDIT_ACTION_LABELS.get(action)
    return str(label) if label is not None else action


def audit_event_text(action: str, details: dict | None, addresses: bool = True) -> str:
    """What happened, in a sentence: the event's name, completed from its
    details where that says more (to whom, on which platform). `addresses`:
    name the e-mail addresses (the agency's own pages) or only who they are
    (the PDF, which leaves the agency)."""
    details = details or {}
    to = details.get("to")
    platform = _platform_name(details.get("platform"))
    if action in ("report.sent", "access_request.report_sent"):
        to_client = details.get("audience") == "client"
        if to and addresses:
            if to_client:
                return _("PDF confirmation e-mailed to the client (%(to)s)", to=to)
            return _("PDF confirmation e-mailed to %(to)s", to=to)
        if to_client:
            return _("PDF confirmation e-mailed to the client")
        if details.get("audience") == "agency":
            return _("PDF confirmation e-mailed to the agency")
    if action == "client_email.refused" and details.get("reason") in CLIENT_EMAIL_REFUSALS:
        why = CLIENT_EMAIL_REFUSALS[details["reason"]]
        return _("E-mail to the client not sent: %(why)s", why=why)
    if action == "access_request.email_sent" and to and addresses:
        return _("Link e-mailed to the client (%(to)s)", to=to)
    if action == "oauth.client_connected" and platform:
        return _("The client signed in to %(platform)s", platform=platform)
    if action == "oauth.declined" and platform:
        return _("The client declined on %(platform)s", platform=platform)
    if action.startswith("connection.") and platform:
        return f"{audit_action_label(action)} · {platform}"
    return audit_action_label(action)


def _platform_name(platform_id) -> str | None:
    if not platform_id:
        return None
    from . import platforms

    try:
        return platforms.get(str(platform_id)).name
    except KeyError:
        return str(platform_id)


def init_app(app: Flask) -> None:
    from flask import url_for

    def url_exists(endpoint: str) -> bool:
        try:
            url_for(endpoint)
        except BuildError:
            return False
        return True

    @app.context_processor
    def inject_labels():
        return {
            "status_label": lambda s: REQUEST_STATUS_LABELS.get(s, s),
            "grant_status_label": lambda s: GRANT_STATUS_LABELS.get(s, s),
            "role_label": lambda r: ROLE_LABELS.get(r, r),
            "audit_action_label": audit_action_label,
            "actor_kind": lambda t: ACTOR_LABELS.get(t, t),
            "audit_event_text": audit_event_text,
            "url_exists": url_exists,
        }
