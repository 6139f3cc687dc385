"""Helpers for the browser tests of the client's journey and the agency's side.

- `BackgroundWorker`: a real RQ `SimpleWorker` on a thread, taking jobs off
  real Redis while the browser waits (as `latchkey worker` would in production);
- `AgencyBrowser` / `ClientBrowser`: what a person does on each side, through
  roles and names only (buttons, radio buttons, labels), never through ids the
  person cannot see, except the copyable link's input;
- `watch_console`, `fits_width`, click counting in the page itself.
"""

from __future__ import annotations

import re
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field

from playwright.sync_api import BrowserContext, Page, expect
from rq.timeouts import TimerDeathPenalty

from portal.extensions import db
from worker.runner import LatchkeySimpleWorker

# A worker that takes longer than this to stop is hung (tests/test_worker_stops.py).
STOP_SECONDS = 20

# Counted by the page itself: every click a person makes (isTrusted) on any
# page of the 127.0.0.1 origin (the client pages and the emulated Pinterest),
# kept in sessionStorage so it survives each navigation of the tab.
COUNT_CLICKS = """
document.addEventListener("click", function (event) {
  if (!event.isTrusted) return;
  var n = parseInt(sessionStorage.getItem("latchkey-test-clicks") || "0", 10);
  sessionStorage.setItem("latchkey-test-clicks", String(n + 1));
}, true);
"""


# ------------------------------------------------------------------ jobs


