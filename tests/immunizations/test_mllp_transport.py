"""MLLP framing, the client's transport errors, and the `rxdesk test-iis` and `rxdesk
iis-send` commands (the first as a real process on a free port)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading

import pytest
from django.core.management import call_command

from rxdesk.immunizations import mllp
from rxdesk.immunizations.ack import parse_ack
from rxdesk.immunizations.choices import RegistryStatus
from rxdesk.immunizations.models import RegistryMessage
from tests.immunizations.registry_setup import iis_running, pointed, queued


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_frame_reader_splits_a_stream_and_notices_lost_framing():
    reader = mllp.FrameReader()
    data = mllp.frame("A") + b"\r\n" + mllp.frame("B")
    assert reader.feed(data[:4]) == [b"A"]
    assert reader.feed(data[4:]) == [b"B"]
    assert reader.feed(b"junk") == [] and reader.lost


def test_connection_refused_is_a_transport_error():
    with pytest.raises(mllp.TransportError, match="refused the connection"):
        mllp.send("127.0.0.1", _free_port(), "MSH|^~\\&|X", 1)


def test_unknown_host_is_a_transport_error():
    with pytest.raises(mllp.TransportError, match=r"not known|Cannot reach"):
        mllp.send("no-such-host.invalid", 5500, "MSH|^~\\&|X", 1)


def test_a_silent_registry_times_out():
    with (
        iis_running(answer="silent") as (server, _),
        pytest.raises(mllp.TransportError, match=r"no reply within 0\.5 s"),
    ):
        mllp.send("127.0.0.1", server.port, "MSH|^~\\&|X", 0.5)


def test_a_peer_that_closes_without_reply_is_a_transport_error():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def close_at_once() -> None:
        conn, _ = listener.accept()
        conn.recv(100)
        conn.close()

    threading.Thread(target=close_at_once, daemon=True).start()
    with pytest.raises(mllp.TransportError, match="without a reply"):
        mllp.send("127.0.0.1", listener.getsockname()[1], "MSH|^~\\&|X", 2)
    listener.close()


def test_the_test_registry_answers_garbage_hl7_with_ae_naming_the_problem():
    with iis_running() as (server, _):
        reply = mllp.send(
            "127.0.0.1", server.port, "MSH|^~\\&|A|B|||x||VXU^V04^VXU_V04|C1|P|2.5.1\rPID|1", 2
        )
    ack = parse_ack(reply, "C1")
    assert ack.code == "AE" and ack.errors[0].severity == "E"


@pytest.mark.slow
def test_test_iis_command_runs_as_a_process_and_answers(site, pharmacist):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "RXDESK_"))}
    env |= {"DJANGO_SETTINGS_MODULE": "rxdesk.settings", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "rxdesk.cli", "test-iis", "--port", "0", "--reject", "odd"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        match = re.match(r"Test registry listening on 127\.0\.0\.1:(\d+)", first)
        assert match, first + process.stderr.read() if process.stderr else first
        message = queued(site)
        pointed(site, int(match.group(1)))
        from rxdesk.immunizations.services_registry import registry_send_due

        registry_send_due(actor=pharmacist, site=site)
        message.refresh_from_db()
        assert message.status == RegistryStatus.REJECTED  # the 1st message: odd
        line = process.stdout.readline()
        assert message.control_id in line and " AR" in line
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert process.returncode == 0


def test_iis_send_command_sends_and_summarises(site, capsys):
    message = queued(site)
    with iis_running() as (server, _):
        pointed(site, server.port)
        call_command("iis-send")
    out = capsys.readouterr().out
    assert f"{site.name} (site {site.pk}): 1 sent, 1 accepted." in out
    assert out.strip().endswith("Done: 1 sent, 1 accepted, 0 need attention.")
    assert RegistryMessage.objects.get(pk=message.pk).status == RegistryStatus.ACCEPTED


def test_iis_send_for_an_unknown_site_is_an_error(site):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="no site"):
        call_command("iis-send", "--site", "999999")


def test_iis_send_reports_a_registry_that_is_down_and_exits_cleanly(site, capsys):
    queued(site)
    pointed(site, _free_port())
    call_command("iis-send", "--site", str(site.pk))
    out = capsys.readouterr().out
    assert "1 not delivered (will retry)" in out and "refused the connection" in out
