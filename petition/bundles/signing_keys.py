"""The campaign's signing key and certificate, and the PAdES signature on every bundle.

`flask --app wsgi keys init` makes a self-signed RSA-3072 pair as a PKCS#12 file under
instance/ (bundle-signing.p12, its passphrase beside it in bundle-signing.pass, both 0600).
Operators with a real certificate set BUNDLE_PKCS12_PATH and BUNDLE_PKCS12_PASSPHRASE.
A self-signed signature proves integrity and origin to whoever is given the certificate
(its fingerprint is in every manifest); it is "trusted" only with that certificate as
trust root, which is how the tests validate it.

In development the first build creates that pair itself (as config.py creates the other
development secrets), so a fresh clone builds a bundle without a step README does not
name; production never invents a key: it fails with SigningKeyMissing, which the
console turns into a plain sentence for the lead.
"""
from __future__ import annotations

import hashlib
import io
import fcntl
import logging
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from petition.config import INSTANCE, Config

# pyHanko (with aiohttp and asn1crypto) and cryptography's X.509 are imported inside the
# functions below: pyHanko alone takes longer to import than Flask (python -X importtime),
# and only signing a bundle, checking one or `keys init` needs them, never a web page.

DEFAULT_P12 = "bundle-signing.p12"
DEFAULT_PASS = "bundle-signing.pass"
DEVELOPMENT_COMMON_NAME = "Open letters: delivery bundles (development)"

log = logging.getLogger("petition.bundles")


class SigningKeyMissing(RuntimeError):
    pass


@dataclass(frozen=True)
class KeyLocation:
    path: Path
    passphrase: bytes | None


