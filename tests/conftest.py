"""Fixtures: the app on the real PostgreSQL and Redis, a live server for the
sandbox and the browser, personas, and RQ workers.

Where the services are: LATCHKEY_TEST_DATABASE_URL / LATCHKEY_TEST_REDIS_URL,
else PostgreSQL and Redis on 127.0.0.1 when they answer, else SQLite and no
Redis (tests that need Redis then skip, and under CI=true a skip fails the run).
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import threading
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text

# Every call to an emulated platform is held to the platform's own description.
pytest_plugins = ["tests.conformance.plugin"]

CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REDIS_DEFAULT = "redis://127.0.0.1:6379/15"
PASSWORD = "correct horse battery staple 42"


def _port_open(host: str, port: int) -> bool:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _worker_suffix() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "")


def _session_tag() -> str:
    """Separates concurrent test runs: each xdist worker, each pytest process."""
    return f"{_worker_suffix() or 'main'}_{os.getpid()}"


def database_url(tmp_root: Path) -> str:
    url = os.environ.get("LATCHKEY_TEST_DATABASE_URL")
    if not url and _port_open("127.0.0.1", 5432):
        url = PG_DEFAULT
    if not url:
        if CI:
            pytest.exit("CI=true but PostgreSQL is not reachable on 127.0.0.1:5432", returncode=3)
        return f"sqlite:///{tmp_root / 'test.sqlite3'}"
    if url.startswith("postgresql"):
        # A database of its own for this run, dropped at the end.
        import psycopg

        base, _, name = url.rpartition("/")
        new_name = f"{name}_run_{_session_tag()}"
        with psycopg.connect(_plain(url), autocommit=True) as conn:
            _drop_abandoned_databases(conn, name)
            conn.execute(f'DROP DATABASE IF EXISTS "{new_name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{new_name}"')
        url = f"{base}/{new_name}"
    return url


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _abandoned(tag: str) -> bool:
    """A run tag ("gw0_1234", "main_1234", "smoke_1234") whose process is gone."""
    pid = tag.rsplit("_", 1)[-1]
    return pid.isdigit() and not _pid_alive(int(pid))


def _drop_abandoned_databases(conn, name: str) -> None:
    """Drop the databases of runs that were killed before they could clean up."""
    rows = conn.execute(
        "SELECT datname FROM pg_database WHERE datname LIKE %s OR datname LIKE %s",
        (f"{name}\\_run\\_%", f"{name}\\_smoke\\_%"),
    ).fetchall()
    for (datname,) in rows:
        if _abandoned(datname):
            conn.execute(f'DROP DATABASE IF EXISTS "{datname}" WITH (FORCE)')


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg", "postgresql")


def _drop_database(url: str) -> None:
    if not url.startswith("postgresql"):
        return
    import psycopg

    name = url.rpartition("/")[2]
    admin = os.environ.get("LATCHKEY_TEST_DATABASE_URL", PG_DEFAULT)
    with psycopg.connect(_plain(admin), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def redis_url() -> str | None:
    url = os.environ.get("LATCHKEY_TEST_REDIS_URL")
    if not url and _port_open("127.0.0.1", 6379):
        url = REDIS_DEFAULT
    if not url:
        if CI:
            pytest.exit("CI=true but Redis is not reachable on 127.0.0.1:6379", returncode=3)
        return None
    # Redis has 16 numbered databases: each concurrent run claims one of 2..15
    # (a key in db 0), since every test flushes its database.
    from redis import Redis

    root = url.rsplit("/", 1)[0]
    claims = Redis.from_url(root + "/0")
    for index in range(2, 16):  # first, what killed runs left behind
        key = f"latchkey-test:redis-index:{index}"
        holder = claims.get(key)
        if holder is not None and _abandoned(holder.decode()):
            Redis.from_url(f"{root}/{index}").flushdb()
            claims.delete(key)
    for index in range(2, 16):
        key = f"latchkey-test:redis-index:{index}"
        if claims.set(key, _session_tag(), nx=True, ex=7200):
            _CLAIMED.append((root, index))
            return f"{root}/{index}"
    pytest.exit("no free Redis database index (2..15) for this test run", returncode=3)


_CLAIMED: list[tuple[str, int]] = []


def _release_redis() -> None:
    from redis import Redis

    for root, index in _CLAIMED:
        Redis.from_url(root + "/0").delete(f"latchkey-test:redis-index:{index}")
    _CLAIMED.clear()


# --------------------------------------------------------------------------- app


@pytest.fixture(scope="session")
def tmp_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("latchkey")


@pytest.fixture(scope="session")
def server_port() -> int:
    return _free_port()


@pytest.fixture(scope="session")
def app(tmp_root, server_port):
    """One app for the whole run, on the test database, with its schema fresh."""
    from cryptography.fernet import Fernet

    from portal import create_app
    from portal.extensions import db

    instance = tmp_root / "instance"
    instance.mkdir(exist_ok=True)
    os.environ["LATCHKEY_INSTANCE_PATH"] = str(instance)
    redis = redis_url()
    application = create_app(
        {
            "ENV": {"LATCHKEY_ENV": "test", "LATCHKEY_SANDBOX": "1"},
            "SECRET_KEY": "test-secret-key-0123456789abcdef0123456789",
            "LATCHKEY_ENCRYPTION_KEYS": [Fernet.generate_key().decode()],
            "SQLALCHEMY_DATABASE_URI": database_url(tmp_root),
            "REDIS_URL": redis,
            "RATELIMIT_STORAGE_URI": redis or "memory://",
            "LATCHKEY_BASE_URL": f"http://127.0.0.1:{server_port}",
            "JOBS_MODE": "rq" if redis else "inline",
            "TESTING": True,
        }
    )
    # Connector URLs depend on the base URL set above.
    from portal import platforms

    platforms.init_app(application)
    from portal.extensions import limiter

    # Flask-Limiter keeps one storage per Limiter object; tests that build a
    # second app (production settings) rebind it, so it is restored per test.
    application.extensions["test_limiter_state"] = (
        limiter._storage,
        limiter._limiter,
        limiter._storage_uri,
    )
    with application.app_context():
        db.drop_all()
        _drop_alembic_version(db)
        db.create_all()
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()
    _drop_database(application.config["SQLALCHEMY_DATABASE_URI"])
    _release_redis()


def _drop_alembic_version(db) -> None:
    with db.engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))


def _tables_children_first() -> list[str]:
    from portal.extensions import db

    return [t.name for t in reversed(db.metadata.sorted_tables)]


_TABLES_CHILDREN_FIRST: list[str] = []
_POSTGRES_CLEANUP = ""


@pytest.fixture(scope="session", autouse=True)
def _cleanup_statements(app):
    global _POSTGRES_CLEANUP
    _TABLES_CHILDREN_FIRST[:] = _tables_children_first()
    deletes = [f'DELETE FROM "{t}"' for t in _TABLES_CHILDREN_FIRST]  # noqa: S608 (model names)
    # Every id sequence back to 1, as TRUNCATE ... RESTART IDENTITY did.
    restart = (
        "SELECT setval((quote_ident(schemaname) || '.' || quote_ident(sequencename))::regclass, "
        "1, false) FROM pg_sequences WHERE schemaname = current_schema()"
    )
    _POSTGRES_CLEANUP = "; ".join([*deletes, restart])


@pytest.fixture(autouse=True)
def _clean_state(request, app, _cleanup_statements):
    """Each test starts with empty tables, an empty Redis and fresh rate limits."""
    from portal.extensions import db, limiter

    limiter._storage, limiter._limiter, limiter._storage_uri = app.extensions["test_limiter_state"]
    ctx = app.app_context()
    ctx.push()
    yield
    limiter._storage, limiter._limiter, limiter._storage_uri = app.extensions["test_limiter_state"]
    db.session.rollback()
    db.session.remove()
    with db.engine.begin() as conn:
        if db.engine.dialect.name == "postgresql":
            # One round trip. DELETE, not TRUNCATE: truncating ~25 small tables
            # costs ~400 ms (a new file per table), deleting their rows ~8 ms.
            conn.exec_driver_sql(_POSTGRES_CLEANUP)
        else:
            for table in _TABLES_CHILDREN_FIRST:
                conn.execute(text(f'DELETE FROM "{table}"'))  # noqa: S608 (model table names)
    if app.config.get("REDIS_URL"):
        from portal.kv import redis_connection

        redis_connection().flushdb()
    limiter.reset()
    ctx.pop()
    outbox = Path(app.instance_path) / "outbox"
    if outbox.exists():
        for f in outbox.iterdir():
            f.unlink()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def needs_redis(app):
    if not app.config.get("REDIS_URL"):
        pytest.skip("needs Redis (set LATCHKEY_TEST_REDIS_URL or run Redis on 127.0.0.1:6379)")


@pytest.fixture
def needs_postgres(app):
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("needs PostgreSQL (set LATCHKEY_TEST_DATABASE_URL or run it on 127.0.0.1)")


# ---------------------------------------------------------------- live server


class _LiveServer:
    def __init__(self, app, port: int):
        from werkzeug.serving import make_server

        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.server = make_server("127.0.0.1", port, app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 5
        while not _port_open("127.0.0.1", self.port):
            if time.monotonic() > deadline:
                raise RuntimeError("live server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.shutdown()


@pytest.fixture(scope="session")
def _live_server_session(app, server_port):
    server = _LiveServer(app, server_port)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def live_server(_live_server_session):
    """The app served over real HTTP at LATCHKEY_BASE_URL (the sandbox lives there)."""
    return _live_server_session


# ------------------------------------------------------------------ personas


def make_agency(name: str = "Acme Agency", email: str = "owner@acme.test"):
    from portal.services.agencies import create_agency

    # Confirmed, as if its owner had opened the link e-mailed at sign-up.
    agency, user = create_agency(name, email, PASSWORD, email_verified=True)
    return agency, user


def add_member(agency, email: str, role: str):
    from portal.auth.passwords import hash_password
    from portal.extensions import db
    from portal.models import Membership, User

    user = User(email=email, password_hash=_cached_hash(hash_password), name=email.split("@")[0])
    db.session.add(user)
    db.session.flush()
    db.session.add(Membership(agency_id=agency.id, user_id=user.id, role=role))
    db.session.commit()
    return user


_HASH: dict[str, str] = {}


def _cached_hash(hasher) -> str:
    if "h" not in _HASH:
        _HASH["h"] = hasher(PASSWORD)
    return _HASH["h"]


@pytest.fixture
def agency():
    return make_agency()[0]


@pytest.fixture
def owner(agency):
    from portal.models import User

    return User.query.filter_by(email="owner@acme.test").one()


@pytest.fixture
def admin(agency):
    return add_member(agency, "admin@acme.test", "admin")


@pytest.fixture
def member(agency):
    return add_member(agency, "member@acme.test", "member")


@pytest.fixture
def viewer(agency):
    return add_member(agency, "viewer@acme.test", "viewer")


@pytest.fixture
def outsider():
    """Owner of another agency: every id of Acme's must be a 404 to them."""
    _other, user = make_agency("Other Agency", "owner@other.test")
    return user


