"""Sign-In with Ethereum (EIP-4361): challenges the portal issues and strict verification of
the messages wallets sign.

A challenge is a nonce stored server-side, bound to the session that asked (the sha256 of a
secret kept in that session), short-lived (``SIWE_NONCE_TTL``) and single-use; with it come
the fields the message must carry: this site's domain and URI, the chain id, the
statement, issued-at and expiry.

``message_verify`` checks, in this order, each rejection its own code (``SiweErrorCode``):
the message's form (EIP-4361, read with the spec's regular expression, and only its
canonical serialization accepted) and the address's EIP-55 checksum; the nonce (issued here, to this
session, unused, not expired: it is burnt by the first attempt that presents it from its own
session, whatever the outcome); scheme, domain, URI and chain id against what was issued;
issued-at between the nonce's issue and now; expiry and not-before; then the signature:
recovered as an EOA's (EIP-191, coincurve), else asked of the wallet contract on the chain's
node (EIP-1271, and EIP-6492 for a wallet not deployed yet).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

import requests
from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import is_checksum_address, to_checksum_address
from siwe import SiweMessage, generate_nonce
from siwe.parsed import RegExpParsedMessage
from siwe.siwe import InvalidSignature, _validate_rfc3986_uri, check_contract_wallet_signature
from web3 import Web3
from web3.exceptions import Web3Exception
from web3.providers import HTTPProvider

from portal.errors import DomainError, detail
from portal.siwe.errors import SiweErrorCode
from portal.siwe.models import SiweNonce

ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
NONCE = re.compile(r"^[A-Za-z0-9]{8,32}$")
# EIP-4361's statement: 1*( reserved / unreserved / " " ); a request id: *pchar (RFC 3986)
STATEMENT = re.compile(r"^[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;= ]+$")
REQUEST_ID = re.compile(r"^(?:[-._~!$&'()*+,;=:@A-Za-z0-9]|%[0-9A-Fa-f]{2})*$")
# A subset of RFC 3986 URIs that is surely valid (scheme://host[:port]/path?query#fragment with
# every percent sign encoding a byte); any other URI is checked against the full grammar.
_PCHAR = r"(?:[-._~!$&'()*+,;=:@A-Za-z0-9]|%[0-9A-Fa-f]{2})"
SIMPLE_URI = re.compile(
    rf"^[A-Za-z][A-Za-z0-9+.\-]*://[A-Za-z0-9.\-]+(?::[0-9]{{1,5}})?"
    rf"(?:/{_PCHAR}*)*(?:\?(?:{_PCHAR}|[/?])*)?(?:#(?:{_PCHAR}|[/?])*)?$"
)


def _check_uri(value: str) -> None:
    if not SIMPLE_URI.match(value):
        _validate_rfc3986_uri(value)  # the library's grammar: slow, for unusual URIs only


DOMAIN = re.compile(r"^[^\s/?#]+$")
MAX_MESSAGE = 4096  # characters: a sign-in message is a few hundred
KEEP_EXPIRED = timedelta(days=1)  # an expired nonce is still known (to say "expired"), then purged
PURGE_ONE_IN = 64  # issuing purges long-expired nonces now and then, not on every request


@dataclass(frozen=True)
class Site:
    """The origin a message must name: the scheme, the host (with its port) and the URI."""

    scheme: str
    domain: str

    @property
    def uri(self) -> str:
        return f"{self.scheme}://{self.domain}/"

    @classmethod
    def of(cls, request) -> Site:
        return cls(scheme=request.scheme, domain=request.get_host())


@dataclass(frozen=True)
class Challenge:
    """What a wallet signs, field by field, and the message itself when the address is known."""

    nonce: str
    domain: str
    uri: str
    scheme: str
    chain_id: int
    statement: str
    issued_at: str
    expiration_time: str
    message: str | None

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Verified:
    """A message that passed every check: who signed it, on which chain."""

    address: str
    chain_id: int
    contract_wallet: bool


def binding_hash(binding: str) -> str:
    return hashlib.sha256(binding.encode()).hexdigest()


def _fail(error: SiweErrorCode, message: str | None = None, field: str | None = None):
    details = [detail(field, error.code, message or error.message)] if field else None
    raise DomainError(error, message, details=details)


def _iso(moment: datetime) -> str:
    """EIP-4361's time format (what ``ISO8601Datetime.from_datetime`` writes, without its
    grammar check of our own output)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def chain_rpc_url(chain_id: int) -> str:
    """The node to ask about contract wallets of ``chain_id``; ``siwe_unsupported_chain`` when
    the portal has no such network (``SIWE_CHAIN_RPC_URL`` names the lookup: portal imports no
    other app of ours, the chain app answers)."""
    try:
        return import_string(settings.SIWE_CHAIN_RPC_URL)(chain_id)
    except LookupError:
        _fail(SiweErrorCode.UNSUPPORTED_CHAIN, f"The portal has no network of chain {chain_id}.")


