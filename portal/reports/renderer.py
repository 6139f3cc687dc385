"""HTML to PDF with WeasyPrint: bundled fonts, a locked-down fetcher, a deadline.

Speed: compiling the stylesheet and loading the bundled fonts into a Fontconfig
configuration costs tens of milliseconds, so each compiled
(FontConfiguration, stylesheet) pair is kept in a small pool and reused. A
pair is used by one render at a time (Pango font maps are not thread-safe)
and is thrown away if its render failed or was interrupted. A process
forked from one that rendered starts with an empty pool.

Deadline: the render runs in its own short-lived thread and the caller waits
at most `timeout` seconds. On timeout the caller gets `ReportTimeout` at once
and the render thread is interrupted with an asynchronous exception, which
Python delivers at the thread's next bytecode (WeasyPrint's layout is Python,
and its calls into Pango/Fontconfig return quickly). This works the same in a
web thread, an RQ work horse and a SimpleWorker, unlike `signal.alarm`, which
only works in the main thread and would collide with RQ's own job timeout.
The hard backstops stay in place: RQ kills a work horse that outlives the
job's timeout, and gunicorn restarts a worker that stops answering.

Garbage collection: a render builds hundreds of thousands of short-lived
objects (boxes, styles, Pango wrappers), which set off several collections of
the whole heap of a warm process, about a tenth of the render's time. The
cyclic collector is paused while any render runs and resumed (in its earlier
state) when the last one ends; the render's garbage is then collected as
usual. Reference counting frees most of it meanwhile. The pause is taken and
released by the calling thread, never by the render thread, so an
interrupted render cannot leave the collector off.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import gc
import hashlib
import logging
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

import weasyprint
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration

from .fetcher import ReportURLFetcher

log = logging.getLogger(__name__)

FONT_FAMILY = "Latchkey Report Sans"
# (file name, weight) of the bundled faces; see static/fonts/LICENSE-DejaVu.txt.
FONT_FACES = (("DejaVuSans.ttf", 400), ("DejaVuSans-Bold.ttf", 700))
_POOL_SIZE = 4


class ReportError(RuntimeError):
    """The report could not be produced."""


class ReportTimeout(ReportError):
    """The renderer did not finish in time."""


class _Interrupted(BaseException):
    """Raised inside a render thread whose caller gave up waiting.

    A BaseException so that WeasyPrint's `except Exception` handlers let it
    through and the render stops instead of carrying on.
    """


@dataclass
class _Kit:
    key: tuple
    font_config: FontConfiguration
    stylesheet: CSS


@dataclass
class _Job:
    lock: threading.Lock = field(default_factory=threading.Lock)
    finished: bool = False
    abandoned: bool = False
    result: bytes | None = None
    error: BaseException | None = None
    refused: list[str] = field(default_factory=list)


# WeasyPrint's user-agent stylesheet, less its rules for pseudo-elements that
# every element may have (list markers, footnote and note calls and markers).
# The report has no lists, footnotes or notes, yet each of those rules gives
# each of its elements six extra computed styles: about 6% of a render.
_UNIVERSAL_PSEUDO = re.compile(r"^::(marker|footnote-call|footnote-marker|note-\w+)\s*\{.*\}\s*$")


def _lean_ua_source() -> str:
    path = Path(weasyprint.__file__).parent / "css" / "html5_ua.css"
    lines = path.read_text(encoding="utf-8").splitlines()
    kept = [line for line in lines if not _UNIVERSAL_PSEUDO.match(line)]
    if len(lines) - len(kept) != 6:
        # A WeasyPrint upgrade changed the stylesheet: render with it unchanged
        # (only slower) until someone reviews this; the report tests say so.
        log.warning("unexpected user-agent stylesheet in %s: using it as it is", path)
        return "\n".join(lines)
    return "\n".join(kept)


_lean_ua_sheet: CSS | None = None


def _lean_ua() -> CSS:
    global _lean_ua_sheet
    if _lean_ua_sheet is None:  # two threads may both compile it: harmless
        _lean_ua_sheet = CSS(string=_lean_ua_source())
    return _lean_ua_sheet


class ReportHTML(HTML):
    """An HTML document rendered with the lean user-agent stylesheet.

    `_ua_stylesheets` is WeasyPrint's hook for the user-agent stylesheets
    (tests/test_reports.py checks that it is still there and used)."""

    def _ua_stylesheets(self, forms=False):
        if forms:  # never in a report; keep WeasyPrint's own
            return super()._ua_stylesheets(forms)
        return [_lean_ua()]


_pool: list[_Kit] = []
_pool_lock = threading.Lock()

_gc_lock = threading.Lock()
_gc_pauses = 0
_gc_was_enabled = False


@contextlib.contextmanager
def gc_paused():
    """Pause the cyclic garbage collector while at least one render runs
    (nestable; a caller may hold it across building the HTML as well)."""
    global _gc_pauses, _gc_was_enabled
    with _gc_lock:
        if _gc_pauses == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pauses += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses -= 1
            if _gc_pauses == 0 and _gc_was_enabled:
                gc.enable()


def font_face_css(font_dir: Path) -> str:
    """@font-face rules for the bundled fonts, as file URLs the fetcher allows."""
    rules = []
    for filename, weight in FONT_FACES:
        path = font_dir / filename
        if not path.is_file():
            raise ReportError(f"bundled font missing: {path}")
        rules.append(
            f'@font-face {{ font-family: "{FONT_FAMILY}"; src: url("{path.resolve().as_uri()}"); '
            f"font-weight: {weight}; font-style: normal; }}"
        )
    return "\n".join(rules)


def _kit_key(stylesheet_path: Path, font_dir: Path) -> tuple:
    stat = stylesheet_path.stat()
    return (str(stylesheet_path), stat.st_mtime_ns, stat.st_size, str(font_dir))


def _take_kit(stylesheet_path: Path, font_dir: Path, allowed_dirs: tuple[Path, ...]) -> _Kit:
    key = _kit_key(stylesheet_path, font_dir)
    with _pool_lock:
        # Drop kits built from an older stylesheet (edited during development).
        _pool[:] = [kit for kit in _pool if kit.key == key]
        if _pool:
            return _pool.pop()
    font_config = FontConfiguration()
    source = font_face_css(font_dir) + "\n" + stylesheet_path.read_text(encoding="utf-8")
    stylesheet = CSS(
        string=source,
        font_config=font_config,
        url_fetcher=ReportURLFetcher(allowed_dirs),
        base_url=stylesheet_path.resolve().as_uri(),
    )
    return _Kit(key, font_config, stylesheet)


def _adopt_inherited_kits() -> None:
    """In a forked child (an RQ work horse, a gunicorn worker), keep the kits.

    A work horse is forked to render one report: compiling the stylesheet
    and loading the fonts again would cost it 60-80 ms, so it renders with
    the kits the parent prepared (see `prepare`). Their temporary font
    folders belong to the parent: they are detached so the child never
    deletes them when its copies are freed. The lock is replaced too, in
    case another thread held it at the fork.
    """
    global _pool_lock, _gc_lock, _gc_pauses
    _pool_lock = threading.Lock()
    # Forked while a render ran in another thread: that render does not exist
    # here, so neither does its pause of the garbage collector.
    _gc_lock = threading.Lock()
    if _gc_pauses and _gc_was_enabled:
        gc.enable()
    _gc_pauses = 0
    for kit in _pool:
        kit.font_config._folder = None  # FontConfiguration.__del__ removes this folder


def _drain_pool() -> None:
    """Free the kits while the interpreter is still whole: left to module
    teardown, their Pango and Fontconfig objects can be released after the
    libraries' bindings are gone, which crashes the process on exit."""
    with _pool_lock:
        _pool.clear()


