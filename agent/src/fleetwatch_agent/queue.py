"""The bounded on-disk queue of reports not yet accepted by the server.

One file per report in ``<state dir>/queue/``, named by the reading's UTC time
(``20261130T214501.123456Z.json``, so names sort oldest first), written atomically (a temporary
file in the same folder, flushed to disk, then renamed): a crash leaves either the whole report
or none of it. Beyond ``size`` reports the oldest are dropped, as the OpenWrt monitoring agent
drops what its temporary folder cannot hold.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

_NAME_FORMAT = "%Y%m%dT%H%M%S.%fZ"
# The agent's time format on the wire (the `time` query parameter, the broker body's "time").
WIRE_FORMAT = "%d-%m-%Y_%H:%M:%S.%f"


def wire_time(moment: datetime) -> str:
    """``DD-MM-YYYY_HH:MM:SS.ffffff`` in UTC, as the OpenWrt monitoring agent sends it."""
    return moment.astimezone(UTC).strftime(WIRE_FORMAT)


def write_atomically(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data`` whole or not at all (temporary file, fsync, rename)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


@dataclass(frozen=True)
class Entry:
    """A queued report: its file, the reading's time and the NetJSON document."""

    path: Path
    time: datetime
    report: dict

    @property
    def wire_time(self) -> str:
        return wire_time(self.time)


class ReportQueue:
    """Reports waiting to be sent, oldest first, at most ``size`` of them."""

    def __init__(self, folder: Path, size: int):
        self.folder = Path(folder)
        self.size = size
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.dropped = 0  # reports dropped for room since this object was made

    def _names(self) -> list[str]:
        return sorted(n for n in os.listdir(self.folder) if n.endswith(".json") and not n.startswith("."))

    def __len__(self) -> int:
        return len(self._names())

    def put(self, report: dict, moment: datetime) -> Path:
        """Add a report read at ``moment``; drop the oldest beyond ``size``. Returns its file."""
        stem = moment.astimezone(UTC).strftime(_NAME_FORMAT)
        path = self.folder / f"{stem}.json"
        n = 1
        while path.exists():  # two readings in one microsecond: keep both, in order
            path = self.folder / f"{stem}_{n:03d}.json"  # sorts after {stem}.json
            n += 1
        write_atomically(path, json.dumps(report, separators=(",", ":")).encode())
        names = self._names()
        for name in names[: max(0, len(names) - self.size)]:
            self._remove(self.folder / name)
            self.dropped += 1
        return path

    def entries(self) -> list[Entry]:
        """Every queued report, oldest first (an unreadable file is removed: it can never be sent)."""
        found = []
        for name in self._names():
            path = self.folder / name
            try:
                moment = datetime.strptime(name.split("_", 1)[0].removesuffix(".json"), _NAME_FORMAT)
                report = json.loads(path.read_bytes())
            except FileNotFoundError:
                continue
            except ValueError:
                self._remove(path)
                continue
            found.append(Entry(path, moment.replace(tzinfo=UTC), report))
        return found

    def remove(self, entry: Entry) -> None:
        """The report is settled (accepted, or refused for good)."""
        self._remove(entry.path)

    @staticmethod
    def _remove(path: Path) -> None:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