class Auth:
    """Sign a test client in without the sign-in form (fast, no rate limit)."""

    def __init__(self, client):
        self.client = client

    def login(self, user, agency_id: int | None = None):
        from portal.auth.session import SESSION_ID_KEY, open_server_session
        from portal.extensions import db

        user = db.session.merge(user)
        membership = user.memberships[0] if user.memberships else None
        session_id = open_server_session(user)  # the server's record of this session
        db.session.commit()
        now = int(time.time())
        with self.client.session_transaction() as sess:
            sess.clear()
            sess["_user_id"] = user.get_id()
            sess[SESSION_ID_KEY] = session_id
            sess["_fresh"] = True
            sess["auth_at"] = now
            sess["seen_at"] = now
            sess["agency_id"] = agency_id or (membership.agency_id if membership else None)
        return self.client

    def logout(self):
        with self.client.session_transaction() as sess:
            sess.clear()


@pytest.fixture
def auth(client):
    return Auth(client)


# ----------------------------------------------------------------------- jobs


@pytest.fixture
def rq_worker(app, needs_redis):
    """Run every queued job now with RQ's SimpleWorker (burst) against real Redis."""
    from portal.kv import redis_connection
    from worker import QUEUES, set_worker_app
    from worker.runner import LatchkeySimpleWorker

    set_worker_app(app)

    def run(queues=QUEUES, max_jobs: int | None = None):
        worker = LatchkeySimpleWorker(list(queues), connection=redis_connection())
        worker.work(burst=True, max_jobs=max_jobs)
        return worker

    return run


