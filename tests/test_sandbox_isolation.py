"""With LATCHKEY_SANDBOX=0 (production) no module of the sandbox is ever imported.

A fresh Python process builds the app the way production does (`wsgi:app`
with a production environment), migrates its database through the `latchkey`
command, loads the worker's modules, serves a few requests, and then lists
every module of `portal.sandbox` that ended up in `sys.modules`. The list
must be empty: the emulated platforms, their routes and their table exist
only in an app built with LATCHKEY_SANDBOX=1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent

# Runs in the child process; prints the sandbox modules it loaded, as JSON, last.
PROGRAM = r"""
import json
import sys

from click.testing import CliRunner

import wsgi  # gunicorn 'wsgi:app'
from portal.cli import main

result = CliRunner().invoke(main, ["db", "upgrade"], catch_exceptions=False)
assert result.exit_code == 0, result.output

import worker.jobs, worker.runner, worker.schedule  # noqa: E401 (the worker's modules)

client = wsgi.app.test_client()
statuses = {
    path: client.get(path, base_url="https://latchkey.example.com").status_code
    for path in ("/healthz", "/auth/login", "/sandbox/meta/graph.facebook.com/me")
}
loaded = sorted(
    name for name in sys.modules if name == "portal.sandbox" or name.startswith("portal.sandbox.")
)
print(json.dumps({"statuses": statuses, "sandbox_modules": loaded}))
"""


def _production_env(tmp_path: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("LATCHKEY_", "DATABASE_", "REDIS_", "SMTP_"))
    }
    env.update(
        {
            "LATCHKEY_ENV": "production",
            "SECRET_KEY": "s" * 16 + "0123456789abcdefghij",
            "LATCHKEY_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "LATCHKEY_AUDIT_KEYS": "audit-key-" + "k" * 40,
            "LATCHKEY_BASE_URL": "https://latchkey.example.com",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'production.sqlite3'}",
            "LATCHKEY_INSTANCE_PATH": str(tmp_path / "instance"),
            "LATCHKEY_SANDBOX": "0",
            "FLASK_APP": "wsgi:app",
            "PYTHONPATH": str(ROOT),
        }
    )
    return env


def test_production_never_imports_the_sandbox(tmp_path):
    process = subprocess.run(
        [sys.executable, "-c", PROGRAM],
        cwd=ROOT,
        env=_production_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert process.returncode == 0, process.stderr[-4000:]
    report = json.loads(process.stdout.strip().splitlines()[-1])
    # The app answered: the requests went through the production app.
    assert report["statuses"]["/healthz"] == 200
    assert report["statuses"]["/auth/login"] == 200
    # No emulated platform is served.
    assert report["statuses"]["/sandbox/meta/graph.facebook.com/me"] == 404
    loaded = report["sandbox_modules"]
    assert loaded == [], (
        f"{len(loaded)} sandbox module(s) loaded with LATCHKEY_SANDBOX=0: {', '.join(loaded)}"
    )
