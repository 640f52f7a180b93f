"""The switch client: STX/ETX framing and the two kinds of failure (nothing sent / outcome
unknown), against small socket servers started in the test."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from rxdesk.claims.transport import (
    MAX_FRAME,
    SwitchError,
    SwitchNoAnswer,
    SwitchUnreachable,
    exchange,
    frame,
)
from tests.claims.conftest import free_port

STX, ETX = b"\x02", b"\x03"
REQUEST = b"610014D0B1TESTPCN   101..."


def read_request(conn: socket.socket) -> bytes:
    data = b""
    while not data.endswith(ETX):
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


@contextmanager
def switch(behaviour: Callable[[socket.socket, threading.Event], None]) -> Iterator[int]:
    """A one-connection server on a loopback port that runs ``behaviour(conn, released)``;
    ``released`` is set when the test is over (a server that "never answers" waits on it)."""
    released = threading.Event()
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)

        def run() -> None:
            conn, _ = server.accept()
            with conn:
                behaviour(conn, released)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        try:
            yield server.getsockname()[1]
        finally:
            released.set()
            thread.join(5)


def answering(
    payload: bytes, *, pieces: int = 1
) -> Callable[[socket.socket, threading.Event], None]:
    def behaviour(conn: socket.socket, released: threading.Event) -> None:
        request = read_request(conn)
        assert request == STX + REQUEST + ETX
        step = max(1, -(-len(payload) // pieces))
        for i in range(0, len(payload), step):
            try:
                conn.sendall(payload[i : i + step])
            except OSError:
                return  # the client stopped reading (a bad answer): nothing to prove here
            time.sleep(0.01)

    return behaviour


# --------------------------------------------------------------------------------------
# Framing


def test_it_frames_a_message_between_stx_and_etx():
    assert frame(b"D0B1") == b"\x02D0B1\x03"
    assert len(frame(b"x" * MAX_FRAME)) == MAX_FRAME + 2


@pytest.mark.parametrize(
    ("message", "words"),
    [
        (b"x" * (MAX_FRAME + 1), "at most 65536"),
        (b"D0\x02B1", "STX or ETX"),
        (b"D0\x03B1", "STX or ETX"),
    ],
)
def test_it_refuses_to_frame_what_cannot_be_framed(message, words):
    with pytest.raises(ValueError, match=words):
        frame(message)


def test_it_refuses_a_timeout_that_is_not_positive():
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        exchange("127.0.0.1", free_port(), REQUEST, timeout=0)


# --------------------------------------------------------------------------------------
# Answers


def test_it_sends_one_framed_request_and_returns_the_answer_without_its_frame():
    with switch(answering(STX + b"D0B11A" + ETX)) as port:
        assert exchange("127.0.0.1", port, REQUEST, timeout=5) == b"D0B11A"


def test_it_reads_an_answer_that_arrives_in_pieces():
    answer = b"D0B11A01" + b"9" * 5000
    with switch(answering(STX + answer + ETX, pieces=7)) as port:
        assert exchange("127.0.0.1", port, REQUEST, timeout=5) == answer


def test_it_reads_an_answer_of_exactly_64_kib():
    answer = b"A" * MAX_FRAME
    with switch(answering(STX + answer + ETX, pieces=3)) as port:
        assert exchange("127.0.0.1", port, REQUEST, timeout=5) == answer


# --------------------------------------------------------------------------------------
# Nothing sent


def test_a_refused_connection_is_unreachable_and_nothing_was_sent():
    port = free_port()
    with pytest.raises(SwitchUnreachable) as caught:
        exchange("127.0.0.1", port, REQUEST, timeout=2)
    assert caught.value.sent is False
    assert str(caught.value) == f"The switch at 127.0.0.1:{port} refused the connection."
    assert isinstance(caught.value, SwitchError)


def test_a_switch_that_never_takes_the_connection_is_unreachable_within_the_timeout():
    # A listening socket whose backlog is full and never accepted: Linux drops the SYN,
    # so the connection attempt hangs as it does for a switch behind a dead route.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        port = server.getsockname()[1]
        fillers = []
        try:
            for _ in range(4):
                filler = socket.socket()
                filler.setblocking(False)
                filler.connect_ex(("127.0.0.1", port))
                fillers.append(filler)
            time.sleep(0.05)
            started = time.monotonic()
            with pytest.raises(SwitchUnreachable) as caught:
                exchange("127.0.0.1", port, REQUEST, timeout=0.5)
            elapsed = time.monotonic() - started
        finally:
            for filler in fillers:
                filler.close()
    assert caught.value.sent is False
    assert str(caught.value) == (
        f"The switch at 127.0.0.1:{port} did not take the connection within 0.5 s."
    )
    assert 0.4 < elapsed < 2


# --------------------------------------------------------------------------------------
# Sent, outcome unknown


def test_a_switch_that_takes_the_request_and_never_answers_times_out_as_no_answer():
    def silent(conn: socket.socket, released: threading.Event) -> None:
        read_request(conn)
        released.wait(10)

    with switch(silent) as port:
        started = time.monotonic()
        with pytest.raises(SwitchNoAnswer) as caught:
            exchange("127.0.0.1", port, REQUEST, timeout=0.5)
        elapsed = time.monotonic() - started
    assert caught.value.sent is True
    assert str(caught.value) == (
        "No answer from the switch within 0.5 s; the claim may have reached the payer."
    )
    assert 0.45 < elapsed < 1.5


def test_the_timeout_is_a_deadline_for_the_whole_answer_not_for_each_read():
    def trickle(conn: socket.socket, released: threading.Event) -> None:
        read_request(conn)
        conn.sendall(STX)
        while not released.wait(0.1):
            try:
                conn.sendall(b"9")
            except OSError:
                return

    with switch(trickle) as port:
        started = time.monotonic()
        with pytest.raises(SwitchNoAnswer, match=r"No answer from the switch within 0\.6 s"):
            exchange("127.0.0.1", port, REQUEST, timeout=0.6)
        assert time.monotonic() - started < 1.5


def test_a_connection_closed_without_an_answer_is_no_answer():
    def hang_up(conn: socket.socket, released: threading.Event) -> None:
        read_request(conn)

    with switch(hang_up) as port, pytest.raises(SwitchNoAnswer) as caught:
        exchange("127.0.0.1", port, REQUEST, timeout=5)
    assert caught.value.sent is True
    assert str(caught.value) == (
        f"The switch at 127.0.0.1:{port} closed the connection without answering; the claim "
        "may have reached the payer."
    )


def failure(answer: bytes) -> SwitchNoAnswer:
    """The error of an exchange with a switch that answers ``answer`` (raw bytes)."""
    with switch(answering(answer, pieces=4)) as port:
        try:
            exchange("127.0.0.1", port, REQUEST, timeout=5)
        except SwitchNoAnswer as error:
            return error
    raise AssertionError("the exchange succeeded")


def test_an_answer_cut_short_is_no_answer():
    error = failure(STX + b"D0B11A011234")
    assert error.sent is True
    assert str(error) == (
        "The switch's answer was cut short (13 bytes, no end marker); the claim may have "
        "reached the payer."
    )


@pytest.mark.parametrize("with_end", [False, True])
def test_an_oversized_answer_is_no_answer(with_end):
    error = failure(STX + b"A" * (MAX_FRAME + 100) + (ETX if with_end else b""))
    assert error.sent is True
    assert "larger than 64 KiB" in str(error)


def test_an_answer_without_its_start_marker_is_no_answer():
    error = failure(b"D0B11A" + ETX)
    assert error.sent is True
    assert "does not start with the start marker (STX)" in str(error)


def test_an_answer_with_a_second_start_marker_is_no_answer():
    assert "second start marker" in str(failure(STX + b"D0B1" + STX + b"1A" + ETX))


def test_a_reset_connection_is_no_answer():
    def reset(conn: socket.socket, released: threading.Event) -> None:
        read_request(conn)
        conn.sendall(STX + b"D0")
        # SO_LINGER 0: close() sends RST instead of FIN.
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    with switch(reset) as port, pytest.raises(SwitchNoAnswer) as caught:
        exchange("127.0.0.1", port, REQUEST, timeout=5)
    assert caught.value.sent is True