# ------------------------------------------------------------------- outbox


@pytest.fixture
def outbox(app):
    """E-mails written to the instance outbox, parsed."""
    import email
    from email import policy

    folder = Path(app.instance_path) / "outbox"

    def read():
        if not folder.exists():
            return []
        messages = []
        for path in sorted(folder.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns):
            messages.append(email.message_from_bytes(path.read_bytes(), policy=policy.default))
        return messages

    return read


# ------------------------------------------ no secret in any log line of the run
#
# Every log record of the session is kept as the line that would be written:
# a handler on the root logger, and on the loggers that may stop propagating
# (werkzeug's, RQ's, the in-process job runner's "latchkey.jobs"), each line
# scrubbed as the app's own formatter scrubs it (portal.observability). Every
# secret the run makes is collected where it is made: the random tokens of
# portal.crypto (link, reset and invitation tokens), API keys, the sandbox's
# OAuth codes and access/refresh tokens, PKCE verifiers, webhook secrets,
# TOTP secrets and recovery codes, every password hashed or checked, and the
# app's own keys. When the session ends, a line holding any of them fails the
# run, naming the logger and the test with the secret redacted. Under xdist
# each worker checks its own lines and hands its findings to the controller.

LOG_AUDIT_LOGGERS = (
    "werkzeug",
    "rq",
    "rq.worker",
    "rq.job",
    "rq.queue",
    "rq.scheduler",
    "latchkey.jobs",
)
# Our own code is audited down to DEBUG (what an operator may switch on);
# other libraries at INFO, the level production logs at.
LOG_AUDIT_DEBUG_LOGGERS = ("latchkey", "portal", "worker")
KNOWN_TEST_SECRETS = {
    PASSWORD: "test password",
    "violet tractor umbrella 77 pancake": "test password",
    "agency-access-token": "test OAuth access token",
    "agency-refresh-token": "test OAuth refresh token",
}
MIN_SECRET_LENGTH = 8


