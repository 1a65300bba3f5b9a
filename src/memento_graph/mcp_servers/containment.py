"""Keep every process a sandboxed run starts countable and killable.

Non-root: RLIMIT_NPROC does the counting. Root (where the kernel ignores RLIMIT_NPROC): a cgroup
with `pids.max` when the pids controller is writable, else a watchdog that counts the members of
the run's session and its descendants (the jail starts its own session) and kills them past the
limit. Always: SIGKILL to the process group at the end.
"""

from __future__ import annotations

import contextlib
import os
import signal
import uuid
from pathlib import Path

CGROUP_BASES = (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup"))


class Containment:
    """Process containment of one run."""

    def __init__(self, nproc: int) -> None:
        self.nproc = nproc
        self.cgroup: Path | None = _make_cgroup(nproc) if os.geteuid() == 0 else None
        self.watchdog = os.geteuid() == 0 and self.cgroup is None
        self.pid: int | None = None
        self.tripped = False

    def enter_child(self) -> None:
        """Run in the child before exec: join the cgroup."""
        if self.cgroup is not None:
            (self.cgroup / "cgroup.procs").write_text(str(os.getpid()))

    def check(self) -> bool:
        """Watchdog tick: kill the session when it has more processes than allowed."""
        if not self.watchdog or self.pid is None:
            return False
        if len(_session_members(self.pid)) > self.nproc:
            self.tripped = True
            self.kill()
        return self.tripped

    def kill(self) -> None:
        """SIGKILL everything the run started, then remove the cgroup."""
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)
            if self.watchdog:
                for pid in _session_members(self.pid):
                    _kill(pid)
        if self.cgroup is not None:
            with contextlib.suppress(OSError, ValueError):
                self.tripped = self.tripped or _pids_events(self.cgroup) > 0
            procs = self.cgroup / "cgroup.procs"
            for _ in range(100):
                pids = [int(p) for p in procs.read_text().split()]
                if not pids:
                    break
                for pid in pids:
                    _kill(pid)
            with contextlib.suppress(OSError):
                self.cgroup.rmdir()

    def close(self) -> None:
        """Remove the cgroup if still there."""
        if self.cgroup is not None:
            with contextlib.suppress(OSError):
                self.cgroup.rmdir()


def _make_cgroup(nproc: int) -> Path | None:
    for base in CGROUP_BASES:
        if not (base / "cgroup.procs").exists():
            continue
        path = base / f"memento-sandbox-{uuid.uuid4().hex[:12]}"
        try:
            path.mkdir()
            (path / "pids.max").write_text(str(nproc))
            return path
        except OSError:
            with contextlib.suppress(OSError):
                path.rmdir()
    return None


def _pids_events(cgroup: Path) -> int:
    text = (cgroup / "pids.events").read_text()
    return int(text.split()[-1]) if text else 0


def _session_members(sid: int) -> list[int]:
    """Return the processes of session `sid` and every descendant of its leader."""
    members: set[int] = set()
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 3:
            parents[int(entry.name)] = int(fields[1])
            if int(fields[3]) == sid:
                members.add(int(entry.name))
    for pid in parents:
        chain, seen = pid, 0
        while chain in parents and chain not in members and seen < 64:
            chain, seen = parents[chain], seen + 1
        if chain in members or chain == sid:
            members.add(pid)
    return sorted(members)


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)
