"""The tamper evidence's primitives: an event's leaf hash, the Merkle root of a segment, the
seal's manifest, and the Ed25519 keys that sign seals. Pure functions of their inputs, so the
sealer, the verifier and an auditor's offline check (`audit_verify --file`) compute the same
bytes.

- **Leaf**: SHA-256 of `audit-leaf-v1\\0` and the event's canonical JSON: its fields (not its
  id, which the database assigns after the hash is taken) with sorted keys, no spaces, UTF-8,
  the time as `YYYY-MM-DDTHH:MM:SS.ffffffZ`, the IP in Python's compressed form, and `data` as
  it reads back from the JSON column.
- **Root**: a binary Merkle tree over the segment's leaves in sealing order (RFC 6962's domain
  separation: a leaf node is H(0x00 || leaf), an inner node H(0x01 || left || right); an odd
  node is carried up unchanged).
- **Manifest**: per event, in order, the id as a zigzag varint delta from the previous one and
  the first 8 bytes of its leaf. The root (256 bits, signed) is what proves; the manifest only
  *names* the broken link (which id was deleted, inserted, changed or moved).
- **Seal**: a canonical JSON body (organization, sequence number, bounds, count, ids, root,
  manifest digest, the previous seal's hash, time, key id), its Ed25519 signature, and its hash
  (SHA-256 of body and signature) that the next seal chains to.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.serializers.json import DjangoJSONEncoder

FIELDS = (
    "org_id",
    "occurred_at",
    "action",
    "actor_kind",
    "actor_id",
    "actor_label",
    "target_type",
    "target_id",
    "target_label",
    "ip",
    "user_agent",
    "request_id",
    "data",
)
LEAF_PREFIX = b"audit-leaf-v1\x00"
PREFIX_BYTES = 8  # of each leaf in the manifest


def _time(value: dt.datetime | str) -> str:
    if isinstance(value, str):  # an exported line
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _ip(value: Any) -> str | None:
    if value in (None, ""):
        return None
    try:
        return ipaddress.ip_address(str(value)).compressed
    except ValueError:
        return str(value)


def stored_form(data: Any) -> Any:
    """`data` as the JSON column gives it back (dates and decimals become text)."""
    return json.loads(json.dumps(data or {}, cls=DjangoJSONEncoder))


def canonical(values: Mapping[str, Any]) -> bytes:
    """The event's canonical bytes from its field values (a model's, a row's or an exported
    line's: the same result for the same event)."""
    doc = {name: values.get(name) for name in FIELDS}
    doc["occurred_at"] = _time(doc["occurred_at"])
    doc["ip"] = _ip(doc["ip"])
    doc["org_id"] = int(doc["org_id"]) if doc["org_id"] is not None else None
    for name in FIELDS:
        if doc[name] is None and name not in ("org_id", "ip"):
            doc[name] = "" if name != "data" else {}
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def leaf(values: Mapping[str, Any]) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + canonical(values)).digest()


def merkle_root(leaves: Iterable[bytes]) -> bytes:
    levels = merkle_levels(leaves)
    return levels[-1][0] if levels[0] else hashlib.sha256(b"").digest()


def merkle_levels(leaves: Iterable[bytes]) -> list[list[bytes]]:
    """Every level of the tree, leaves' nodes first: what inclusion proofs are read from."""
    level = [hashlib.sha256(b"\x00" + x).digest() for x in leaves]
    levels = [level]
    while len(level) > 1:
        nxt = [
            hashlib.sha256(b"\x01" + level[i] + level[i + 1]).digest()
            for i in range(0, len(level) - 1, 2)
        ]
        if len(level) % 2:
            nxt.append(level[-1])
        levels.append(nxt)
        level = nxt
    return levels


def merkle_path(levels: list[list[bytes]], index: int) -> list[bytes]:
    """The siblings from the leaf at `index` up to the root (a carried-up odd node has none
    at that level): with the leaf, the index and the tree's size they rebuild the root."""
    path = []
    for level in levels[:-1]:
        sibling = index ^ 1
        if sibling < len(level):
            path.append(level[sibling])
        index //= 2
    return path


