"""A bad option or a missing argument is one line naming the command whose --help to read."""

from __future__ import annotations

import pytest

from cli_run import memento


@pytest.mark.parametrize(
    ("args", "command"),
    [
        (["run"], "memento run"),
        (["cases", "list", "--bogus"], "memento cases list"),
        (["--bogus"], "memento"),
    ],
)
def test_a_usage_error_names_the_command(tmp_path, args, command):
    proc = memento(*args, env={"MEMENTO_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert lines[0].endswith(f"(see `{command} --help`)"), lines[0]