os.register_at_fork(after_in_child=_adopt_inherited_kits)
atexit.register(_drain_pool)


def _give_back(kit: _Kit) -> None:
    with _pool_lock:
        if len(_pool) < _POOL_SIZE:
            _pool.append(kit)


def _interrupt(thread: threading.Thread) -> None:
    ident = thread.ident
    if ident is None or not thread.is_alive():
        return
    hit = ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(ident), ctypes.py_object(_Interrupted)
    )
    if hit > 1:  # never expected: undo rather than disturb other threads
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), None)


def render_pdf(
    html: str,
    *,
    stylesheet_path: Path,
    font_dir: Path,
    allowed_dirs: tuple[Path, ...],
    timeout: float,
    label: str = "report",
) -> bytes:
    """Render `html` to PDF bytes, reading only through `ReportURLFetcher`.

    Raises ReportTimeout after `timeout` seconds and ReportError if WeasyPrint
    fails.
    """
    kit = _take_kit(stylesheet_path, font_dir, allowed_dirs)
    job = _Job()

    def run() -> None:
        try:
            fetcher = ReportURLFetcher(allowed_dirs)
            document = ReportHTML(string=html, url_fetcher=fetcher)
            job.result = document.write_pdf(
                stylesheets=[kit.stylesheet], font_config=kit.font_config
            )
            job.refused = list(fetcher.refused)
        except _Interrupted:
            return
        except Exception as exc:
            job.error = exc
        with job.lock:
            job.finished = True
            # A kit whose render failed or was abandoned is not trusted again.
            if job.error is None and not job.abandoned:
                _give_back(kit)

    def target() -> None:
        # An interruption landing between statements of `run` ends here; the
        # caller has already reported the timeout.
        with contextlib.suppress(_Interrupted):
            run()

    digest = hashlib.sha256(html.encode()).hexdigest()[:8]
    thread = threading.Thread(target=target, name=f"latchkey-pdf-{digest}", daemon=True)
    with gc_paused():
        thread.start()
        thread.join(timeout)
        with job.lock:
            if not job.finished:
                job.abandoned = True
    if job.abandoned:
        _interrupt(thread)
        log.error("PDF %s: rendering took longer than %.0f s and was stopped", label, timeout)
        raise ReportTimeout(f"The PDF {label} took longer than {timeout:.0f} s to render.")
    if job.error is not None:
        raise ReportError(f"The PDF {label} could not be rendered: {job.error}") from job.error
    if job.refused:
        log.warning("PDF %s: %d reference(s) refused: %s", label, len(job.refused), job.refused)
    if job.result is None:
        raise ReportError(f"The PDF {label} could not be rendered: no output.")
    return job.result


def prepare(stylesheet_path: Path, font_dir: Path, allowed_dirs: tuple[Path, ...]) -> None:
    """Compile a kit ahead of the first render (a worker does it before forking)."""
    _lean_ua()
    _give_back(_take_kit(stylesheet_path, font_dir, allowed_dirs))


def pool_size() -> int:
    """How many compiled stylesheets are ready (for tests and the health view)."""
    with _pool_lock:
        return len(_pool)
