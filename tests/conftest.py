"""Suite-wide hooks: a per-backend tally of the conformance suite at the end of every run."""

import re
from collections import Counter

_BACKEND_ID = re.compile(r"\[(sqlite|postgresql)(?:[-\]])")
_tally: dict[str, Counter] = {}


def pytest_runtest_logreport(report):
    match = _BACKEND_ID.search(report.nodeid)
    if not match or "/conformance/" not in report.nodeid:
        return
    if report.when == "call":
        outcome = report.outcome
    elif report.outcome == "failed":
        outcome = "error"  # setup or teardown failed, e.g. the server is unreachable
    elif report.outcome == "skipped":
        outcome = "skipped"
    else:
        return
    _tally.setdefault(match.group(1), Counter())[outcome] += 1


def pytest_terminal_summary(terminalreporter):
    if not _tally:
        return
    terminalreporter.section("conformance suite per backend")
    for backend, counts in sorted(_tally.items()):
        total = sum(counts.values())
        detail = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
        terminalreporter.write_line(f"{backend:<12} {total} tests: {detail}")
