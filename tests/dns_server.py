"""A real DNS server on loopback (dnslib), for domain verification tests: TXT records come from
a dict the test edits; `failing` makes it answer SERVFAIL (a resolver that cannot say)."""

from __future__ import annotations

import socket
from typing import Any

from dnslib import QTYPE, RCODE, RR, TXT
from dnslib.server import BaseResolver, DNSServer


class _Resolver(BaseResolver):
    def __init__(self, zone: LoopbackDns) -> None:
        self.zone = zone

    def resolve(self, request: Any, handler: Any) -> Any:
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        self.zone.queries.append(name)
        if self.zone.failing:
            reply.header.rcode = RCODE.SERVFAIL
            return reply
        records = self.zone.txt.get(name)
        if records is None:
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        if request.q.qtype == QTYPE.TXT:
            for value in records:
                reply.add_answer(RR(name, QTYPE.TXT, rdata=TXT(value), ttl=1))
        return reply


class LoopbackDns:
    def __init__(self) -> None:
        self.txt: dict[str, list[str]] = {}
        self.failing = False
        self.queries: list[str] = []
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.server = DNSServer(_Resolver(self), port=self.port, address="127.0.0.1")
        self.server.start_thread()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.stop()
