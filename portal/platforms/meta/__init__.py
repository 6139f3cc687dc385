"""Meta (Facebook and Instagram) Graph API connector, v25.0.

Grants go business to business and need only the client's token: signed in
with Facebook Login, the client shares each chosen asset (ad account, Page,
pixel/dataset, catalog, Instagram account) with the agency's business
portfolio through `POST /{asset}/agencies` with the tasks asked for. The
agency's own token (its connection) verifies from its side, under
`GET /{agency business}/client_*`, and removes access with
`DELETE /{asset}/agencies?business=...`.

The calls and the fields they ask for follow the Graph API node specs the
official SDKs are generated from (tests/platform_specs/meta/, held to by the
conformance tests), and Meta's reference for what those specs leave out.

Every call carries `appsecret_proof` (HMAC-SHA256 of the token with the app
secret), which Meta requires of apps that turn on "Require App Secret".

Meta answers most errors with HTTP 400 and says what happened in its error
code (`190` token, `10`/`2xx` permission, `4`/`17`/`32`/`613`/`80000-80014`
throttling, `1`/`2` or `is_transient` temporary trouble), so errors are read
by code as well as by HTTP status (graph.py). Where Meta does not document a
detail, the choice is marked *assumption* so it can be corrected here, in one
place: the sandbox (`portal.sandbox.meta`) emulates the same choices.

The modules: `terms.py` (tasks, asset types, edges, fields, codes),
`graph.py` (HTTP), `tokens.py` (Facebook Login's token endpoint),
`people.py` (portfolios, roles, preflight), `sharing.py` (grant, verify,
revoke), and `connector.py` (the connector, its assets and manual steps).
"""

from __future__ import annotations

from .connector import MetaConnector
from .terms import GRAPH_VERSION

__all__ = ["GRAPH_VERSION", "MetaConnector"]
