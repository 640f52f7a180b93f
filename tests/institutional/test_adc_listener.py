"""The cabinet listener over real TCP: two framed messages on one socket are applied and
acknowledged in order, a garbage frame gets AR and the connection stays open, and bytes
outside a frame lose the framing: one AR, then the connection is closed."""

from __future__ import annotations

import importlib
import socket

import pytest

from rxdesk.institutional import adc_hl7
from rxdesk.institutional.models import CabinetFeed, Pocket
from tests.institutional.matrix_feeds import ft1, hl7_message, now_stamp, tech_of, ward

listener = importlib.import_module("rxdesk.institutional.management.commands.adc-listener")


def _read_ack(sock: socket.socket, buffer: bytearray) -> str:
    while adc_hl7.END not in buffer:
        chunk = sock.recv(4096)
        if not chunk:
            raise AssertionError("the listener closed the connection")
        buffer += chunk
    end = buffer.index(adc_hl7.END) + 2
    framed = bytes(buffer[:end])
    del buffer[:end]
    return adc_hl7.unframe(framed).decode()


def _msa(ack: str) -> list[str]:
    return ack.split("\r")[1].split("|")[1:3]


@pytest.mark.django_db(transaction=True)
def test_the_listener_applies_messages_over_tcp(site):
    bin_ = ward(site, stocked=10)
    lines: list[str] = []
    server = listener.start_listener(user=tech_of(site), say=lines.append, timeout_seconds=10)
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            buffer = bytearray()
            one = hl7_message(ft1(tx="L-1", when=now_stamp(site)), control="M1")
            two = hl7_message(ft1(tx="L-2", when=now_stamp(site), qty="3"), control="M2")
            sock.sendall(adc_hl7.frame(one) + adc_hl7.frame(two))
            first, second = _read_ack(sock, buffer), _read_ack(sock, buffer)
            sock.sendall(adc_hl7.frame("garbage, not HL7"))
            third = _read_ack(sock, buffer)
            sock.sendall(b"outside any frame")
            fourth = _read_ack(sock, buffer)
            assert sock.recv(10) == b""  # closed
    finally:
        server.close()

    assert _msa(first) == ["AA", "M1"]
    assert _msa(second) == ["AA", "M2"]
    assert _msa(third) == ["AR", ""]
    assert _msa(fourth) == ["AR", ""]
    assert "Framing lost" in fourth
    bin_ = Pocket.objects.get(pk=bin_.pk)
    assert bin_.on_hand == 5
    assert CabinetFeed.objects.filter(source="hl7").count() == 2
    assert lines[:2] == ["3W-1: 1 transaction applied", "3W-1: 1 transaction applied"]
    assert lines[2].startswith("refused (AR)") or "refused (AR)" in lines[2]
    assert "framing lost" in lines[3]


@pytest.mark.django_db(transaction=True)
def test_the_command_refuses_a_user_who_may_not_import(site, inventory):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="may not import"):
        call_command("adc-listener", "--user", inventory.username, "--port", "0", "--once")
    with pytest.raises(CommandError, match="no active user"):
        call_command("adc-listener", "--user", "nobody-here", "--port", "0", "--once")
