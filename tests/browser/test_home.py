"""The public start page in a real browser: htmx loads under the CSP, French works."""

from __future__ import annotations


def test_it_loads_without_console_errors_and_with_htmx(page, live_server):
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto("/")
    assert page.get_by_role("heading", level=1).is_visible()
    assert page.evaluate("typeof window.htmx") == "object"
    assert errors == []


def test_it_switches_to_french_with_the_language_selector(page, live_server):
    page.goto("/")
    page.get_by_label("Language").select_option("fr")
    page.wait_for_url("**/")
    page.wait_for_function("document.documentElement.lang === 'fr'")
    assert page.locator("html").get_attribute("lang") == "fr"


def test_it_fits_a_360px_phone_without_horizontal_scrolling(context_factory, live_server):
    page = context_factory(width=360).new_page()
    page.goto("/")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