@dataclass(frozen=True)
class LogLine:
    logger: str
    level: str
    text: str
    test: str


@dataclass(frozen=True)
class LogLeak:
    logger: str
    level: str
    test: str
    kind: str
    excerpt: str

    def describe(self) -> str:
        return f"{self.logger} ({self.level}) during {self.test}: {self.kind}: {self.excerpt}"


class SecretRegistry:
    """Every secret the run made, with what kind of secret it is."""

    def __init__(self) -> None:
        self.kinds: dict[str, str] = {}
        # Secrets by their first characters: a line is scanned once, whatever their number.
        self._by_prefix: dict[str, list[str]] = {}

    def add(self, value, kind: str) -> None:
        if not isinstance(value, str) or len(value) < MIN_SECRET_LENGTH or value in self.kinds:
            return
        self.kinds[value] = kind
        self._by_prefix.setdefault(value[:MIN_SECRET_LENGTH], []).append(value)

    def __contains__(self, value: str) -> bool:
        return value in self.kinds

    def __len__(self) -> int:
        return len(self.kinds)

    def find(self, text: str) -> list[tuple[str, str]]:
        """The secrets in `text`, with their kind."""
        found: dict[str, str] = {}
        by_prefix = self._by_prefix
        for start in range(len(text) - MIN_SECRET_LENGTH + 1):
            candidates = by_prefix.get(text[start : start + MIN_SECRET_LENGTH])
            if candidates:
                for secret in candidates:
                    if text.startswith(secret, start):
                        found[secret] = self.kinds[secret]
        return list(found.items())


def _redact(text: str, secret: str, kind: str, width: int = 80) -> str:
    """The text around `secret`, with the secret itself replaced."""
    at = text.find(secret)
    start, end = max(0, at - width), at + len(secret) + width
    excerpt = text[start:at] + f"[{kind} {secret[:3]}...]" + text[at + len(secret) : end]
    excerpt = excerpt.replace("\n", " | ")
    return ("..." if start else "") + excerpt + ("..." if end < len(text) else "")


def find_log_leaks(lines, registry: SecretRegistry) -> list[LogLeak]:
    """Each log line holding a secret of `registry`, with the secret redacted."""
    leaks = []
    seen: set[tuple[str, str]] = set()
    for line in lines:
        if (line.logger, line.text) in seen:
            continue
        seen.add((line.logger, line.text))
        for secret, kind in registry.find(line.text):
            excerpt = _redact(line.text, secret, kind)
            for other, other_kind in registry.find(excerpt):
                excerpt = excerpt.replace(other, f"[{other_kind} {other[:3]}...]")
            leaks.append(LogLeak(line.logger, line.level, line.test, kind, excerpt))
    return leaks


