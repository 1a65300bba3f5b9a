"""The code sandbox's jail: every run inside bubblewrap (`bwrap`) namespaces.

The code runs as uid/gid 65534 with no capabilities and no new privileges (setuid bits do nothing),
in new user, mount, PID, IPC, UTS, cgroup and network namespaces. Its file view: the system folders,
a few /etc files and the Python installation read-only, a private /proc and /dev, a bounded /tmp and
/dev/shm, the task's input files read-only and the workspace, the only writable place. Nothing else
of the host exists inside: no home, no project, no MEMENTO_HOME, no other process, no /etc/shadow.

Settings (read at each call): MEMENTO_SANDBOX (`bwrap`, the default, or `unsafe-none`),
MEMENTO_SANDBOX_BWRAP (the bwrap program), MEMENTO_SANDBOX_NETWORK (`1`: share the host network).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import stat
import sys
from pathlib import Path

from memento_graph.settings import SETTINGS, Settings

UNSAFE = "unsafe-none"
SANDBOX_UID = 65534
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC = (
    "alternatives",
    "ca-certificates",
    "fonts",
    "gai.conf",
    "host.conf",
    "hosts",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "magic",
    "mime.types",
    "nsswitch.conf",
    "os-release",
    "resolv.conf",
    "ssl/certs",
    "timezone",
)
PASSWD = "root:x:0:0:root:/nonexistent:/usr/sbin/nologin\nsandbox:x:{uid}:{uid}::{home}:/bin/sh\n"
GROUP = "root:x:0:\nsandbox:x:{uid}:\n"
UNAVAILABLE = "code sandbox unavailable: {why}; or set MEMENTO_SANDBOX=unsafe-none to run code unsandboxed at your own risk"
WARNING = (
    "[warning] MEMENTO_SANDBOX=unsafe-none: this code ran UNSANDBOXED, "
    "with this server's access to the machine"
)
_working: set[tuple[str, bool]] = set()


class JailError(Exception):
    """The sandbox cannot be set up here (one line saying what is needed)."""


def mode() -> str:
    """Return the sandbox mode: `bwrap` or `unsafe-none`."""
    value = Settings.sandbox.raw().strip().lower() or "bwrap"
    if value not in {"bwrap", UNSAFE}:
        raise JailError(f"MEMENTO_SANDBOX={value!r} is not valid (use bwrap or {UNSAFE})")
    return value


def program() -> str:
    """Return the bwrap program, or raise JailError telling how to install it."""
    name = SETTINGS.sandbox_bwrap or "bwrap"
    found = shutil.which(name)
    if not found:
        why = f"{name} not found: install bubblewrap (apt-get install bubblewrap)"
        raise JailError(UNAVAILABLE.format(why=why))
    return found


def _system_binds() -> list[str]:
    args: list[str] = []
    for path in SYSTEM:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    for name in ETC:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    return args


def _python_binds() -> list[str]:
    """Bind the interpreter and its packages (venv and base installation) not under /usr."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    roots.add(str(Path(os.path.realpath(sys.executable)).parent.parent))
    args: list[str] = []
    for root in sorted(roots):
        if not any(Path(root).is_relative_to(p) for p in SYSTEM) and Path(root).is_dir():
            args += ["--ro-bind", root, root]
    return args


def _input_binds(workspace: Path) -> list[str]:
    """Bind the task's input files (MEMENTO_ROOTS_FILE) read-only at their own paths."""
    listed = Path(SETTINGS.roots_file or "/nonexistent")
    if not listed.is_file():
        return []
    args: list[str] = []
    for line in dict.fromkeys(listed.read_text().splitlines()):
        path = Path(line)
        if line and path.is_absolute() and path.exists() and path != workspace:
            args += ["--ro-bind", str(path), str(path)]
    return args


def _base(bwrap: str, network: bool) -> list[str]:
    args = [bwrap, "--unshare-all", "--unshare-user", "--disable-userns"]
    args += ["--share-net"] if network else []
    args += ["--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--hostname", "sandbox"]
    args += ["--cap-drop", "ALL", "--die-with-parent", "--new-session"]
    return args + _system_binds() + ["--proc", "/proc", "--dev", "/dev"]


def wrap(
    argv: list[str], workspace: Path, network: bool, tmp_mb: int
) -> tuple[list[str], list[int]]:
    """Return (the bwrap argv running `argv` jailed in `workspace`, fds to pass and then close)."""
    args = _base(program(), network)
    for folder in ("/tmp", "/dev/shm"):  # bounded: an unbounded tmpfs would fill the host's memory
        args += ["--size", str(tmp_mb << 20), "--tmpfs", folder]
    users = PASSWD.format(uid=SANDBOX_UID, home=workspace)
    fds = [_data_fd(users), _data_fd(GROUP.format(uid=SANDBOX_UID))]
    args += ["--perms", "0644", "--ro-bind-data", str(fds[0]), "/etc/passwd"]
    args += ["--perms", "0644", "--ro-bind-data", str(fds[1]), "/etc/group"]
    args += _python_binds() + _input_binds(workspace)
    args += ["--bind", str(workspace), str(workspace), "--chdir", str(workspace)]
    return args + ["--remount-ro", "/dev", "--remount-ro", "/", "--", *argv], fds


def disarm(workspace: Path, budget: int = 100_000) -> None:
    """Clear setuid/setgid bits the code set on files of the workspace.

    Outside, the jail's uid is the server's: such a file would run with the server's rights.
    """
    for folder, dirs, files in os.walk(workspace):
        for name in dirs + files:
            budget -= 1
            path = os.path.join(folder, name)
            with contextlib.suppress(OSError):
                mode = os.lstat(path).st_mode
                if mode & (stat.S_ISUID | stat.S_ISGID) and stat.S_ISREG(mode):
                    os.chmod(path, stat.S_IMODE(mode) & ~(stat.S_ISUID | stat.S_ISGID))
        if budget <= 0:
            return


def _data_fd(text: str) -> int:
    """Return the read end of a pipe holding `text` (small: it fits the pipe buffer)."""
    read, write = os.pipe()
    os.write(write, text.encode())
    os.close(write)
    return read


async def check(network: bool) -> None:
    """Fail closed with one clear line when bwrap cannot create its namespaces on this machine."""
    bwrap = program()
    if (bwrap, network) in _working:
        return
    argv = _base(bwrap, network) + ["--", "true"]
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    except (OSError, TimeoutError) as exc:
        raise JailError(UNAVAILABLE.format(why=f"{bwrap} does not run ({exc})")) from None
    if proc.returncode != 0:
        reason = " ".join(err.decode(errors="replace").split())[:200] or f"exit {proc.returncode}"
        why = (
            f"bubblewrap cannot set up the sandbox here ({reason}): it needs bubblewrap >= 0.8 and "
            "user namespaces (sysctl kernel.unprivileged_userns_clone=1, user.max_user_namespaces > 0)"
        )
        raise JailError(UNAVAILABLE.format(why=why))
    _working.add((bwrap, network))
