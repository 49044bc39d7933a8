"""The gateway's HTTP/1.1 client for upstream calls (gateway.http1), against scripted servers on
real loopback sockets: kept connections and when they are not kept, bodies sized, chunked and
ended by the close, read while they arrive, the failures it names, the TLS server name it
verifies, and the limit on connections."""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import pytest

from gateway import http1
from gateway.upstream import run_sync
from tests.siem.conftest import make_pki


class Scripted:
    """A loopback server answering each request with the next of `answers` (bytes, or an async
    function of the writer); it records the requests' heads and counts connections."""

    def __init__(self, *answers: Any, tls: ssl.SSLContext | None = None) -> None:
        self.answers = list(answers)
        self.heads: list[str] = []
        self.bodies: list[bytes] = []
        self.connections = 0
        self.tls = tls

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while self.answers:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
                length = next(
                    (
                        int(line.split(":", 1)[1])
                        for line in head.split("\r\n")
                        if line.lower().startswith("content-length:")
                    ),
                    0,
                )
                self.bodies.append(await reader.readexactly(length))
                self.heads.append(head)
                answer = self.answers.pop(0)
                if callable(answer):
                    await answer(writer)
                else:
                    writer.write(answer)
                    await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def __aenter__(self) -> Scripted:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0, ssl=self.tls)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.server.close()


def ok(body: bytes, *extra: str) -> bytes:
    head = ["HTTP/1.1 200 OK", f"Content-Length: {len(body)}", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def run(fn: Any) -> Any:
    return run_sync(fn)


async def _read(client: http1.Client, body: bytes | None = b"{}", **kw: Any) -> tuple[int, bytes]:
    async with client.request("POST", "/mcp?x=1", {"Host": "up.example"}, body, **kw) as answer:
        return answer.status, await answer.read()


def test_a_kept_connection_carries_the_next_request_and_the_request_is_as_written():
    async def go():
        async with Scripted(ok(b"one"), ok(b"two")) as server:
            client = http1.Client("127.0.0.1", server.port, None)
            assert await _read(client, b'{"a": 1}') == (200, b"one")
            assert await _read(client) == (200, b"two")
            client.close()
            return server

    server = run(go)
    assert server.connections == 1
    first = server.heads[0].split("\r\n")
    assert first[0] == "POST /mcp?x=1 HTTP/1.1"
    assert "Host: up.example" in first and "Content-Length: 8" in first
    assert server.bodies[0] == b'{"a": 1}'


def test_a_chunked_answer_is_read_while_it_arrives():
    got_first = asyncio.Event()
    seen: list[bytes] = []

    async def stream(writer):
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        await writer.drain()
        await asyncio.wait_for(got_first.wait(), 5)  # the client read it before the rest
        writer.write(b"6\r\nsecond\r\n0\r\n\r\n")
        await writer.drain()

    async def go():
        async with Scripted(stream, ok(b"again")) as server:
            client = http1.Client("127.0.0.1", server.port, None)
            async with client.request("POST", "/", {}, b"{}") as answer:
                async for chunk in answer.chunks():
                    seen.append(chunk)
                    got_first.set()
            assert await _read(client) == (200, b"again")  # chunked to its end: kept
            return server

    assert run(go).connections == 1
    assert b"".join(seen) == b"firstsecond" and seen[0] == b"first"


def test_connection_close_and_a_body_ended_by_the_close_are_not_kept():
    until_close = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{"whole": true}'

    async def closing(writer):
        writer.write(until_close)
        await writer.drain()
        writer.close()

    async def go():
        async with Scripted(ok(b"a", "Connection: close"), ok(b"b")) as first:
            client = http1.Client("127.0.0.1", first.port, None)
            assert await _read(client) == (200, b"a")
            assert await _read(client) == (200, b"b")
        async with Scripted(closing) as second:
            other = http1.Client("127.0.0.1", second.port, None)
            assert await _read(other) == (200, b'{"whole": true}')
            assert other.idle == []
        return first

    assert run(go).connections == 2


def test_an_informational_answer_before_the_answer_is_passed_over():
    early = b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"

    async def go():
        async with Scripted(early + ok(b"the answer"), ok(b"kept")) as server:
            client = http1.Client("127.0.0.1", server.port, None)
            async with client.request("POST", "/", {}, b"{}") as answer:
                assert answer.status == 200 and "link" not in answer.headers
                assert await answer.read() == b"the answer"
            assert await _read(client) == (200, b"kept")
            return server

    assert run(go).connections == 1


def test_an_idle_connection_past_keep_idle_is_not_reused(monkeypatch):
    monkeypatch.setattr(http1, "KEEP_IDLE", 0.05)

    async def go():
        async with Scripted(ok(b"1"), ok(b"2")) as server:
            client = http1.Client("127.0.0.1", server.port, None)
            await _read(client)
            await asyncio.sleep(0.1)
            await _read(client)
            return server

    assert run(go).connections == 2


def test_a_servers_keep_alive_timeout_shortens_how_long_a_connection_waits():
    closes_soon = "Keep-Alive: timeout=1.3, max=100"  # kept for 0.3 s: a second early

    async def go():
        async with Scripted(
            ok(b"1", closes_soon), ok(b"2", closes_soon), ok(b"3"), ok(b"4")
        ) as server:
            client = http1.Client("127.0.0.1", server.port, None)
            await _read(client)
            await _read(client)  # at once: the same connection
            await asyncio.sleep(0.5)  # within our 4 s, past the server's mark
            await _read(client)  # a new connection; this answer names no timeout: 4 s
            await asyncio.sleep(0.5)
            await _read(client)  # the same again
            return server

    assert run(go).connections == 2
    assert http1._keep_for("timeout=0") == 0 and http1._keep_for("timeout=x") == 4.0


def test_an_answer_left_before_its_end_closes_its_connection():
    async def half(writer):
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nthe first half")
        await writer.drain()  # and the rest never comes

    async def go():
        async with Scripted(half, ok(b"next")) as server:
            client = http1.Client("127.0.0.1", server.port, None)
            async with client.request("POST", "/", {}, b"{}") as answer:
                assert answer.status == 200  # left before the body ends (a timeout, say)
            assert client.idle == []
            assert await _read(client) == (200, b"next")
            return server

    assert run(go).connections == 2


@pytest.mark.parametrize(
    "answer, message",
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b", "before its answer ended"),
        (b"this is not HTTP\r\n\r\n", "not valid HTTP/1.1"),
        (b"", "before its answer ended"),
    ],
    ids=["cut-mid-body", "not-http", "closed-without-answer"],
)
def test_a_broken_answer_fails_the_request_with_lost(answer, message):
    async def cut(writer):
        writer.write(answer)
        await writer.drain()
        writer.close()

    async def go():
        async with Scripted(cut) as server:
            client = http1.Client("127.0.0.1", server.port, None)
            with pytest.raises(http1.Lost, match=message):
                await _read(client)
            assert client.idle == []

    run(go)