def check_address(address: str, field: str = "address") -> str:
    if not isinstance(address, str) or not ADDRESS.match(address):
        _fail(
            SiweErrorCode.MALFORMED_MESSAGE,
            "The address is not a 0x-prefixed 20-byte address.",
            field,
        )
    if not is_checksum_address(address):
        _fail(SiweErrorCode.ADDRESS_NOT_EIP55, field=field)
    return address


def wallet_address(address: str) -> str:
    """A wallet's address as EIP-55 writes it. Wallets hand pages all-lowercase addresses
    (``eth_requestAccounts``), so one case throughout is taken as is; a mixed-case address
    must be a right checksum (a wrong one is a mistyped address)."""
    if not isinstance(address, str) or not ADDRESS.match(address):
        _fail(
            SiweErrorCode.MALFORMED_MESSAGE,
            "The address is not a 0x-prefixed 20-byte address.",
            "address",
        )
    digits = address[2:]
    if digits in (digits.lower(), digits.upper()):
        return to_checksum_address(address)
    return check_address(address)


def challenge_issue(
    *,
    binding: str,
    site: Site,
    chain_id: int,
    address: str | None = None,
    now: datetime | None = None,
) -> Challenge:
    """A new nonce bound to the session secret ``binding`` and the fields its message must
    carry. One INSERT: every value is the portal's own (the nonce's uniqueness and the window
    are database constraints), so no ``full_clean`` round trips."""
    now = now or timezone.now()
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)  # the message's precision
    if not binding:
        raise ValueError("a nonce needs the session's binding")
    if address:
        address = wallet_address(address)
    chain_rpc_url(chain_id)
    if secrets.randbelow(PURGE_ONE_IN) == 0:
        SiweNonce.objects.filter(expires_at__lt=now - KEEP_EXPIRED).delete()
    row = SiweNonce.objects.create(
        nonce=generate_nonce(),
        session_hash=binding_hash(binding),
        chain_id=chain_id,
        address=address or "",
        issued_at=now,
        expires_at=now + timedelta(seconds=settings.SIWE_NONCE_TTL),
    )
    fields = {
        "nonce": row.nonce,
        "domain": site.domain,
        "uri": site.uri,
        "scheme": site.scheme,
        "chain_id": chain_id,
        "statement": settings.SIWE_STATEMENT,
        "issued_at": _iso(row.issued_at),
        "expiration_time": _iso(row.expires_at),
    }
    message = None
    if address:
        # our own fields: built without the library's (slow) validation
        built = SiweMessage.model_construct(address=address, version="1", **fields)
        message = built.prepare_message()
    return Challenge(message=message, **fields)


# --- verification ---


@dataclass(frozen=True)
class Parsed:
    """A message's fields (the library's model, built without its slow grammar checks: the
    spec's regular expression and the canonical round trip stand for them) and its times."""

    fields: SiweMessage
    issued_at: datetime
    expiration_time: datetime | None
    not_before: datetime | None


def _moment(value: str | None) -> datetime | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("a time without its offset")
    return moment


def parse_message(message: str) -> Parsed:
    """The message's fields; only an EIP-4361 message in its canonical form is accepted."""
    if not isinstance(message, str) or not message or len(message) > MAX_MESSAGE:
        _fail(SiweErrorCode.MALFORMED_MESSAGE, field="message")
    try:
        values = dict(RegExpParsedMessage(message).__dict__)
        check_address(values["address"], field="message")
        statement = values["statement"]
        if statement is not None and not STATEMENT.match(statement):
            raise ValueError("the statement has characters EIP-4361 does not allow")
        if values["request_id"] is not None and not REQUEST_ID.match(values["request_id"]):
            raise ValueError("the request id has characters EIP-4361 does not allow")
        if not DOMAIN.match(values["domain"]) or len(values["chain_id"]) > 19:
            raise ValueError("the domain or the chain id")
        values["chain_id"] = int(values["chain_id"])
        for uri in [values["uri"], *(values["resources"] or [])]:
            _check_uri(uri)
        times = [_moment(values[name]) for name in ("issued_at", "expiration_time", "not_before")]
    except DomainError:
        raise
    except (ValueError, TypeError) as exc:
        reason = f"The message is not an EIP-4361 message: {exc}"[:300]
        _fail(SiweErrorCode.MALFORMED_MESSAGE, reason, "message")
    fields = SiweMessage.model_construct(**values)
    if fields.prepare_message() != message:
        _fail(
            SiweErrorCode.MALFORMED_MESSAGE,
            "The message is not in EIP-4361's canonical form (spacing, order or line ends).",
            "message",
        )
    return Parsed(fields, *times)


