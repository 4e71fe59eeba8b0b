"""Secrets reach the CLI from the environment, a file or a prompt; a flag is warned about.

A flag's value is in the process list for every local user, so ``--token-file`` and
``--private-key-file`` read the secret from a file, an interactive run with nothing
given asks for it without echo, and a secret typed as a flag still works but warns.
"""

from __future__ import annotations

import contextlib
import os
import pty
import select
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from stampsync.cli._app import app
from stampsync.sandbox import Sandbox
from tests._cli import FAST, env_for, good_rows, runner, server_awards, write_awards


def award_args(tmp_path: Path, *extra: str) -> list[str]:
    src = write_awards(tmp_path / "a.csv", good_rows(3))
    return [
        "stamps", "award", "--input", str(src), "--journal", str(tmp_path / "j.sqlite"),
        "--report", str(tmp_path / "r.jsonl"), *FAST, *extra,
    ]  # fmt: skip


def invoke(args: list[str], sb: Sandbox, *drop: str) -> tuple[int, str]:
    env: dict[str, str | None] = {**env_for(sb)}
    for name in drop:
        env[name] = None  # unset for this run
    result = runner.invoke(app, args, env=env)
    return result.exit_code, result.stderr


#: Run first in the child: take stdin (the pty) as the controlling terminal of the new
#: session, then become ``python -m ...`` with the rest of the arguments.
TAKE_TERMINAL = (
    "import fcntl, os, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0);"
    " os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"
)


def echoing(fd: int) -> bool:
    return bool(termios.tcgetattr(fd)[3] & termios.ECHO)


def secret_file(tmp_path: Path, value: str, mode: int = 0o600) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(value + "\n")
    path.chmod(mode)
    return path


def test_token_file_is_read_and_nothing_is_warned(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    f = secret_file(tmp_path, stampsync_sandbox.config.stamps_token)
    code, err = invoke(
        award_args(tmp_path, "--token-file", str(f)), stampsync_sandbox, "STAMPS_TOKEN"
    )
    assert code == 0, err
    assert "warning" not in err
    assert sum(server_awards(stampsync_sandbox).values()) == 3


def test_private_key_file_is_read(stampsync_sandbox: Sandbox, tmp_path: Path) -> None:
    f = secret_file(tmp_path, stampsync_sandbox.config.private_key)
    out = tmp_path / "c.jsonl"
    args = ["stamped", "export-customers", "--out", str(out), "--private-key-file", str(f), *FAST]
    code, err = invoke(args, stampsync_sandbox, "STAMPED_PRIVATE_KEY")
    assert code == 0, err
    assert len(out.read_text().splitlines()) == stampsync_sandbox.config.customers


def test_a_file_wins_over_the_environment(stampsync_sandbox: Sandbox, tmp_path: Path) -> None:
    f = secret_file(tmp_path, "not-the-token")
    code, err = invoke(award_args(tmp_path, "--token-file", str(f)), stampsync_sandbox)
    assert code == 4, err  # the file's (wrong) token was used: credentials refused
    assert sum(server_awards(stampsync_sandbox).values()) == 0


def test_a_secret_given_as_a_flag_works_with_one_warning_line(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    token = stampsync_sandbox.config.stamps_token
    code, err = invoke(award_args(tmp_path, "--token", token), stampsync_sandbox, "STAMPS_TOKEN")
    assert code == 0, err
    warned = [line for line in err.splitlines() if "warning" in line]
    assert len(warned) == 1
    assert "--token on the command line is visible to other local users" in warned[0]
    assert token not in err
    # From the environment: no warning.
    code, err = invoke(
        award_args(tmp_path / "..", "--journal", str(tmp_path / "j2.sqlite")), stampsync_sandbox
    )
    assert code == 0, err
    assert "warning" not in err


def test_a_flag_and_a_file_together_are_refused(stampsync_sandbox: Sandbox, tmp_path: Path) -> None:
    f = secret_file(tmp_path, "x")
    code, err = invoke(
        award_args(tmp_path, "--token", "y", "--token-file", str(f)), stampsync_sandbox
    )
    assert code == 2
    assert "--token or --token-file, not both" in err
    assert server_awards(stampsync_sandbox) == {}


@pytest.mark.parametrize(
    ("content", "says"), [("", "is empty"), ("\n\n", "is empty"), (None, "cannot read")]
)
def test_an_unusable_secret_file_is_a_usage_error_naming_it(
    stampsync_sandbox: Sandbox, tmp_path: Path, content: str | None, says: str
) -> None:
    f = tmp_path / "k.txt"
    if content is not None:
        f.write_text(content)
    code, err = invoke(
        award_args(tmp_path, "--token-file", str(f)), stampsync_sandbox, "STAMPS_TOKEN"
    )
    assert code == 2
    assert says in err
    assert str(f.name) in err


def test_a_secret_file_others_can_read_is_warned_about(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    f = secret_file(tmp_path, stampsync_sandbox.config.stamps_token, mode=0o644)
    code, err = invoke(
        award_args(tmp_path, "--token-file", str(f)), stampsync_sandbox, "STAMPS_TOKEN"
    )
    assert code == 0, err
    assert "can be read by other users; chmod 600 it" in err


def test_without_a_terminal_a_missing_secret_is_a_usage_error(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    code, err = invoke(award_args(tmp_path), stampsync_sandbox, "STAMPS_TOKEN")
    assert code == 2
    assert "missing --token" in err
    assert "--token-file" in err


def test_on_a_terminal_the_secret_is_prompted_for_without_echo(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    token = stampsync_sandbox.config.stamps_token
    env = {**os.environ, **env_for(stampsync_sandbox)}
    del env["STAMPS_TOKEN"]
    # The child is spawned (not forked: this process runs the sandbox's thread, and a
    # fork of a threaded process may deadlock before its exec), in a session of its own
    # whose controlling terminal is the pty: the prompt reads /dev/tty, as for a person.
    fd, terminal = pty.openpty()
    child = subprocess.Popen(
        [sys.executable, "-c", TAKE_TERMINAL, "-m", "stampsync.cli", *award_args(tmp_path)],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env=env,
        start_new_session=True,
    )
    os.close(terminal)
    seen = b""
    sent = False
    status = None
    deadline = time.monotonic() + 60
    try:
        while status is None and time.monotonic() < deadline:
            if select.select([fd], [], [], 0.2)[0]:
                with contextlib.suppress(OSError):  # EIO: the child closed its terminal
                    seen += os.read(fd, 4096)
            # Answer once the prompt is out and echo is off (as a person would see it).
            if not sent and b"token:" in seen.lower() and not echoing(fd):
                os.write(fd, token.encode() + b"\n")
                sent = True
            status = child.poll()
    finally:
        if status is None:
            child.kill()
            child.wait()
        os.close(fd)
    assert sent, seen
    assert status == 0, seen
    assert token.encode() not in seen  # typed, not echoed
    assert sum(server_awards(stampsync_sandbox).values()) == 3
