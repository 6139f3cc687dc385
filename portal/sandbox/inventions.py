"""What the sandbox answers that the platforms do not publish.

The sandbox emulates each platform on the paths and payload shapes of its
published API description. Where an obstacle needs an error the description
does not list (a code, a subcode, a message), the sandbox has to invent one.
Each invention is named here, in one place, so that nobody mistakes it for the
platform's behaviour: a connector may use it only with a fallback on the
message text, and a test checks that every code the sandbox sends is either
published or listed here.
"""

from __future__ import annotations

# ---------------------------------------------------------------- Pinterest

# Pinterest's errors are `{"code": int, "message": str}`. Its description
# publishes codes only in the examples of other operations (1, 2, 8, 29, 404,
# 500, ... listed in tests/platform_specs/pinterest/openapi.json under
# `x-latchkey-error-examples`), none for Business Access. The sandbox's own
# (portal.sandbox.pinterest.world) are numbered apart from every published
# one; the connector reads each with a fallback on the message's wording.
PINTEREST: dict[str, str] = {
    "9001": "not a business admin (HTTP 403 on invites, accept, partner assets)",
    "9002": "two-factor authentication off: items[].exception of PATCH /businesses/invites, "
    "or HTTP 403 on PATCH /businesses/{id}/partners/assets",
    "9003": "already partners: items[].exception of POST /businesses/{id}/invites",
    "9004": "partner request already pending: items[].exception of POST .../invites",
    "9005": "partner business not found: items[].exception of POST .../invites",
    "9006": "invite not found or no longer pending: items[].exception of PATCH /businesses/invites",
    "9007": "asset not owned by the business (accept exception, or HTTP 403 on partner assets)",
    "9008": "permissions not valid for the asset type (accept exception, or HTTP 400)",
    "9009": "a business cannot be its own partner: items[].exception of POST .../invites",
    "9010": "not partners (HTTP 404 on partner assets)",
}

# ---------------------------------------------------------------- Meta

# Meta's errors are `{"error": {"message", "type", "code", "error_subcode",
# "fbtrace_id"}}`. Meta publishes codes 1-4, 10, 17, 102, 190, 200-299, 341,
# 368, ... and subcodes 458-467, 492 (Graph API "Handling Errors"), and each
# edge's reference page its own (100, 104, 2500, 80004): transcribed in
# tests/platform_specs/meta/graph_docs.json under `errors`. Keys are
# "code <n>" or "subcode <n>". The first ones are Meta's own, seen in its
# answers but in no published list; the 16900xx subcodes are the sandbox's
# (portal.sandbox.meta.world), and the connector reads each with a fallback on
# the message's wording.
META: dict[str, str] = {
    "code 101": "invalid client_id at /oauth/access_token (Meta's, unpublished)",
    "subcode 33": "unsupported request: no such object, or not visible (Meta's, unpublished)",
    "subcode 36007": "invalid authorization code at /oauth/access_token (Meta's, unpublished)",
    "subcode 36009": "authorization code already used (Meta's, unpublished)",
    "subcode 2446079": "ad account throttled, with code 80004 (Meta's, unpublished)",
    "subcode 1690061": "not an admin of the asset's business portfolio (sharing, removal)",
    "subcode 1690062": "the portfolio requires two-factor authentication of its admins",
    "subcode 1690063": "the partner has no access to remove (DELETE /{asset}/agencies)",
    "subcode 1690064": "a business portfolio cannot be its own partner",
    "subcode 1690065": "no such business portfolio (POST /{asset}/agencies)",
}

# ---------------------------------------------------------------- Google

# Google's errors are `{"error": {"code", "message", "status", "details"}}`:
# status names (google/rpc/code.proto), ErrorInfo reasons
# (google/api/error_reason.proto) and Google Ads' error codes
# (google/ads/googleads/<version>/errors/*.proto) are published, transcribed
# in tests/platform_specs/google/{errors,ads-<version>}.json. Tag Manager's
# older error shape also lists `errors[].reason`, which its description does
# not enumerate: the sandbox's values are inventions, and the connector reads
# none of them (it goes by the HTTP status).
GOOGLE: dict[str, str] = {
    "badRequest": "Tag Manager errors[].reason of a 400 (portal.sandbox.google.tagmanager)",
    "forbidden": "Tag Manager errors[].reason of a 403",
    "notFound": "Tag Manager errors[].reason of a 404",
    "duplicate": "Tag Manager errors[].reason of a 409 (a second permission for one e-mail)",
}

# ---------------------------------------------------------------- TikTok

TIKTOK: dict[str, str] = {
    # TikTok answers an unknown path with HTTP 404; the return code in the
    # sandbox's envelope is its own (portal.sandbox.tiktok.world.NOT_FOUND).
    "40400": "unknown path under /open_api/v1.3 (HTTP 404)",
}

# ---------------------------------------------------------------- LinkedIn

# LinkedIn's errors are `{"status", "serviceErrorCode", "code", "message"}`
# with the same HTTP status. Its pages show VERSION_MISSING (400),
# NONEXISTENT_VERSION (426), ACCESS_DENIED with serviceErrorCode 100 (403) and
# INVALID_ACCESS_TOKEN with 65600 (401); the sandbox's other service error
# codes are its own. The connector reads none of them: it goes by the HTTP
# status and the message text.
LINKEDIN: dict[str, str] = {
    "0": "serviceErrorCode of the sandbox's 400, 404 and 500 answers (none published)",
    "65601": "serviceErrorCode of EXPIRED_ACCESS_TOKEN (401)",
    "65604": "serviceErrorCode of EMPTY_ACCESS_TOKEN (401)",
    "101": "serviceErrorCode of TOO_MANY_REQUESTS (429, per-resource throttle)",
}

BY_PLATFORM = {
    "pinterest": PINTEREST,
    "meta": META,
    "google": GOOGLE,
    "tiktok": TIKTOK,
    "linkedin": LINKEDIN,
}
