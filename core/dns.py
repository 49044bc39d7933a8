"""DNS TXT lookups (domain verification). The resolver is the system's unless
GOVERNANCE_DNS_RESOLVER names one ("host" or "host:port"; the tests point it at a DNS server
on loopback). A definite "no such record" and "DNS could not answer" are told apart, so a
resolver outage never looks like a record that was removed."""

from __future__ import annotations

import dns.exception
import dns.resolver
from django.conf import settings


class DnsUnavailable(Exception):
    """The resolver did not give a definite answer (timeout, SERVFAIL, refused)."""


def _resolver() -> dns.resolver.Resolver:
    configured = getattr(settings, "GOVERNANCE_DNS_RESOLVER", "")
    if not configured:
        resolver = dns.resolver.Resolver()
    else:
        resolver = dns.resolver.Resolver(configure=False)
        host, _, port = configured.partition(":")
        resolver.nameservers = [host]
        resolver.port = int(port or 53)
    resolver.lifetime = settings.GOVERNANCE_DNS_TIMEOUT_SECONDS
    resolver.timeout = settings.GOVERNANCE_DNS_TIMEOUT_SECONDS
    return resolver


def txt_records(name: str) -> list[str]:
    """The TXT strings published at `name` ([] when there are none or the name does not
    exist); DnsUnavailable when the resolver could not say."""
    try:
        answer = _resolver().resolve(name, "TXT")
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except (dns.exception.Timeout, dns.resolver.NoNameservers, dns.resolver.YXDOMAIN) as exc:
        raise DnsUnavailable(f"DNS did not answer for {name} ({type(exc).__name__}).") from exc
    except dns.exception.DNSException as exc:
        raise DnsUnavailable(f"DNS lookup of {name} failed ({type(exc).__name__}).") from exc
    return [b"".join(rdata.strings).decode("utf-8", "replace") for rdata in answer]
