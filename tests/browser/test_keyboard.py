"""Every flow by keyboard alone: Tab (and Shift+Tab) to move, Enter and Space to
act, typing to fill fields. No mouse click, no locator.click().

- the client's whole journey on a phone: welcome, intake questions, Pinterest,
  the emulated consent page, the asset choice, granting, verification, the
  manual step, the summary and the end;
- the agency: sign in, then create a request from the navigation;
- everything Tab reaches shows a visible focus indicator.
"""

from __future__ import annotations

import re

import pytest
from conftest import PASSWORD
from playwright.sync_api import Locator, Page, expect

from .helpers import BackgroundWorker, connected_agency, watch_console
from .test_accessibility import _request_with_everything

MAX_TABS = 250

# What the focused element shows: an outline or a shadow wide enough to see.
FOCUS_STYLE = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2
    && style.outlineColor !== "transparent" && !/rgba\\(.*, 0\\)$/.test(style.outlineColor);
  const shadow = style.boxShadow && style.boxShadow !== "none";
  const rect = el.getBoundingClientRect();
  return {
    tag: el.tagName.toLowerCase(),
    text: (el.innerText || el.value || el.getAttribute("aria-label") || el.name || "").trim()
      .slice(0, 60),
    visible: outline || shadow,
    focusVisible: el.matches(":focus-visible"),
    onScreen: rect.width > 0 && rect.height > 0,
  };
}"""


class Keyboard:
    """A person who only uses the keyboard; remembers every element focus reached."""

    def __init__(self, page: Page):
        self.page = page
        self.reached: list[dict] = []

    def tab_to(self, target: Locator, backwards: bool = False) -> None:
        """Press Tab until `target` has focus (checking the focus ring on the way)."""
        key = "Shift+Tab" if backwards else "Tab"
        target.wait_for(state="visible")
        self.settle()
        for _press in range(MAX_TABS):
            self.page.keyboard.press(key)
            focused = self.page.evaluate(FOCUS_STYLE)
            if focused is not None:
                self.reached.append({**focused, "url": self.page.url})
            if target.evaluate("el => el === document.activeElement"):
                return
        raise AssertionError(f"{target} cannot be reached with {key} on {self.page.url}")

    def settle(self) -> None:
        """Wait until htmx has finished any swap: when a step is replaced, the page
        moves focus to its heading as the swap settles, and a Tab pressed before
        that would be undone by it (a person waits for the new step to appear)."""
        self.page.wait_for_function(
            "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"
        )

    def press(self, target: Locator, key: str = "Enter") -> None:
        self.tab_to(target)
        self.page.keyboard.press(key)

    def type_into(self, field: Locator, text: str) -> None:
        self.tab_to(field)
        self.page.keyboard.type(text)

    def without_focus_ring(self) -> list[dict]:
        return [r for r in self.reached if not (r["visible"] and r["focusVisible"])]


# Counted by the page itself, across navigations of the tab: any pointer press.
COUNT_POINTER = """
document.addEventListener("pointerdown", function (event) {
  if (!event.isTrusted) return;
  var n = parseInt(sessionStorage.getItem("latchkey-test-pointer") || "0", 10);
  sessionStorage.setItem("latchkey-test-pointer", String(n + 1));
}, true);
"""


def pointer_presses(page: Page) -> int:
    return int(page.evaluate("parseInt(sessionStorage.getItem('latchkey-test-pointer') || '0')"))


def _heading(page: Page) -> Locator:
    return page.get_by_role("heading", level=1)


@pytest.mark.usefixtures("needs_redis")
def test_a_client_completes_the_whole_journey_with_the_keyboard_on_a_phone(app, context_factory):
    agency, owner = connected_agency()
    _request, link = _request_with_everything(agency, owner)
    context = context_factory(width=360)
    context.add_init_script(COUNT_POINTER)
    console = watch_console(context)
    page = context.new_page()
    keys = Keyboard(page)

    page.goto(link)
    # The first Tab offers the skip link, shown on screen; Enter moves into the page.
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    assert skip.evaluate("el => el.getBoundingClientRect().left >= 0")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"#main$"))

    # Welcome → the intake questions.
    keys.press(page.get_by_role("link", name=re.compile("question", re.IGNORECASE)).first)
    expect(page.get_by_label("Website address")).to_be_visible()
    keys.type_into(page.get_by_label("Website address"), "https://blueharbor.test")
    keys.press(page.get_by_role("radio", name="Under 1,000"), " ")
    expect(page.get_by_role("radio", name="Under 1,000")).to_be_checked()
    keys.press(page.get_by_role("button", name="Save and continue"))
    # The new step replaces the old one in place; focus moves to its heading.
    expect(_heading(page)).to_have_text("Share your Pinterest accounts")
    expect(_heading(page)).to_be_focused()

    # Pinterest: connect, then the emulated consent page (Business account is preselected).
    keys.press(page.get_by_role("button", name="Connect Pinterest"))
    expect(page.get_by_role("button", name="Allow")).to_be_visible()
    expect(page.get_by_role("radio", name="Business account", exact=True)).to_be_checked()
    keys.press(page.get_by_role("button", name="Allow"))
    page.wait_for_url(re.compile(r"/r/[^/]+/p/pinterest$"))

    # The asset choice: untick and tick again with Space, then grant with Enter.
    expect(_heading(page)).to_have_text("Share your Pinterest accounts")
    first = page.get_by_role("checkbox").first
    expect(first).to_be_checked()
    keys.press(first, " ")
    expect(first).not_to_be_checked()
    page.keyboard.press(" ")
    expect(first).to_be_checked()
    keys.press(page.get_by_role("button", name="Grant access"))
    expect(page.locator("#grant-status .badge").first).to_be_visible(timeout=20_000)

    # Verification runs in a worker; the results update by themselves.
    with BackgroundWorker(app):
        expect(
            page.locator(
                "#grant-status .badge.pending, #grant-status .badge.granted, "
                "#grant-status .badge.verifying"
            )
        ).to_have_count(0, timeout=20_000)
    keys.press(page.get_by_role("link", name="Continue"))

    # The manual step (the Pinterest Tag): done by the client, said with a button.
    expect(_heading(page)).to_have_text("A few things to do yourself")
    keys.press(page.get_by_role("button", name="I've done this"))
    expect(page.get_by_role("button", name="I've done this")).to_have_count(0)
    keys.press(page.get_by_role("link", name="Continue"))

    # The summary, then the end.
    expect(page).to_have_url(re.compile(r"/summary$"))
    keys.press(page.get_by_role("link", name="Finish"))
    expect(_heading(page)).to_contain_text("Thank you")

    assert pointer_presses(page) == 0
    missing = keys.without_focus_ring()
    assert not missing, f"focus not visible on: {missing}"
    assert len(keys.reached) >= 10
    assert console.errors == []


def test_an_agency_user_signs_in_and_creates_a_request_with_the_keyboard(context_factory):
    _agency, owner = connected_agency()
    context = context_factory()
    context.add_init_script(COUNT_POINTER)
    console = watch_console(context)
    page = context.new_page()
    keys = Keyboard(page)

    page.goto("/auth/login")
    keys.type_into(page.get_by_label("E-mail"), owner.email)
    keys.type_into(page.get_by_label("Password"), PASSWORD)
    page.keyboard.press("Enter")  # submits the form from the password field
    expect(page).to_have_url(re.compile(r"/app/?$"))

    keys.press(page.get_by_role("navigation", name="Main").get_by_role("link", name="Requests"))
    expect(page).to_have_url(re.compile(r"/app/requests$"))
    keys.press(page.get_by_role("main").get_by_role("link", name="New access request"))
    expect(page).to_have_url(re.compile(r"/app/requests/new$"))

    keys.type_into(page.get_by_label("Client's name"), "Blue Harbor")
    keys.type_into(page.get_by_label("Client's e-mail"), "marketing@blueharbor.test")
    # Platforms the agency has not used yet are folded: Enter on the name opens one.
    expect(page.locator("#perm-pinterest-AD_ACCOUNT-CAMPAIGN_MANAGER")).to_be_hidden()
    keys.press(page.locator("details.platform-items > summary:has(#pf-pinterest)"))
    keys.press(page.locator("#perm-pinterest-AD_ACCOUNT-CAMPAIGN_MANAGER"), " ")
    expect(page.locator("#perm-pinterest-AD_ACCOUNT-CAMPAIGN_MANAGER")).to_be_checked()
    keys.press(page.get_by_role("button", name="Create the link"))
    expect(page).to_have_url(re.compile(r"/app/requests/\d+$"))
    link = page.get_by_label("Link for the client").input_value()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/r/[A-Za-z0-9_-]{40,64}", link), link

    # Back through the page with Shift+Tab: the navigation is reachable again.
    keys.tab_to(page.get_by_role("navigation", name="Main").first.get_by_role("link").first, True)

    assert pointer_presses(page) == 0
    missing = keys.without_focus_ring()
    assert not missing, f"focus not visible on: {missing}"
    assert console.errors == []
