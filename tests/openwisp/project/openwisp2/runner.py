"""Test runner: openwisp_utils' timing runner, minus the tests listed in an exclusion file.

Django's runner has no per-test exclusion flag, so the listed ids (see the header of
tests/openwisp/excluded.txt for the format) are dropped from the suite as it is loaded, before
tag filtering, ordering and any parallel split. What is dropped is printed to stderr:

    [excluded] <test id>  # <reason>
    [excluded] 3 test(s) listed in <file> not run (OPENWISP_TSDB=<tsdb>)

and an entry that falls under a requested label but matches no test is reported as stale.
"""

import fnmatch
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.test.utils import iter_test_cases
from openwisp_utils.tests import TimeLoggingTestRunner

_TEST_ID = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$")


@dataclass
class Exclusion:
    test_id: str  # a test id, or the dotted prefix of a module or class
    tsdbs: list[str] = field(default_factory=list)  # glob patterns of OPENWISP_TSDB; empty: all
    reason: str = ""
    line: int = 0

    def covers(self, test_id: str) -> bool:
        return test_id == self.test_id or test_id.startswith(self.test_id + ".")

    def applies_to(self, tsdb: str) -> bool:
        return not self.tsdbs or any(fnmatch.fnmatchcase(tsdb, pattern) for pattern in self.tsdbs)


def load_exclusions(path: Path) -> list[Exclusion]:
    if not path.exists():
        return []
    exclusions = []
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        text, _, reason = raw.partition("#")
        words = text.split()
        if not words:
            continue
        if not _TEST_ID.match(words[0]):
            raise ImproperlyConfigured(f"{path}:{number}: {words[0]!r} is not a dotted test id")
        if not reason.strip():
            raise ImproperlyConfigured(f"{path}:{number}: an exclusion needs a '# reason'")
        exclusions.append(Exclusion(words[0], words[1:], reason.strip(), number))
    return exclusions


class ExcludingTestRunner(TimeLoggingTestRunner):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.exclusion_file = Path(settings.FLEETWATCH_OPENWISP_EXCLUDED)
        self.tsdb = os.environ.get("OPENWISP_TSDB", "influxdb")
        self.exclusions = [e for e in load_exclusions(self.exclusion_file) if e.applies_to(self.tsdb)]
        self.excluded: list[str] = []
        self.used: set[int] = set()

    def _report(self, message: str) -> None:
        print(f"[excluded] {message}", file=sys.stderr, flush=True)

    def _would_run(self, test) -> bool:
        if not (self.tags or self.exclude_tags):
            return True
        from django.test.runner import filter_tests_by_tags

        return bool(list(filter_tests_by_tags([test], self.tags, self.exclude_tags)))

    def load_tests_for_label(self, label, discover_kwargs):
        suite = super().load_tests_for_label(label, discover_kwargs)
        if not self.exclusions:
            return suite
        kept = []
        for test in iter_test_cases(suite):
            match = next((e for e in self.exclusions if e.covers(test.id())), None)
            if match is None:
                kept.append(test)
                continue
            self.used.add(match.line)
            if self._would_run(test):  # tests the tags leave out anyway are not counted
                self.excluded.append(test.id())
                self._report(f"{test.id()}  # {match.reason}")
        return self.test_suite(kept)

    def build_suite(self, test_labels=None, **kwargs):
        suite = super().build_suite(test_labels, **kwargs)
        labels = test_labels or ["."]
        for exclusion in self.exclusions:
            under_label = any(
                label == "." or exclusion.covers(label) or exclusion.test_id.startswith(label + ".")
                for label in labels
            )
            if under_label and exclusion.line not in self.used:
                self._report(
                    f"warning: {self.exclusion_file.name}:{exclusion.line} {exclusion.test_id} "
                    "matches no test (stale entry?)"
                )
        self._report(
            f"{len(self.excluded)} test(s) listed in {self.exclusion_file} not run (OPENWISP_TSDB={self.tsdb})"
        )
        return suite
