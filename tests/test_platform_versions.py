"""Each platform's API version lives in one place, with its sunset, and is checked.

`latchkey platforms check` prints the days left and fails within 60 days of
a sunset; the Health page shows the same; this suite fails once a configured
version is past its date; `latchkey platforms probe` reads who the agency is
on a platform with its connected token.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from helpers_auth import html

from portal import platforms
from portal.platforms import versions
from portal.platforms.commands import platforms_group

TODAY = datetime.now(UTC).date()


@pytest.mark.parametrize("version", versions.VERSIONS, ids=lambda v: v.platform)
def test_no_configured_version_is_past_its_sunset(version):
    assert version.sunset is None or version.sunset > TODAY, (
        f"{version.api} {version.version} was retired on {version.sunset}: every call to it "
        f"fails. Move the connector to a supported version ({version.source})."
    )


@pytest.mark.parametrize("version", versions.VERSIONS, ids=lambda v: v.platform)
def test_the_connector_calls_the_version_configured_here(app, version):
    connector = platforms.get(version.platform)
    urls = connector.real_urls
    if version.platform == "linkedin":
        assert connector.api_version == version.version
    elif version.platform == "google":
        assert urls["ads"].endswith("/" + version.version)
    else:
        assert urls["api"].endswith("/" + version.version)
    assert version.basis in ("published", "estimated", "none published")
    assert (version.sunset is None) == (version.basis == "none published")


def test_states_count_down_to_the_sunset():
    v = versions.META
    assert v.state(v.sunset.replace(year=v.sunset.year - 1)) == "ok"
    assert v.state(date.fromordinal(v.sunset.toordinal() - versions.WARN_DAYS)) == "soon"
    assert v.state(v.sunset) == "soon"
    assert v.state(date.fromordinal(v.sunset.toordinal() + 1)) == "past"
    assert versions.PINTEREST.state(date(2100, 1, 1)) == "ok"


def _check_at(runner, monkeypatch, day: date):
    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime(day.year, day.month, day.day, 12, tzinfo=tz or UTC)

    monkeypatch.setattr("portal.platforms.commands.datetime", Frozen)
    return runner.invoke(platforms_group, ["check"])


def test_check_prints_every_version_with_its_days_left(runner, monkeypatch):
    result = _check_at(runner, monkeypatch, date(2026, 12, 8))
    assert result.exit_code == 0, result.output
    for version in versions.VERSIONS:
        assert f"{version.api}" in result.output and version.version in result.output
    meta_line = next(line for line in result.output.splitlines() if line.startswith("meta"))
    assert "2028-07-29" in meta_line and "599 days" in meta_line
    assert "more than 60 days left" in result.output


def test_check_fails_within_sixty_days_of_a_sunset(runner, monkeypatch):
    soon = date.fromordinal(versions.LINKEDIN.sunset.toordinal() - 30)
    result = _check_at(runner, monkeypatch, soon)
    assert result.exit_code == 1
    linkedin = next(line for line in result.output.splitlines() if line.startswith("linkedin"))
    assert "30 days" in linkedin and "upgrade soon" in linkedin
    assert "LinkedIn Marketing API 202603" in result.output


def test_the_health_page_shows_the_versions(client, auth, owner):
    auth.login(owner)
    page = html(client.get("/app/health"))
    for version in versions.VERSIONS:
        assert f'data-api-version="{version.platform}"' in page
    assert "v25.0" in page and "None published" in page


def test_probe_reads_who_the_agency_is_with_its_token(app, runner, agency, live_server):
    from portal.sandbox.connect import connect_agency_to_sandbox

    connect_agency_to_sandbox(agency)
    result = runner.invoke(args=["platforms", "probe", "pinterest", "--agency", agency.slug])
    assert result.exit_code == 0, result.output
    assert "Pinterest for Acme Agency" in result.output
    assert "signed in as (read from the platform just now):" in result.output
    assert "business_id:" in result.output
    assert "access_token" not in result.output


def test_probe_says_what_is_missing(runner, agency):
    result = runner.invoke(args=["platforms", "probe", "meta", "--agency", agency.slug])
    assert result.exit_code == 1
    assert "Reconnect" in result.output or "connect" in result.output.lower()
    result = runner.invoke(args=["platforms", "probe", "myspace", "--agency", agency.slug])
    assert result.exit_code != 0 and "no platform 'myspace'" in result.output
