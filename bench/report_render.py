"""How fast is the PDF confirmation report, next to WeasyPrint on a trivial page?

Standalone: builds its own app (LATCHKEY_ENV=test, SQLite in a temporary
folder), one agency with a branded logo, a completed request with 12 grants
and its audit trail, then in the same warm process:

  * renders the report RUNS times (after WARMUP renders), through the public
    `portal.reports.render_report` (database reads, template, WeasyPrint,
    bundled fonts, the render thread and its deadline: everything);
  * renders a plain one-page HTML document (a heading and a paragraph) with
    WeasyPrint's defaults RUNS times;

and prints median and p95 of each (wall clock, and the CPU time of the
process next to it, which a busy machine disturbs less), and their ratio.
Target: report median under 300 ms.

    .venv/bin/python bench/report_render.py [--runs 30] [--warmup 3] [--gc-freeze] [--check]
"""

from __future__ import annotations

import argparse
import gc
import io
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pypdf import PdfReader

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PLAIN_HTML = (
    "<!doctype html><html><body><h1>Access confirmation</h1>"
    "<p>A plain paragraph of text, rendered to a one-page PDF by WeasyPrint.</p></body></html>"
)
ASSETS = [
    ("AD_ACCOUNT", "549755885175", "Bloom Bakery - Main ads", ["CAMPAIGN_MANAGER", "ANALYST"]),
    ("AD_ACCOUNT", "549755885176", "Bloom Bakery - Seasonal", ["CAMPAIGN_MANAGER"]),
    ("AD_ACCOUNT", "549755885177", "Bloom Bakery - Export", ["ANALYST", "FINANCE_VIEW"]),
    ("AD_ACCOUNT", "549755885178", "Bloom Bakery - Tests", ["AUDIENCE_MANAGER"]),
    ("PROFILE", "bloombakery", "Bloom Bakery", ["PROFILE_PUBLISHER"]),
    ("PROFILE", "bloombakery-fr", "Bloom Bakery France", ["PROFILE_PUBLISHER", "ANALYST"]),
    ("CATALOG", "cat-3391", "Bloom product feed", ["CATALOGS_MANAGER"]),
    ("CATALOG", "cat-3392", "Bloom gift cards", ["CATALOGS_VIEWER"]),
    ("ASSET_GROUP", "ag-771", "Spring campaign assets", ["CAMPAIGN_MANAGER"]),
    ("ASSET_GROUP", "ag-772", "Evergreen assets", ["ANALYST"]),
    ("AD_ACCOUNT", "549755885179", "Bloom Bakery - Agency sandbox", ["ADMIN"]),
    ("PROFILE", "bloom-kitchen", "Bloom Kitchen", ["ANALYST"]),
]


def build_app(tmp: Path):
    from cryptography.fernet import Fernet

    os.environ["LATCHKEY_INSTANCE_PATH"] = str(tmp / "instance")
    from portal import create_app

    return create_app(
        {
            "ENV": {"LATCHKEY_ENV": "test", "LATCHKEY_SANDBOX": "1"},
            "SECRET_KEY": "bench-secret-key-0123456789abcdef0123456789",
            "LATCHKEY_ENCRYPTION_KEYS": [Fernet.generate_key().decode()],
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'bench.sqlite3'}",
            "REDIS_URL": None,
            "RATELIMIT_STORAGE_URI": "memory://",
            "JOBS_MODE": "inline",
            "LATCHKEY_BASE_URL": "https://latchkey.example",
        }
    )


def tiny_png() -> bytes:
    import segno

    out = io.BytesIO()
    segno.make("Bloom", micro=False).save(out, kind="png", scale=4, dark="#0e7490")
    return out.getvalue()


