"""The SMTP backend: pipelined, one connection kept from batch to batch, refusals
recorded one message at a time, and a connection the server dropped costs nothing: a
message whose content had not left is sent again on a new connection, one whose content
had left is not (the server may have taken it)."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from petition.mail.mime import Message, render
from petition.mail.transport import SMTPBackend
from tests.mail.fake_smtp import FakeSMTP, free_port

SENDER = "Open letters <letters@example.org>"


@pytest.fixture
def server():
    fake = FakeSMTP().start()
    yield fake
    fake.stop()


def config(port: int):
    return SimpleNamespace(MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_USE_SSL=False, MAIL_USE_TLS=False,
                           MAIL_USERNAME="", MAIL_PASSWORD="", MAIL_TIMEOUT=5)


def batch(*names: str, start: int = 1):
    return [render(Message(to=f"{name}@example.org", subject=f"Hello {name}", text=f".{name}\n..\nbody of {name}\n",
                           html=f"<p>{name}</p>"), SENDER, row_id=start + i)
            for i, name in enumerate(names)]


def delivered(server) -> list[str]:
    return [m.recipients[0].split("@")[0] for m in server.messages]


@pytest.mark.parametrize("pipelining", [True, False])
def test_sends_exactly_the_rendered_bytes(server, pipelining):
    server.pipelining = pipelining
    backend = SMTPBackend(config(server.port))
    messages = batch("a", "b", "c")
    assert backend.send_batch(messages) == {1: None, 2: None, 3: None}
    assert delivered(server) == ["a", "b", "c"]
    for out, got in zip(messages, server.messages):
        assert got.data == out.data  # dot-stuffing undone by the server: byte for byte
        assert got.sender == "letters@example.org"
    assert server.connections == 1
    if pipelining:  # MAIL, RCPT and DATA arrive together
        assert max(server.reads_with_commands) >= 3
    backend.close()


def test_one_connection_across_batches(server):
    backend = SMTPBackend(config(server.port))
    assert backend.send_batch(batch("a", "b")) == {1: None, 2: None}
    assert backend.send_batch(batch("c", start=3)) == {3: None}
    assert server.connections == 1
    backend.close()


@pytest.mark.parametrize("pipelining", [True, False])
def test_refusals_are_per_message(server, pipelining):
    server.pipelining = pipelining
    server.refuse_rcpt = {"b@example.org"}
    server.refuse_data = {"c@example.org"}
    backend = SMTPBackend(config(server.port))
    results = backend.send_batch(batch("a", "b", "c", "d"))
    assert results == {1: None, 2: "send: SMTPRecipientsRefused", 3: "send: SMTPDataError 451", 4: None}
    assert delivered(server) == ["a", "d"]
    assert server.connections == 1
    assert all("@" not in (error or "") for error in results.values())
    backend.close()


@pytest.mark.parametrize("pipelining", [True, False])
def test_connection_dropped_while_idle_loses_nothing(server, pipelining):
    server.pipelining = pipelining
    backend = SMTPBackend(config(server.port))
    assert backend.send_batch(batch("a")) == {1: None}
    server.drop_connections()  # the client does not know yet
    assert backend.send_batch(batch("b", "c", start=2)) == {2: None, 3: None}
    assert delivered(server) == ["a", "b", "c"]  # each once
    assert server.connections == 2
    backend.close()


def test_kept_connection_is_checked_after_a_pause(server):
    backend = SMTPBackend(config(server.port))
    assert backend.send_batch(batch("a")) == {1: None}
    server.drop_connections()
    backend.last_used -= backend.CHECK_AFTER + 1  # idle a while: RSET first, then a new connection
    assert backend.send_batch(batch("b", start=2)) == {2: None}
    assert delivered(server) == ["a", "b"]
    backend.last_used -= backend.MAX_IDLE + 1
    backend.close_if_idle()
    assert backend.conn is None


def test_hang_up_after_content_is_not_retried(server):
    server.hang_up_after_data = {"b@example.org"}
    backend = SMTPBackend(config(server.port))
    results = backend.send_batch(batch("a", "b", "c"))
    # b's content had left: it may have been accepted, so it waits for its backoff
    # instead of going out twice now. c goes on a new connection.
    assert results[1] is None and results[3] is None
    assert results[2].startswith("send: ")
    assert delivered(server) == ["a", "c"]
    assert server.connections == 2
    backend.close()


def test_no_server():
    backend = SMTPBackend(config(free_port()))
    results = backend.send_batch(batch("a", "b"))
    assert results == {1: "connect: ConnectionRefusedError", 2: "connect: ConnectionRefusedError"}


def test_many_messages_reconnect_now_and_then(server):
    backend = SMTPBackend(config(server.port))
    backend.MAX_MESSAGES = 3
    for i in range(4):
        names = [f"m{i}{j}" for j in range(2)]
        assert set(backend.send_batch(batch(*names, start=10 * i)).values()) == {None}
    assert len(server.messages) == 8
    assert server.connections == 2  # a new one once 3 were sent, checked between batches
    backend.close()