def test_an_answer_over_max_answer_is_refused(monkeypatch):
    monkeypatch.setattr(http1, "MAX_ANSWER", 1000)

    async def go():
        async with Scripted(ok(b"y" * 5000)) as server:
            client = http1.Client("127.0.0.1", server.port, None)
            with pytest.raises(http1.Lost, match="over 1000 bytes"):
                await _read(client)

    run(go)


def test_nothing_listening_is_connect_failed():
    from tests.gateway.conftest import free_port

    async def go():
        client = http1.Client("127.0.0.1", free_port(), None)
        with pytest.raises(http1.ConnectFailed, match=r"cannot connect to 127\.0\.0\.1"):
            await _read(client)

    run(go)


@pytest.mark.parametrize(
    "headers", [{"Authorization": "Bearer a\r\nX-Injected: 1"}, {"X-A\r\nB": "1"}, {"A:B": "c"}]
)
def test_a_header_that_could_smuggle_another_is_refused_before_anything_is_sent(headers):
    async def go():
        async with Scripted(ok(b"never")) as server:
            client = http1.Client("127.0.0.1", server.port, None)
            with pytest.raises(ValueError, match="cannot be sent"):
                async with client.request("POST", "/", headers, b"{}"):
                    pass
            return server

    assert run(go).connections == 0


def test_tls_verifies_the_urls_host_name_on_the_pinned_address(tmp_path):
    pki = make_pki(tmp_path)  # a certificate for localhost and 127.0.0.1, from a test CA
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(pki["cert"], pki["key"])

    async def go():
        async with Scripted(ok(b"secure"), ok(b"unused"), tls=served) as server:
            good = http1.Client("127.0.0.1", server.port, "localhost")
            good.tls.load_verify_locations(cadata=pki["ca_pem"])
            assert await _read(good) == (200, b"secure")
            wrong = http1.Client("127.0.0.1", server.port, "upstream.example")
            wrong.tls.load_verify_locations(cadata=pki["ca_pem"])
            with pytest.raises(http1.ConnectFailed, match=r"upstream\.example"):
                await _read(wrong)
            untrusted = http1.Client("127.0.0.1", server.port, "localhost")  # system CAs only
            with pytest.raises(http1.ConnectFailed, match="certificate verify failed"):
                await _read(untrusted)

    run(go)


def test_limited_requests_wait_for_a_connection_and_replies_do_not():
    release = asyncio.Event()

    async def slow(writer):
        await asyncio.wait_for(release.wait(), 5)
        writer.write(ok(b"slow"))
        await writer.drain()

    async def go():
        async with Scripted(slow, ok(b"reply"), ok(b"queued")) as server:
            client = http1.Client("127.0.0.1", server.port, None, limit=1)
            first = asyncio.create_task(_read(client))
            await asyncio.sleep(0.05)
            queued = asyncio.create_task(_read(client))
            await asyncio.sleep(0.05)
            assert not queued.done()  # waits for the one connection
            assert await _read(client, limited=False) == (200, b"reply")  # not limited
            release.set()
            assert await first == (200, b"slow")
            assert await queued == (200, b"queued")

    run(go)