def build_request() -> int:
    from portal import audit
    from portal.crypto import encrypt, new_token, token_hash
    from portal.extensions import db
    from portal.models import AccessRequest, Agency, Client, Grant

    now = datetime.now(UTC).replace(microsecond=0)
    agency = Agency(
        name="Northwind Digital",
        slug="northwind-digital",
        display_name="Northwind Digital",
        primary_color="#0e7490",
        logo=tiny_png(),
        logo_mimetype="image/png",
        support_email="help@northwind.example",
        identities={},
    )
    db.session.add(agency)
    db.session.flush()
    client = Client(agency_id=agency.id, name="Bloom Bakery", email="owner@bloom.example")
    db.session.add(client)
    db.session.flush()
    token = new_token()
    request = AccessRequest(
        agency_id=agency.id,
        client_id=client.id,
        items=[
            {"platform": "pinterest", "asset_type": t, "permissions": p} for t, _i, _n, p in ASSETS
        ],
        locale="en",
        token_hash=token_hash(token),
        token_encrypted=encrypt(token),
        status="completed",
        created_at=now - timedelta(days=2),
        sent_at=now - timedelta(days=2),
        opened_at=now - timedelta(days=1),
        completed_at=now - timedelta(hours=1),
        expires_at=now + timedelta(days=12),
    )
    db.session.add(request)
    db.session.flush()
    client_actor = audit.Actor("client", str(client.id), client.email)
    audit.record(
        "access_request.created", agency_id=agency.id, subject=("access_request", request.id)
    )
    audit.record(
        "access_request.opened",
        agency_id=agency.id,
        actor=client_actor,
        subject=("access_request", request.id),
    )
    for index, (asset_type, asset_id, name, permissions) in enumerate(ASSETS):
        grant = Grant(
            agency_id=agency.id,
            access_request_id=request.id,
            item_index=index,
            platform="pinterest",
            asset_type=asset_type,
            asset_id=asset_id,
            asset_name=name,
            permissions=permissions,
            status="verified",
            granted_at=now - timedelta(hours=3, minutes=index),
            verified_at=now - timedelta(hours=2, minutes=index),
        )
        db.session.add(grant)
        db.session.flush()
        for action, actor in (
            ("grant.granted", client_actor),
            ("grant.verifying", audit.SYSTEM),
            ("grant.verified", audit.SYSTEM),
        ):
            audit.record(action, agency_id=agency.id, actor=actor, subject=("grant", grant.id))
    audit.record(
        "access_request.completed",
        agency_id=agency.id,
        actor=audit.SYSTEM,
        subject=("access_request", request.id),
    )
    db.session.commit()
    return request.id


def summarise(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


def timed(action) -> tuple[float, float, object]:
    """Wall-clock and CPU milliseconds (all threads of this process) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = action()
    return (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument(
        "--gc-freeze",
        action="store_true",
        help="call gc.freeze() after warm-up, as a worker process can once the app is built",
    )
    parser.add_argument(
        "--check", action="store_true", help="exit 1 when the report median misses the target"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="latchkey-bench-") as folder:
        app = build_app(Path(folder))
        from weasyprint import HTML

        from portal.extensions import db
        from portal.reports import render_report

        with app.app_context():
            db.create_all()
            request_id = build_request()

            for _ in range(args.warmup):
                render_report(request_id)
                HTML(string=PLAIN_HTML).write_pdf()
            if args.gc_freeze:
                gc.freeze()

            report_wall, report_cpu, plain_wall, plain_cpu = [], [], [], []
            pdf = b""
            for _ in range(args.runs):
                wall, cpu, pdf = timed(lambda: render_report(request_id))
                report_wall.append(wall)
                report_cpu.append(cpu)
                wall, cpu, _ = timed(lambda: HTML(string=PLAIN_HTML).write_pdf())
                plain_wall.append(wall)
                plain_cpu.append(cpu)
            db.session.remove()

    pages = len(PdfReader(io.BytesIO(pdf)).pages)
    report_median, report_p95 = summarise(report_wall)
    plain_median, plain_p95 = summarise(plain_wall)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"machine: {os.cpu_count()} CPUs, load average {load}")
    print(
        f"report ({len(ASSETS)} grants, {pages} pages, {len(pdf) // 1024} KiB), "
        f"{args.runs} runs{', gc frozen' if args.gc_freeze else ''}:"
    )
    print(
        f"  median {report_median:7.1f} ms   p95 {report_p95:7.1f} ms   "
        f"(CPU median {statistics.median(report_cpu):.1f} ms)"
    )
    print(f"plain one-page WeasyPrint document, {args.runs} runs:")
    print(
        f"  median {plain_median:7.1f} ms   p95 {plain_p95:7.1f} ms   "
        f"(CPU median {statistics.median(plain_cpu):.1f} ms)"
    )
    print(f"ratio (report / plain, medians): {report_median / plain_median:.1f}x")
    target = 300.0
    verdict = "met" if report_median < target else "MISSED"
    print(f"target: report median under {target:.0f} ms -> {verdict}")
    return 1 if args.check and report_median >= target else 0


if __name__ == "__main__":
    sys.exit(main())
