"""The pytest side of the conformance layer, on for every run.

Each sandbox call is checked as it is answered (request and answer) and,
when its test ends, for what the connector read of the answer. A call that
does not conform fails the test that made it, at teardown, with the platform,
the operation and the description file. At the end of the run a summary
lists the operations used per platform; under xdist each worker hands its
findings to the controller, which prints one summary for the run.
"""

from __future__ import annotations

import threading
from collections import defaultdict

import pytest

from .checker import check, explain
from .operations import CALLED
from .recorder import RECORDER, Call
from .specs import all_specs


class Conformance:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pending: list[Call] = []  # answered; reads not checked yet
        self.failures: dict[str, list[str]] = defaultdict(list)  # test -> messages
        # (platform, spec name, method, path template) -> calls checked
        self.operations: dict[tuple[str, str, str, str], int] = defaultdict(int)
        self.failed_calls = 0
        # What the whole suite exercised against operations.py (empty: all covered).
        self.inventory: list[str] = []

    def on_call(self, call: Call) -> None:
        with self.lock:
            self.pending.append(call)

    def settle(self) -> dict[str, list[str]]:
        """Check every answered call; the messages of the failing ones, by test."""
        with self.lock:
            calls, self.pending = self.pending, []
        found: dict[str, list[str]] = defaultdict(list)
        specs = all_specs()
        for call in calls:
            match = check(specs, call, with_reads=True)
            if match is not None and match.ok:
                op = match.operation
                key = (call.platform, match.spec.name, op.method, op.path)
                self.operations[key] += 1
                continue
            self.failed_calls += 1
            message = explain(call, match)
            if message not in found[call.test]:
                found[call.test].append(message)
        for test, messages in found.items():
            self.failures[test].extend(messages)
        return found

    def summary(self) -> list[str]:
        per_platform: dict[str, list[tuple[str, str, str, int]]] = defaultdict(list)
        for (platform, spec, method, path), count in sorted(self.operations.items()):
            per_platform[platform].append((spec, method, path, count))
        lines = []
        for platform, ops in sorted(per_platform.items()):
            calls = sum(op[3] for op in ops)
            lines.append(f"  {platform}: {len(ops)} operations, {calls} calls")
            lines += [f"      {m:6} {p}  [{s}] x{c}" for s, m, p, c in ops]
        return lines


CONFORMANCE = Conformance()


def pytest_configure(config):
    RECORDER.install()
    RECORDER.on_call = CONFORMANCE.on_call
    all_specs()  # a broken description fails the run before any test


def pytest_runtest_logstart(nodeid, location):
    RECORDER.current_test = nodeid


@pytest.fixture(autouse=True)
def _platform_conformance(request):
    yield
    messages = CONFORMANCE.settle().get(request.node.nodeid)
    if messages:
        pytest.fail(
            "A call to an emulated platform does not match the platform's published "
            "description:\n" + "\n".join(messages),
            pytrace=False,
        )


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    output = getattr(node, "workeroutput", None) or {}
    for key, count in output.get("latchkey_conformance_ops", []):
        CONFORMANCE.operations[tuple(key)] += count
    CONFORMANCE.failed_calls += output.get("latchkey_conformance_failed", 0)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session, exitstatus):
    late = CONFORMANCE.settle()  # calls answered after their test's teardown
    config = session.config
    if hasattr(config, "workerinput"):
        config.workeroutput["latchkey_conformance_ops"] = [
            (list(k), v) for k, v in CONFORMANCE.operations.items()
        ]
        config.workeroutput["latchkey_conformance_failed"] = CONFORMANCE.failed_calls
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if late and reporter is not None:
        for test, messages in late.items():
            reporter.write_line(f"platform conformance, late call of {test}:", red=True)
            for message in messages:
                reporter.write_line("  " + message, red=True)
    if late:
        session.exitstatus = 1
    if not hasattr(config, "workerinput") and _whole_suite(config):
        exercised = {(p, m, path) for p, _spec, m, path in CONFORMANCE.operations}
        CONFORMANCE.inventory = inventory_problems(exercised)
        if CONFORMANCE.inventory:
            session.exitstatus = 1


def _whole_suite(config) -> bool:
    """The run covers every test: no paths, no -k, -m, --lf, --deselect."""
    option = config.option
    return (
        config.args_source == pytest.Config.ArgsSource.TESTPATHS
        and not option.keyword
        and not option.markexpr
        and not getattr(option, "lf", False)
        and not getattr(option, "deselect", None)
    )


def inventory_problems(exercised: set[tuple[str, str, str]]) -> list[str]:
    """What the run exercised against what the connectors call (operations.py)."""
    called = {(p, m, path) for p, ops in CALLED.items() for m, path in ops}
    problems = [
        f"no test exercises {p} {m} {path}, which the connector calls: add one"
        for p, m, path in sorted(called - exercised)
    ]
    problems += [
        f"{p} {m} {path} was called but is not in tests/conformance/operations.py: add it"
        for p, m, path in sorted(exercised - called)
    ]
    return problems


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if hasattr(config, "workerinput"):
        return
    if _whole_suite(config) and not CONFORMANCE.inventory:
        called = sum(len(ops) for ops in CALLED.values())
        terminalreporter.write_line(
            f"every operation the connectors call ({called}, tests/conformance/operations.py) "
            "was exercised"
        )
    for problem in CONFORMANCE.inventory:
        terminalreporter.write_line(f"platform conformance: {problem}", red=True)
    ops = CONFORMANCE.operations
    total = sum(ops.values())
    failed = CONFORMANCE.failed_calls
    state = "all conformant" if not failed else f"{failed} NOT conformant"
    terminalreporter.write_sep("-", "platform conformance")
    terminalreporter.write_line(
        f"{total + failed} calls to emulated platforms checked against their published "
        f"descriptions; {len(ops)} operations used; {state}"
    )
    for line in CONFORMANCE.summary():
        terminalreporter.write_line(line)
