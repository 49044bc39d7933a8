"""Loopback SIEM receivers (tests/siem/receivers.py) as real processes, with a certificate
authority of their own: the stream trusts it through the destination's CA field."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

RECEIVER = Path(__file__).with_name("receivers.py")


def _cert(subject: str, issuer_key: Any, issuer: x509.Name | None, key: Any, ca: bool) -> Any:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer or name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return make_pki(tmp_path_factory.mktemp("pki"))


def make_pki(where: Path) -> dict[str, str]:
    """A CA and a server certificate for localhost: {ca_pem, cert, key}."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("Test SIEM CA", ca_key, None, ca_key, True)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _cert("localhost", ca_key, ca.subject, key, False)
    (where / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (where / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return {
        "ca_pem": ca.public_bytes(serialization.Encoding.PEM).decode(),
        "cert": str(where / "cert.pem"),
        "key": str(where / "key.pem"),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    """One receiver process on a fixed port: start, kill (SIGKILL) and start again."""

    def __init__(self, kind: str, pki: dict[str, str], out: Path, **options: Any) -> None:
        self.kind, self.pki, self.out, self.options = kind, pki, out, options
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def start(self, **once: Any) -> Receiver:
        options = {**self.options, **once}
        args = [sys.executable, str(RECEIVER), self.kind, "--port", str(self.port)]
        args += ["--cert", self.pki["cert"], "--key", self.pki["key"], "--out", str(self.out)]
        for name, value in options.items():
            flag = "--" + name.replace("_", "-")
            args += [flag] if value is True else [flag, str(value)]
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "ready"
        return self

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
        if self.process:
            self.process.wait(10)

    def died(self) -> bool:
        if self.process is None:
            return True
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            return False
        return True

    def lines(self) -> list[str]:
        if not self.out.exists():
            return []
        return [line for line in self.out.read_text().splitlines() if line]

    def records(self) -> list[dict[str, Any]]:
        """Each received record; syslog lines are parsed down to their JSON message."""
        out = []
        for line in self.lines():
            if self.kind == "syslog":
                line = line[line.index("] ") + 2 :]
            out.append(json.loads(line))
        return out

    @property
    def endpoint(self) -> str:
        if self.kind == "syslog":
            return f"localhost:{self.port}"
        path = "/hook" if self.kind == "webhook" else ""
        return f"https://localhost:{self.port}{path}"


@pytest.fixture
def receiver(pki: dict[str, str], tmp_path: Path) -> Any:
    made: list[Receiver] = []

    def make(kind: str, **options: Any) -> Receiver:
        r = Receiver(kind, pki, tmp_path / f"{kind}-{len(made)}.jsonl", **options)
        made.append(r)
        return r

    yield make
    for r in made:
        r.kill()


@pytest.fixture(autouse=True)
def _loopback_destinations(settings: Any) -> None:
    settings.SIEM_ALLOW_PRIVATE_DESTINATIONS = True
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