class ThreadWorker(LatchkeySimpleWorker):
    """A SimpleWorker for a thread: no signal handlers, jobs timed out by a timer."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self):
        pass


class BackgroundWorker:
    """RQ's SimpleWorker on a thread, in bursts, until stopped.

    Signal handlers and the SIGALRM job timeout only work on the main thread,
    so this worker installs no handlers and times jobs out with a timer.
    Retries RQ scheduled for later are moved to their queue when due, as the
    scheduler of `latchkey worker` does.
    """

    def __init__(self, app, poll: float = 0.1):
        from portal.kv import redis_connection
        from worker import QUEUES, set_worker_app

        set_worker_app(app)
        self.worker_class = ThreadWorker
        self.connection = redis_connection()
        assert self.connection is not None, "the browser journeys need Redis (JOBS_MODE=rq)"
        self.queue_names = list(QUEUES)
        self.poll = poll
        self.stopping = threading.Event()
        self.errors: list[BaseException] = []
        self.jobs_run = 0
        self.bursts = 0
        self.thread = threading.Thread(target=self._loop, name="rq-browser-worker", daemon=True)

    def __enter__(self) -> BackgroundWorker:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=STOP_SECONDS)
        if self.thread.is_alive():
            frame = sys._current_frames().get(self.thread.ident)
            where = "".join(traceback.format_stack(frame)) if frame else "(no stack)"
            raise AssertionError(
                f"the RQ worker thread did not stop within {STOP_SECONDS} s; it hangs here:\n"
                + where
            )
        assert not self.errors, self.errors

    def _loop(self) -> None:
        from rq import Queue
        from rq.scheduler import RQScheduler

        queues = [Queue(name, connection=self.connection) for name in self.queue_names]
        scheduler = RQScheduler(queues, connection=self.connection)
        scheduler.prepare_registries(self.queue_names)
        while not self.stopping.is_set():
            try:
                scheduler.enqueue_scheduled_jobs()
                worker = self.worker_class(queues, connection=self.connection)
                if worker.work(burst=True, logging_level="WARNING"):
                    self.jobs_run += 1
                self.bursts += 1
            except Exception as exc:  # reported by stop(), which fails the test
                self.errors.append(exc)
                return
            self.stopping.wait(self.poll)


# -------------------------------------------------------------- console


@dataclass
class Console:
    """Console errors and uncaught exceptions, with the address of the page."""

    seen: list[tuple[str, str]] = field(default_factory=list)

    def attach(self, page: Page) -> Page:
        def on_console(msg):
            if msg.type == "error":
                self.seen.append((page.url, msg.text))

        page.on("console", on_console)
        page.on("pageerror", lambda exc: self.seen.append((page.url, str(exc))))
        return page

    @property
    def errors(self) -> list[tuple[str, str]]:
        """Errors on Latchkey's own pages (the emulated platform's pages left out)."""
        return [(url, text) for url, text in self.seen if "/sandbox/" not in url]


def watch_console(context: BrowserContext) -> Console:
    """Errors logged on any page of the context (CSP violations are console errors)."""
    console = Console()
    context.on("page", console.attach)
    for page in context.pages:
        console.attach(page)
    return console


def fits_width(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def clicks_counted(page: Page) -> int:
    return int(page.evaluate("parseInt(sessionStorage.getItem('latchkey-test-clicks') || '0')"))


# ---------------------------------------------------------------- agency


def open_platform(page: Page, platform_id: str) -> None:
    """Unfold a platform of the permission picker by clicking its name, if folded."""
    section = page.locator(f"details.platform-items:has(#pf-{platform_id})")
    if section.get_attribute("open") is None:
        page.locator(f"#pf-{platform_id}").click()
    expect(section).to_have_attribute("open", "")


def connected_agency(name: str = "Acme Agency", email: str = "owner@acme.test"):
    """An agency and its owner, connected to the emulated Pinterest."""
    from conftest import make_agency

    from portal.sandbox.connect import connect_agency_to_sandbox

    agency, owner = make_agency(name, email)
    connect_agency_to_sandbox(agency)
    db.session.commit()
    return agency, owner


def link_for(agency, owner, locale: str = "en", **kwargs) -> str:
    """Create a Pinterest request (ad account + profile) with the services; its link."""
    from helpers_requests import make_request

    from portal.services.requests import request_url

    access_request, token = make_request(agency, owner, locale=locale, **kwargs)
    return request_url(access_request, token)


class AgencyBrowser:
    """The agency's user, signed in through the real sign-in form."""

    def __init__(self, page: Page):
        self.page = page

    def sign_in(self, email: str, password: str) -> None:
        page = self.page
        page.goto("/auth/login")
        page.get_by_label("E-mail").fill(email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        expect(page).not_to_have_url(re.compile(r"/auth/login"))

    def create_pinterest_request(self, client_name: str, client_email: str, locale: str) -> str:
        """Fill /app/requests/new for an ad account and a profile; the link shown."""
        page = self.page
        page.goto("/app/requests/new")
        page.get_by_label("Client's name").fill(client_name)
        page.get_by_label("Client's e-mail").fill(client_email)
        page.get_by_label("Language of the client's page").select_option(locale)
        open_platform(page, "pinterest")
        page.locator("#perm-pinterest-AD_ACCOUNT-CAMPAIGN_MANAGER").check()
        page.locator("#perm-pinterest-PROFILE-PROFILE_PUBLISHER").check()
        page.get_by_role("button", name="Create the link").click()
        expect(page).to_have_url(re.compile(r"/app/requests/\d+$"))
        link = page.get_by_label("Link for the client").input_value()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/r/[A-Za-z0-9_-]{40,64}", link), link
        return link

    def grant_states(self) -> list[str]:
        """The status of each grant in the live progress table."""
        return grant_states(self.page, "#request-status tbody")


# ---------------------------------------------------------------- client


class ClientBrowser:
    """The client on the link, in their own browser profile."""

    def __init__(self, page: Page):
        self.page = page
        self.clicks = 0

    def click(self, locator) -> None:
        self.clicks += 1
        locator.click()

    def open(self, link: str) -> None:
        self.page.goto(link)
        expect(self.page.locator("#step")).to_be_visible()

    def connect(self, name: str = "Connect Pinterest") -> None:
        self.click(self.page.get_by_role("button", name=name, exact=True))
        expect(self.page.get_by_role("button", name="Allow")).to_be_visible()

    def consent(self, persona: str = "Business account", decision: str = "Allow") -> None:
        """On the emulated Pinterest: sign in as `persona` and press Allow (or Deny)."""
        radio = self.page.get_by_role("radio", name=persona, exact=True)
        if not radio.is_checked():
            self.click(radio)
        expect(radio).to_be_checked()
        self.click(self.page.get_by_role("button", name=decision, exact=True))
        self.page.wait_for_url(re.compile(r"/r/[^/]+/p/pinterest$"))

    def grant(self, name: str = "Grant access") -> None:
        self.click(self.page.get_by_role("button", name=name))
        expect(self.page.locator("#grant-status .badge").first).to_be_visible(timeout=20_000)

    def statuses(self) -> list[str]:
        """Each grant's status (the badge's class: the same in every language)."""
        return grant_states(self.page, "#grant-status")

    def wait_until_settled(self, timeout: float = 20) -> list[str]:
        """Wait (without reloading) until no grant is pending, granted or verifying."""
        in_flight = self.page.locator(
            "#grant-status .badge.pending, #grant-status .badge.granted, "
            "#grant-status .badge.verifying"
        )
        expect(in_flight).to_have_count(0, timeout=timeout * 1000)
        return self.statuses()


def grant_states(page: Page, within: str) -> list[str]:
    """Statuses of the grant badges under `within`, read from their class."""
    return page.evaluate(
        """within => Array.from(document.querySelectorAll(within + " .badge"))
            .map(b => Array.from(b.classList).find(c => c !== "badge"))""",
        within,
    )


def wait_for(predicate, timeout: float = 20, interval: float = 0.1):
    """Poll `predicate` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {predicate}")
        time.sleep(interval)
