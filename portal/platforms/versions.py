"""Each platform's API version, in one place, with the date it stops working.

Platforms retire API versions on a schedule: a connector still on a retired
version fails for every client at once. Each connector reads its version
from here; `latchkey platforms check` and the Health page show the days left,
and a test fails once a configured version is past its sunset.

Dates are the platforms' own published ones where they publish one
(`basis="published"`); where a platform states only a policy (Google Ads:
"major versions live about 12 months"), the date follows that policy and says
so (`basis="estimated"`); Pinterest v5 and TikTok v1.3 publish no end date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

WARN_DAYS = 60  # `latchkey platforms check` fails this many days before a sunset


@dataclass(frozen=True)
class ApiVersion:
    platform: str  # the connector id
    api: str  # the API's own name
    version: str  # what goes in the URL or the version header
    released: date | None
    sunset: date | None
    basis: str  # "published", "estimated" or "none published"
    source: str  # where the platform publishes its schedule

    def days_left(self, today: date) -> int | None:
        return None if self.sunset is None else (self.sunset - today).days

    def state(self, today: date) -> str:
        """ "ok", "soon" (within WARN_DAYS of its sunset) or "past"."""
        left = self.days_left(today)
        if left is None or left > WARN_DAYS:
            return "ok"
        return "past" if left < 0 else "soon"


PINTEREST = ApiVersion(
    "pinterest",
    "Pinterest API",
    "v5",
    None,
    None,
    "none published",
    "https://developers.pinterest.com/docs/api/v5/",
)
META = ApiVersion(
    "meta",
    "Meta Graph API",
    "v25.0",
    date(2026, 2, 18),
    date(2028, 7, 29),
    "published",
    "https://developers.facebook.com/docs/graph-api/changelog/versions/",
)
GOOGLE_ADS = ApiVersion(
    "google",
    "Google Ads API",
    "v25",
    date(2026, 7, 22),
    # Google sets the exact day when a later version ships; its stated
    # lifespan for a major version is about 12 months.
    date(2027, 7, 21),
    "estimated",
    "https://developers.google.com/google-ads/api/docs/sunset-dates",
)
TIKTOK = ApiVersion(
    "tiktok",
    "TikTok API for Business",
    "v1.3",
    None,
    None,
    "none published",
    "https://business-api.tiktok.com/portal/docs",
)
LINKEDIN = ApiVersion(
    "linkedin",
    "LinkedIn Marketing API",
    "202603",
    date(2026, 3, 1),
    date(2027, 3, 16),
    "published",
    "https://learn.microsoft.com/linkedin/marketing/integrations/migrations",
)

VERSIONS: tuple[ApiVersion, ...] = (PINTEREST, META, GOOGLE_ADS, TIKTOK, LINKEDIN)


def report(today: date) -> list[tuple[ApiVersion, str, int | None]]:
    """Every version with its state and days left, soonest sunset first."""
    rows = [(v, v.state(today), v.days_left(today)) for v in VERSIONS]
    return sorted(rows, key=lambda row: (row[2] is None, row[2] or 0))
