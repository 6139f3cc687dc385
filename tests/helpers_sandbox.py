"""Driving the emulated platforms' consent pages over HTTP, as a browser would."""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

import requests


def press_allow(browser: requests.Session, authorize_url: str, persona: str) -> str:
    """Open the consent page like a browser, choose a persona, press Allow; the redirect."""
    page = browser.get(authorize_url)
    assert page.status_code == 200, page.text
    form = {
        name: html.unescape(value)
        for name, value in re.findall(
            r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text
        )
    }
    form.update({"persona": persona, "decision": "allow"})
    action = urlsplit(page.url)._replace(query="").geturl()
    answer = browser.post(action, data=form, allow_redirects=False)
    assert answer.status_code == 302, answer.text
    return answer.headers["Location"]
