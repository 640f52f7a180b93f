"""Claims test fixtures: the test payer as a real process.

``test_payer`` starts ``rxdesk test-payer`` (the real management command, a separate
process) on a free loopback port and hands back a :class:`PayerProcess`::

    def test_it_bills(test_payer):
        payer = test_payer({"plans": [{"bin": "610014", "pcn": "TESTPCN", ...}]})
        answer = transport.exchange(payer.host, payer.port, wire, timeout=5)

``test_payer()`` without rules uses the payer's built-in ``DEFAULT_RULES``. Every process
the fixture started is stopped at teardown.

``PayerProcess.stop()`` takes the switch down (its port then refuses connections) and
``start_again()`` brings it back on the same port with the same rules. The payer's memory
(paid and reversed claims, authorization numbers, the answers it already dropped) is kept
across the restart: the command journals it to a state file (``--state``), so a claim
replayed after an outage gets "duplicate of paid", as from a real processor. Pass
``start_again(keep_memory=False)`` for a payer that forgot everything.

``free_port()`` is a loopback port nothing listens on, for "switch down" tests.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

STARTUP_TIMEOUT = 10.0  # seconds to wait for the "listening" line
STOP_TIMEOUT = 5.0
_LISTENING = re.compile(r"^Test payer listening on (?P<host>.+):(?P<port>\d+)$")


def free_port(host: str = "127.0.0.1") -> int:
    """A port on ``host`` that nothing listens on (the kernel picked it and it was let go),
    so a connection to it is refused: the switch is down."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class PayerProcess:
    """One ``rxdesk test-payer`` process. ``host``/``port`` are where it listens; ``log``
    holds the lines of its standard output read so far (the first is the "listening" line,
    then one per claim: ``B1 Rx 1042-0 paid $4.25 ...``)."""

    def __init__(self, rules_file: Path | None, state_file: Path, stderr_file: Path) -> None:
        self.rules_file = rules_file
        self.state_file = state_file
        self.stderr_file = stderr_file
        self.host = "127.0.0.1"
        self.port = 0
        self.log: list[str] = []
        self._process: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None
        self._changed = threading.Condition()

    # -- life cycle

    def start(self) -> PayerProcess:
        """Start the process (on ``self.port``; 0 the first time: any free port) and wait for
        its "listening" line."""
        if self.running:
            raise RuntimeError("the test payer is already running")
        command = [
            sys.executable,
            "-m",
            "rxdesk.cli",
            "test-payer",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--state",
            str(self.state_file),
        ]
        if self.rules_file is not None:
            command += ["--rules", str(self.rules_file)]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "RXDESK_"))}
        env |= {
            "DJANGO_SETTINGS_MODULE": "rxdesk.settings",
            "RXDESK_VAR_DIR": str(self.state_file.parent / "payer-var"),
            "RXDESK_HTTPS": "0",
            "PYTHONUNBUFFERED": "1",
        }
        with self._changed:
            self.log = []
        stderr = self.stderr_file.open("a")
        try:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                env=env,
            )
        finally:
            stderr.close()
        self._reader = threading.Thread(
            target=self._read, args=(self._process,), name="test-payer-stdout", daemon=True
        )
        self._reader.start()
        try:
            first = self.wait_for("Test payer listening on ", timeout=STARTUP_TIMEOUT)
        except AssertionError:
            self._kill()
            raise AssertionError(
                f"the test payer did not start within {STARTUP_TIMEOUT:g} s; "
                f"stdout {self.log!r}; stderr:\n{self.stderr_file.read_text()}"
            ) from None
        match = _LISTENING.match(first)
        assert match, f"unexpected first line {first!r}"
        self.host, self.port = match["host"], int(match["port"])
        return self

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL after 5 s); its port then refuses
        connections. Asserts that a terminated payer exited cleanly (code 0)."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._kill()
                raise AssertionError("the test payer ignored SIGTERM for 5 s") from None
        self._join()
        self._process = None
        assert process.returncode == 0, (
            f"the test payer exited with {process.returncode}:\n{self.stderr_file.read_text()}"
        )

    def start_again(self, *, keep_memory: bool = True) -> PayerProcess:
        """Stop (if running) and start on the same port with the same rules. The payer's
        memory of claims is kept unless ``keep_memory=False``."""
        self.stop()
        if not keep_memory:
            self.state_file.unlink(missing_ok=True)
        return self.start()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # -- the log

    def wait_for(self, text: str, *, timeout: float = 5.0, after: int = 0) -> str:
        """The first log line (from index ``after``) that contains ``text``, waiting up to
        ``timeout`` seconds for it to be written (a claim's line is printed just before its
        answer is sent, but read from the pipe by a thread)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self.log[after:]:
                    if text in line:
                        return line
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no log line with {text!r} within {timeout:g} s")
                self._changed.wait(remaining)

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            with self._changed:
                self.log.append(line.rstrip("\n"))
                self._changed.notify_all()
        process.stdout.close()

    def _join(self) -> None:
        if self._reader is not None:
            self._reader.join(STOP_TIMEOUT)
            self._reader = None

    def _kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(STOP_TIMEOUT)
        self._join()


@pytest.fixture
def test_payer(tmp_path: Path) -> Iterator[Callable[..., PayerProcess]]:
    """A factory: ``test_payer(rules=None) -> PayerProcess``, started and listening.
    ``rules`` is the JSON document of ``rxdesk.claims.testpayer`` (``{"plans": [...]}``);
    ``None`` means the payer's ``DEFAULT_RULES``."""
    started: list[PayerProcess] = []

    def start(rules: dict | None = None) -> PayerProcess:
        n = len(started) + 1
        rules_file = None
        if rules is not None:
            rules_file = tmp_path / f"payer-{n}-rules.json"
            rules_file.write_text(json.dumps(rules, indent=2))
        payer = PayerProcess(
            rules_file,
            state_file=tmp_path / f"payer-{n}-state.jsonl",
            stderr_file=tmp_path / f"payer-{n}-stderr.txt",
        )
        started.append(payer)
        return payer.start()

    yield start
    problems = []
    for payer in started:
        try:
            payer.stop()
        except AssertionError as error:
            problems.append(str(error))
        finally:
            payer._kill()
    assert not problems, "\n".join(problems)
