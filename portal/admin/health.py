"""Operations for an agency's admins: queues, failed jobs, periodic jobs.

RQ's queues and registries are shared by every agency on the server, so the
page is careful about what it shows:

- queue lengths and the last run of each periodic job are counts and times
  that say nothing about any agency: shown as they are;
- a failed job is shown (and can be retried or discarded) only when its
  arguments point at this agency's objects: the job's ids are looked up in
  the database and the owning agency compared with the signed-in one;
- every other failed job (another agency's, or a system job such as a
  periodic sweep) is only counted. Retrying or discarding those is for the
  server's operators (`rq requeue`/`rq empty` or RQ's dashboard), never for
  one tenant: a discard would lose another agency's e-mail or webhook.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from flask import abort, current_app, flash, g, redirect, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from .. import audit, nav
from ..auth.session import role_required
from ..extensions import db
from ..models import AccessRequest, Agency, Grant
from ..platforms import versions
from ..web import render
from . import bp

nav.add("admin.health", _l("Health"), min_role="admin", order=95)

# Which object a job's first argument is the id of: the job belongs to that
# object's agency. Areas that add jobs taking ids add them here.
JOB_SUBJECTS: dict[str, type] = {
    "worker.jobs.verify_grant": Grant,
    "worker.jobs.reverify_grant": Grant,
    "worker.jobs.send_grant_removed_email": Grant,
    "worker.jobs.send_request_email": AccessRequest,
    "worker.jobs.send_completion_emails": AccessRequest,
    "worker.jobs.send_grant_alerts": AccessRequest,
    "worker.jobs.plan_expiry": AccessRequest,
    "worker.jobs.expire_request": AccessRequest,
    "worker.jobs.send_access_review": Agency,
}
FAILED_SHOWN = 200  # per queue: enough to act on, bounded for the page


@dataclass
class FailedJob:
    id: str
    queue: str
    title: str
    function: str
    failed_at: datetime | None
    error: str


def jobs_run_in_workers() -> bool:
    config = current_app.config
    mode = config.get("JOBS_MODE") or ("rq" if config.get("REDIS_URL") else "thread")
    return mode == "rq"


def job_agency(rq_job) -> int | None:
    """The agency a job works for, from its first argument; None for system jobs."""
    model = JOB_SUBJECTS.get(rq_job.func_name)
    if model is None or not rq_job.args:
        return None
    try:
        object_id = int(rq_job.args[0])
    except (TypeError, ValueError):
        return None
    if model is Agency:
        return object_id if db.session.get(Agency, object_id) is not None else None
    row = db.session.get(model, object_id)
    return row.agency_id if row is not None else None


def _last_error(rq_job) -> str:
    result = rq_job.latest_result()
    text = (getattr(result, "exc_string", None) or "").strip()
    last = text.splitlines()[-1] if text else ""
    return last[:300]


def _queues_and_failures(agency_id: int):
    from rq import Queue
    from rq.job import Job
    from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

    from worker import QUEUES

    from ..kv import redis_connection

    conn = redis_connection()
    queues, mine, others = [], [], 0
    for name in QUEUES:
        queue = Queue(name, connection=conn)
        failed = FailedJobRegistry(queue=queue)
        queues.append(
            {
                "name": name,
                "waiting": queue.count,
                "running": StartedJobRegistry(queue=queue).count,
                "scheduled": ScheduledJobRegistry(queue=queue).count,
                "failed": failed.count,
            }
        )
        ids = failed.get_job_ids(0, FAILED_SHOWN - 1)
        for rq_job in Job.fetch_many(ids, connection=conn):
            if rq_job is None:
                continue
            if job_agency(rq_job) != agency_id:
                others += 1
                continue
            mine.append(
                FailedJob(
                    rq_job.id,
                    name,
                    rq_job.description or rq_job.func_name,
                    rq_job.func_name.rpartition(".")[2],
                    rq_job.ended_at,
                    _last_error(rq_job),
                )
            )
    mine.sort(key=lambda j: j.failed_at or datetime.min, reverse=True)
    return queues, mine, others


def _periodic_runs() -> list[dict]:
    from worker.jobs import last_run
    from worker.schedule import PERIODIC

    runs = []
    for entry in PERIODIC:
        name = entry["func"].rpartition(".")[2]
        every = entry.get("cron") or _("every %(n)d s", n=entry.get("interval") or 0)
        runs.append({"name": name, "queue": entry["queue"], "every": every, "last": last_run(name)})
    return runs


@bp.get("/health")
@role_required("admin")
def health():
    in_workers = jobs_run_in_workers()
    queues, failed, others = ([], [], 0)
    workers = 0
    if in_workers:
        from rq import Worker

        from ..kv import redis_connection

        queues, failed, others = _queues_and_failures(g.agency_id)
        workers = Worker.count(connection=redis_connection())
    return render(
        "admin/health.html",
        in_workers=in_workers,
        queues=queues,
        failed=failed,
        others=others,
        workers=workers,
        periodic=_periodic_runs(),
        api_versions=versions.report(datetime.now(UTC).date()),
    )


def _own_failed_job(job_id: str):
    """The failed job with this id if it belongs to the current agency; else 404."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job
    from rq.registry import FailedJobRegistry

    from ..kv import redis_connection

    if not jobs_run_in_workers():
        abort(404)
    conn = redis_connection()
    try:
        rq_job = Job.fetch(job_id, connection=conn)
    except (NoSuchJobError, ValueError):  # ValueError: not even the form of a job id
        abort(404)
    registry = FailedJobRegistry(rq_job.origin, connection=conn)
    if rq_job.id not in registry or job_agency(rq_job) != g.agency_id:
        abort(404)
    return rq_job, registry


def _record(action: str, rq_job) -> None:
    audit.record(
        action,
        agency_id=g.agency_id,
        subject=("job", rq_job.id),
        details={"function": rq_job.func_name, "queue": rq_job.origin},
    )
    db.session.commit()


@bp.post("/health/jobs/<job_id>/retry")
@role_required("admin")
def health_job_retry(job_id: str):
    rq_job, registry = _own_failed_job(job_id)
    registry.requeue(rq_job)
    _record("job.retried", rq_job)
    flash(_("The job is queued again; this page shows if it fails once more."), "success")
    return redirect(url_for("admin.health"), code=303)


@bp.post("/health/jobs/<job_id>/discard")
@role_required("admin")
def health_job_discard(job_id: str):
    rq_job, registry = _own_failed_job(job_id)
    registry.remove(rq_job, delete_job=True)
    _record("job.discarded", rq_job)
    flash(_("The job was discarded. Nothing else will run it."), "success")
    return redirect(url_for("admin.health"), code=303)