def _nonce_take(nonce: str, binding: str, now: datetime) -> SiweNonce:
    """The nonce, burnt: unknown, another session's, used or expired each say so."""
    row = SiweNonce.objects.filter(nonce=nonce).first() if NONCE.match(nonce) else None
    if row is None:
        _fail(SiweErrorCode.NONCE_UNKNOWN)
    if not binding or row.session_hash != binding_hash(binding):
        _fail(SiweErrorCode.NONCE_OTHER_SESSION)
    if row.used_at is not None:
        _fail(SiweErrorCode.NONCE_REPLAYED)
    # burnt now, in its own statement: a failed attempt below still uses it up
    burnt = SiweNonce.objects.filter(pk=row.pk, used_at__isnull=True).update(used_at=now)
    if not burnt:
        _fail(SiweErrorCode.NONCE_REPLAYED)
    if row.expires_at <= now:
        _fail(SiweErrorCode.NONCE_EXPIRED)
    return row


def _check_fields(parsed: Parsed, row: SiweNonce, site: Site, now: datetime) -> None:
    fields = parsed.fields
    skew = timedelta(seconds=settings.SIWE_CLOCK_SKEW)
    # a message without a scheme means https (EIP-4361)
    if (fields.scheme or "https") != site.scheme:
        _fail(SiweErrorCode.SCHEME_MISMATCH)
    if fields.domain != site.domain:
        _fail(
            SiweErrorCode.DOMAIN_MISMATCH,
            f"The message was made for {fields.domain}, not {site.domain}.",
        )
    if str(fields.uri).rstrip("/") != site.uri.rstrip("/"):
        _fail(SiweErrorCode.URI_MISMATCH, f"The message names {fields.uri}, not {site.uri}.")
    if fields.chain_id != row.chain_id:
        _fail(
            SiweErrorCode.CHAIN_MISMATCH,
            f"The message names chain {fields.chain_id}; the nonce was issued for {row.chain_id}.",
        )
    if parsed.issued_at < row.issued_at - skew or parsed.issued_at > now + skew:
        _fail(SiweErrorCode.ISSUED_AT_INVALID)
    if parsed.expiration_time is not None and now >= parsed.expiration_time:
        _fail(SiweErrorCode.EXPIRED)
    if parsed.not_before is not None and now < parsed.not_before:
        _fail(SiweErrorCode.NOT_YET_VALID)


def _signer_is(address: str, message: str, signature: str) -> bool:
    try:
        return Account.recover_message(encode_defunct(text=message), signature=signature) == address
    except Exception:
        return False


def _contract_wallet_signed(fields: SiweMessage, message: str, signature: str) -> bool:
    url = chain_rpc_url(fields.chain_id)
    if not url:
        return False
    w3 = Web3(HTTPProvider(url, request_kwargs={"timeout": settings.CHAIN_RPC_TIMEOUT}))
    try:
        return check_contract_wallet_signature(
            address=fields.address,
            message=encode_defunct(text=message),
            signature=signature,
            chain_id=fields.chain_id,
            w3=w3,
        )
    except InvalidSignature:
        return False
    except (requests.RequestException, Web3Exception, OSError):
        _fail(SiweErrorCode.NODE_UNAVAILABLE)


def message_verify(
    *, binding: str, site: Site, message: str, signature: str, now: datetime | None = None
) -> Verified:
    """The signer of ``message`` if every check passes; a ``DomainError`` naming the first that
    fails otherwise. Not atomic on purpose: the nonce stays burnt when a later check fails."""
    now = now or timezone.now()
    parsed = parse_message(message)
    fields = parsed.fields
    if not isinstance(signature, str) or not re.fullmatch(r"0x[0-9a-fA-F]*", signature or ""):
        _fail(SiweErrorCode.BAD_SIGNATURE, "The signature is not 0x-prefixed hex.", "signature")
    row = _nonce_take(fields.nonce, binding, now)
    _check_fields(parsed, row, site, now)
    if _signer_is(fields.address, message, signature):
        return Verified(address=fields.address, chain_id=fields.chain_id, contract_wallet=False)
    if _contract_wallet_signed(fields, message, signature):
        return Verified(address=fields.address, chain_id=fields.chain_id, contract_wallet=True)
    _fail(SiweErrorCode.BAD_SIGNATURE)