def root_from_path(leaf_bytes: bytes, index: int, size: int, path: Iterable[bytes]) -> bytes:
    """The root that `leaf_bytes` at `index` of a `size`-leaf tree proves with `path`; compare
    it to a seal's signed root (a streamed event's inclusion proof)."""
    node = hashlib.sha256(b"\x00" + leaf_bytes).digest()
    siblings = iter(path)
    width = size
    while width > 1:
        if index ^ 1 < width:
            sibling = next(siblings, b"")
            if index % 2:
                node = hashlib.sha256(b"\x01" + sibling + node).digest()
            else:
                node = hashlib.sha256(b"\x01" + node + sibling).digest()
        index //= 2
        width = (width + 1) // 2
    return node


# --- The manifest ---------------------------------------------------------------------------


def manifest_encode(entries: Iterable[tuple[int, bytes]]) -> bytes:
    out = bytearray()
    prev = 0
    for event_id, leaf_bytes in entries:
        delta = event_id - prev
        prev = event_id
        z = (delta << 1) ^ (delta >> 63)  # zigzag: the order is not always by id
        while True:
            byte = z & 0x7F
            z >>= 7
            if z:
                out.append(byte | 0x80)
            else:
                out.append(byte)
                break
        out += leaf_bytes[:PREFIX_BYTES]
    return bytes(out)


def manifest_decode(blob: bytes) -> Iterator[tuple[int, bytes]]:
    i, prev, n = 0, 0, len(blob)
    while i < n:
        shift = z = 0
        while True:
            byte = blob[i]
            i += 1
            z |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        delta = (z >> 1) ^ -(z & 1)
        prev += delta
        yield prev, blob[i : i + PREFIX_BYTES]
        i += PREFIX_BYTES


# --- Seals ----------------------------------------------------------------------------------


def seal_body(fields: Mapping[str, Any]) -> bytes:
    return json.dumps(dict(fields), sort_keys=True, separators=(",", ":")).encode()


def seal_hash(body: bytes, signature: bytes) -> str:
    return hashlib.sha256(body + signature).hexdigest()


@dataclass(frozen=True)
class Keys:
    signing: Ed25519PrivateKey
    key_id: str
    trusted: dict[str, Ed25519PublicKey]  # key id -> public key (the signing one included)


def key_id_of(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_text(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _b64(text: str, what: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except ValueError as exc:
        raise ImproperlyConfigured(f"{what} is not base64: {exc}") from None
    if len(raw) != 32:
        raise ImproperlyConfigured(f"{what} must decode to 32 bytes, not {len(raw)}.")
    return raw


def public_from_text(text: str, what: str = "a public key") -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(_b64(text, what))


@lru_cache(maxsize=4)
def _keys(seed_text: str, trusted_text: str, secret_key: str) -> Keys:
    if seed_text:
        seed = _b64(seed_text, "GOVERNANCE_AUDIT_SIGNING_KEY")
    else:
        # Without a key of its own, one derived from the secret key (as the token hash key is):
        # fine for `make run`; production sets GOVERNANCE_AUDIT_SIGNING_KEY (README).
        seed = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"governance-audit-seal-key"
        ).derive(secret_key.encode())
    signing = Ed25519PrivateKey.from_private_bytes(seed)
    trusted = {key_id_of(signing.public_key()): signing.public_key()}
    for part in filter(None, (p.strip() for p in trusted_text.split(","))):
        public = public_from_text(part, "GOVERNANCE_AUDIT_TRUSTED_KEYS")
        trusted[key_id_of(public)] = public
    return Keys(signing, key_id_of(signing.public_key()), trusted)


def keys() -> Keys:
    return _keys(
        settings.GOVERNANCE_AUDIT_SIGNING_KEY,
        settings.GOVERNANCE_AUDIT_TRUSTED_KEYS,
        settings.SECRET_KEY,
    )


def sign(body: bytes) -> tuple[str, bytes]:
    k = keys()
    return k.key_id, k.signing.sign(body)


def signature_ok(public: Ed25519PublicKey, body: bytes, signature: bytes) -> bool:
    try:
        public.verify(signature, body)
    except InvalidSignature:
        return False
    return True


def new_key() -> dict[str, str]:
    """A fresh signing key, for `manage.py audit_keygen` (rotation)."""
    private = Ed25519PrivateKey.generate()
    seed = private.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    return {
        "signing_key": base64.urlsafe_b64encode(seed).decode().rstrip("="),
        "public_key": public_text(private.public_key()),
        "key_id": key_id_of(private.public_key()),
    }