class LogAudit(logging.Handler):
    """Keeps every log record of the session as a line, and the run's secrets."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[LogLine] = []
        self.secrets = SecretRegistry()
        self.current_test = "(session start)"
        self._formatter = logging.Formatter()
        try:
            from portal.observability import scrub
        except ImportError:  # no scrubbing formatter: lines are checked as they are
            scrub = None
        self._scrub = scrub

    # --- capture

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "_latchkey_log_audit", False):
            return  # seen on a logger that also propagates to the root logger
        record._latchkey_log_audit = True
        try:
            text = self._text(record)
        except Exception:  # a handler must never break the code that logs
            self.handleError(record)
            return
        self.lines.append(LogLine(record.name, record.levelname, text, self.current_test))

    def _text(self, record: logging.LogRecord) -> str:
        try:
            text = record.getMessage()
        except Exception:
            text = f"{record.msg} {record.args}"
        if record.exc_info:
            text += "\n" + self._formatter.formatException(record.exc_info)
        elif record.exc_text:
            text += "\n" + record.exc_text
        if record.stack_info:
            text += "\n" + self._formatter.formatStack(record.stack_info)
        return self._scrub(text) if self._scrub else text

    def install(self) -> None:
        self.attach()
        for value, kind in KNOWN_TEST_SECRETS.items():
            self.secrets.add(value, kind)
        _collect_secrets_where_they_are_made(self.secrets)

    def attach(self) -> None:
        """Hang on the loggers (again, if logging was reconfigured since: dictConfig...)."""
        root = logging.getLogger()
        if self not in root.handlers:
            root.addHandler(self)
        if root.getEffectiveLevel() > logging.INFO:
            root.setLevel(logging.INFO)
        for name in LOG_AUDIT_LOGGERS:
            logger = logging.getLogger(name)
            if self not in logger.handlers:
                logger.addHandler(self)
        for name in LOG_AUDIT_DEBUG_LOGGERS:
            logging.getLogger(name).setLevel(logging.DEBUG)

    # --- checks

    def mark(self) -> int:
        return len(self.lines)

    def leaks(self, since: int = 0) -> list[LogLeak]:
        return find_log_leaks(self.lines[since:], self.secrets)

    def discard(self, since: int) -> None:
        """Forget the lines from `since` on (a test that leaks on purpose)."""
        del self.lines[since:]


class _RecordingSecrets:
    """Stands for the `secrets` module inside one of our modules: what it makes is kept."""

    def __init__(self, registry: SecretRegistry, kind: str):
        import secrets as real

        self._real = real
        self._registry = registry
        self._kind = kind

    def token_urlsafe(self, nbytes=None):
        value = self._real.token_urlsafe(nbytes)
        self._registry.add(value, self._kind)
        return value

    def token_hex(self, nbytes=None):
        value = self._real.token_hex(nbytes)
        self._registry.add(value, self._kind)
        return value

    def __getattr__(self, name):
        return getattr(self._real, name)


def _recording(function, registry: SecretRegistry, kind: str, pick=lambda value: [value]):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        value = function(*args, **kwargs)
        for secret in pick(value):
            registry.add(secret, kind)
        return value

    wrapper.__wrapped_for_log_audit__ = True
    return wrapper


class _RecordingHasher:
    """Stands for portal.auth.passwords' argon2 hasher: every password it sees is kept."""

    def __init__(self, real, registry: SecretRegistry):
        self._real = real
        self._registry = registry

    def hash(self, password, *args, **kwargs):
        self._registry.add(password, "password")
        return self._real.hash(password, *args, **kwargs)

    def verify(self, password_hash, password):
        self._registry.add(password, "password")
        return self._real.verify(password_hash, password)

    def __getattr__(self, name):
        return getattr(self._real, name)


def _collect_secrets_where_they_are_made(registry: SecretRegistry) -> None:
    """Wrap what makes secrets, wherever its callers imported it from."""
    from portal import crypto, oauth
    from portal.api import keys
    from portal.auth import passwords, totp
    from portal.sandbox import core as sandbox
    from portal.webhooks import signing

    if isinstance(crypto.secrets, _RecordingSecrets):
        return  # already installed (a second session in the same process)
    crypto.secrets = _RecordingSecrets(registry, "token (link, reset or invitation)")
    keys.secrets = _RecordingSecrets(registry, "API key")
    sandbox.secrets = _RecordingSecrets(registry, "OAuth code or token (sandbox)")
    oauth.generate_token = _recording(oauth.generate_token, registry, "PKCE code verifier")
    signing.new_secret = _recording(signing.new_secret, registry, "webhook secret")
    totp.new_secret = _recording(totp.new_secret, registry, "TOTP secret")
    totp.new_recovery_codes = _recording(
        totp.new_recovery_codes, registry, "recovery code", pick=lambda value: value[0]
    )
    passwords._hasher = _RecordingHasher(passwords._hasher, registry)


