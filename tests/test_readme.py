"""The README starts with the demo and test commands; CI runs the same test command."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```sh\n(.+?)\n```", text, flags=re.S)[:2]


def test_the_readme_opens_with_the_demo_and_the_test_command():
    text = (ROOT / "README.md").read_text()
    assert text.startswith("```sh\n")
    demo, tests = _readme_commands()
    assert "latchkey demo" in demo and "latchkey run" in demo
    assert "pytest" in tests


def test_ci_runs_the_readme_test_command_verbatim():
    _demo, tests = _readme_commands()
    ci = (ROOT / ".ci" / "run").read_text()
    assert tests in ci.splitlines()
    assert "export CI=true" in ci