def location(config: Config) -> KeyLocation:
    """Where the PKCS#12 file is: the configured one, else instance/bundle-signing.p12."""
    if config.BUNDLE_PKCS12_PATH:
        path = Path(config.BUNDLE_PKCS12_PATH)
        passphrase = config.BUNDLE_PKCS12_PASSPHRASE.encode() if config.BUNDLE_PKCS12_PASSPHRASE else None
        if passphrase is None and path.with_suffix(".pass").exists():
            passphrase = path.with_suffix(".pass").read_text().strip().encode()
        return KeyLocation(path, passphrase)
    path = INSTANCE / DEFAULT_P12
    passphrase = config.BUNDLE_PKCS12_PASSPHRASE.encode() if config.BUNDLE_PKCS12_PASSPHRASE else None
    if passphrase is None and (INSTANCE / DEFAULT_PASS).exists():
        passphrase = (INSTANCE / DEFAULT_PASS).read_text().strip().encode()
    return KeyLocation(path, passphrase)


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def init_keys(config: Config, common_name: str, organisation: str | None = None, *, days: int = 3 * 365,
              force: bool = False) -> KeyLocation:
    """Create a self-signed RSA-3072 key and certificate in a PKCS#12 file."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import pkcs12
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    where = location(config)
    if where.path.exists() and not force:
        raise FileExistsError(str(where.path))
    passphrase = where.passphrase or secrets.token_urlsafe(32).encode()
    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organisation:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation))
    name = x509.Name(attributes)
    now = datetime.now(timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    blob = pkcs12.serialize_key_and_certificates(
        common_name.encode(), key, cert, None, serialization.BestAvailableEncryption(passphrase))
    _write_private(where.path, blob)
    if not config.BUNDLE_PKCS12_PASSPHRASE:
        pass_path = where.path.with_suffix(".pass") if config.BUNDLE_PKCS12_PATH else INSTANCE / DEFAULT_PASS
        _write_private(pass_path, passphrase + b"\n")
    return KeyLocation(where.path, passphrase)


def ensure_development_key(config: Config) -> None:
    """Create the default self-signed key on first need, in development only.

    Only the default location under instance/ is filled in: a configured
    BUNDLE_PKCS12_PATH that does not exist is a mistake to report, not to paper over.
    A lock file keeps two workers starting their first build together from writing
    two different keys (one of them with the other's passphrase).
    """
    if config.ENV != "development" or config.BUNDLE_PKCS12_PATH:
        return
    where = location(config)
    if where.path.exists():
        return
    where.path.parent.mkdir(parents=True, exist_ok=True)
    with open(where.path.parent / "bundle-signing.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not where.path.exists():
            init_keys(config, DEVELOPMENT_COMMON_NAME)
            log.info("created a self-signed development key for bundles in %s", where.path.name)


def load_signer(config: Config):
    from pyhanko.sign import signers

    ensure_development_key(config)
    where = location(config)
    if not where.path.exists():
        raise SigningKeyMissing(
            f"no bundle signing key at {where.path}: run `flask --app wsgi keys init` or set BUNDLE_PKCS12_PATH")
    signer = signers.SimpleSigner.load_pkcs12(str(where.path), passphrase=where.passphrase)
    if signer is None:
        raise SigningKeyMissing(f"could not open {where.path} (wrong BUNDLE_PKCS12_PASSPHRASE?)")
    return signer


def certificate_fingerprint(signer) -> str:
    return hashlib.sha256(signer.signing_cert.dump()).hexdigest()


# PAdES levels, as the manifest and the cover name them.
LEVEL_BB, LEVEL_BT, LEVEL_BLTA = "PAdES-B-B", "PAdES-B-T", "PAdES-B-LTA"


@dataclass(frozen=True)
class Timestamp:
    """The RFC 3161 token on a bundle's signature: the time the authority vouches for."""

    time: datetime  # genTime, UTC
    authority: str  # the TSA's URL (or name, for an in-process one)
    serial: int

    def as_json(self) -> dict:
        return {"time": self.time.astimezone(timezone.utc).isoformat(timespec="seconds"),
                "authority": self.authority, "serial": str(self.serial)}


@dataclass(frozen=True)
class Signed:
    level: str
    timestamp: Timestamp | None


def _timestamp_errors() -> tuple[type[BaseException], ...]:
    import asyncio

    import aiohttp
    from pyhanko.sign.timestamps import TimestampRequestError

    return (TimestampRequestError, aiohttp.ClientError, asyncio.TimeoutError, OSError)


# What a timestamp authority that is down, slow or answering nonsense raises.
TIMESTAMP_ERRORS = _timestamp_errors()


def timestamper(config: Config):
    """The configured timestamp authority's client, or None (BUNDLE_TSA_URL empty)."""
    if not config.BUNDLE_TSA_URL:
        return None
    from pyhanko.sign.timestamps import HTTPTimeStamper

    auth = (config.BUNDLE_TSA_USERNAME, config.BUNDLE_TSA_PASSWORD) if config.BUNDLE_TSA_USERNAME else None
    return HTTPTimeStamper(config.BUNDLE_TSA_URL, timeout=config.BUNDLE_TSA_TIMEOUT, auth=auth)


def trust_roots(config: Config) -> list:
    """The certificates of BUNDLE_TRUST_ROOTS (PEM), for long-term validation data."""
    if not config.BUNDLE_TRUST_ROOTS:
        return []
    from pyhanko.keys import load_certs_from_pemder

    return list(load_certs_from_pemder([config.BUNDLE_TRUST_ROOTS]))


def _keeping(inner):
    """inner (a pyHanko TimeStamper) that also keeps the tokens it was given for real
    digests (pyHanko first asks for one over a dummy digest, to reserve room)."""
    from pyhanko.sign.timestamps.api import TimeStamper
    from pyhanko.sign.timestamps.common_utils import dummy_digest

    class Keeping(TimeStamper):
        def __init__(self):
            super().__init__()
            self.kept: list = []

        async def async_request_tsa_response(self, req):
            response = await inner.async_request_tsa_response(req)
            imprint = req["message_imprint"]
            algorithm = imprint["hash_algorithm"]["algorithm"].native
            if imprint["hashed_message"].native != dummy_digest(algorithm):
                self.kept.append(response)
            return response

    return Keeping()


def _token_time(response, authority: str) -> Timestamp:
    info = response["time_stamp_token"]["content"]["encap_content_info"]["content"].parsed
    return Timestamp(time=info["gen_time"].native.astimezone(timezone.utc), authority=authority,
                     serial=info["serial_number"].native)


def sign_file(source, output, signer, *, reason: str, location_text: str | None = None, stamper=None,
              authority: str = "", roots: list | None = None) -> Signed:
    """Sign the PDF in the binary file source into output: PAdES (SHA-256) over the whole
    file, as an incremental update, read and written as streams (a bundle of a million
    signatures is never held in memory whole).

    With stamper (a pyHanko TimeStamper), the signature carries the authority's RFC 3161
    timestamp (PAdES B-T). With roots as well (the certificates that anchor the signing
    certificate's and the TSA's chains), the chains and whatever revocation data their
    issuers publish are embedded in the document security store, followed by a document
    timestamp (PAdES B-LTA)."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    kept = _keeping(stamper) if stamper is not None else None
    options = {}
    level = LEVEL_BT if kept is not None else LEVEL_BB
    if kept is not None and roots:
        from pyhanko_certvalidator import ValidationContext

        options = {
            "embed_validation_info": True,
            "use_pades_lta": True,
            "validation_context": ValidationContext(
                trust_roots=[*roots, signer.signing_cert], allow_fetching=True, revocation_mode="soft-fail"),
        }
        level = LEVEL_BLTA
    writer = IncrementalPdfFileWriter(source, strict=False)
    meta = signers.PdfSignatureMetadata(
        field_name="BundleSignature",
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason,
        location=location_text,
        **options,
    )
    signers.sign_pdf(writer, meta, signer=signer, timestamper=kept, output=output)
    timestamp = _token_time(kept.kept[0], authority) if kept is not None else None
    return Signed(level, timestamp)


def sign_pdf(pdf: bytes, signer, *, reason: str, location_text: str | None = None, stamper=None,
             authority: str = "", roots: list | None = None) -> bytes:
    """sign_file() for a PDF in memory (small documents, tests)."""
    out = io.BytesIO()
    sign_file(io.BytesIO(pdf), out, signer, reason=reason, location_text=location_text, stamper=stamper,
              authority=authority, roots=roots)
    return out.getvalue()