def app_secrets(app) -> dict[str, str]:
    """The app's own keys and platform credentials."""
    found = {app.config["SECRET_KEY"]: "SECRET_KEY"}
    for key in app.config.get("LATCHKEY_ENCRYPTION_KEYS") or ():
        found[key] = "encryption key"
    for key in app.config.get("LATCHKEY_AUDIT_KEYS") or ():
        found[key] = "audit key"
    for name, value in app.config.items():
        if name.endswith("_CLIENT_SECRET") and isinstance(value, str):
            found[value] = name
    return found


LOG_AUDIT = LogAudit()


def pytest_configure(config):
    LOG_AUDIT.install()
    _interrupt_on_sigterm()


def _interrupt_on_sigterm() -> None:
    """SIGTERM (CI stopping, a killed terminal) tears down like Ctrl-C: databases are dropped."""
    import signal

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, interrupt)


def pytest_runtest_logstart(nodeid, location):
    LOG_AUDIT.attach()
    LOG_AUDIT.current_test = nodeid


@pytest.fixture(scope="session", autouse=True)
def _audit_app_secrets(app):
    for value, kind in app_secrets(app).items():
        LOG_AUDIT.secrets.add(value, kind)


@pytest.fixture
def log_audit():
    """The session's log audit (lines kept so far, secrets collected so far)."""
    return LOG_AUDIT


def _report_log_leaks(reporter, leaks: list[str], lines: int, secrets_count: int) -> None:
    if reporter is None:
        return
    reporter.write("\n")
    if not leaks:
        reporter.write_line(
            f"log audit: no secret in {lines} log line(s); {secrets_count} secret(s) collected"
        )
        return
    reporter.write_line(
        f"log audit: {len(leaks)} log line(s) hold a secret or token. Log ids or hashes "
        "instead, or scrub the value (portal.observability):",
        red=True,
    )
    for leak in leaks[:50]:
        reporter.write_line(f"  - {leak}", red=True)
    if len(leaks) > 50:
        reporter.write_line(f"  ... and {len(leaks) - 50} more", red=True)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """xdist controller: collect what each worker's audit found."""
    output = getattr(node, "workeroutput", None) or {}
    stash = node.config.__dict__.setdefault("_latchkey_log_audit", [[], 0, 0])
    stash[0].extend(output.get("latchkey_log_leaks", []))
    stash[1] += output.get("latchkey_log_lines", 0)
    stash[2] += output.get("latchkey_log_secrets", 0)


# ------------------------------------------------- CI: no skipped test allowed


@pytest.hookimpl(tryfirst=True)  # before xdist's worker hands its output to the controller
def pytest_sessionfinish(session, exitstatus):
    config = session.config
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if hasattr(config, "workerinput"):  # an xdist worker: check its own lines
        config.workeroutput["latchkey_log_leaks"] = [x.describe() for x in LOG_AUDIT.leaks()]
        config.workeroutput["latchkey_log_lines"] = len(LOG_AUDIT.lines)
        config.workeroutput["latchkey_log_secrets"] = len(LOG_AUDIT.secrets)
    elif config.pluginmanager.hasplugin("dsession"):  # the xdist controller
        leaks, lines, secrets_count = config.__dict__.get("_latchkey_log_audit", [[], 0, 0])
        _report_log_leaks(reporter, leaks, lines, secrets_count)
        if leaks:
            session.exitstatus = 1
    else:
        leaks = [x.describe() for x in LOG_AUDIT.leaks()]
        _report_log_leaks(reporter, leaks, len(LOG_AUDIT.lines), len(LOG_AUDIT.secrets))
        if leaks:
            session.exitstatus = 1
    if not CI:
        return
    if reporter is None:
        return
    skipped = reporter.stats.get("skipped", [])
    if skipped:
        reporter.write_line(
            f"CI=true: {len(skipped)} test(s) were skipped; every test must run in CI.", red=True
        )
        session.exitstatus = 1
