"""The Share server's TLS certificate: made on first use, or supplied by the user.

Two files in the config directory, both 0600: ``share-cert.pem`` (the certificate, followed by
its chain when the user supplied one) and ``share-key.pem`` (its private key, unencrypted
PKCS#8). The key is never logged, never kept by `ShareCertificate` and never in a repr.

The generated certificate:

- an EC P-256 key signed with ECDSA/SHA-256: what every browser and player accepts for TLS
  (Ed25519 certificates are refused by browsers);
- self-signed, ``CA:FALSE``, keyUsage digitalSignature, extendedKeyUsage serverAuth;
- valid for `VALIDITY` (825 days, counted from a day before it was made so a viewer whose
  clock lags still accepts it): the longest any browser accepts for a server certificate
  (Apple's platforms refuse longer ones even when trusted by hand);
- Subject Alternative Names: ``localhost``, 127.0.0.1, ::1, this computer's host name (and
  HOST.local, its mDNS name) and its LAN addresses at the time it was made.

When the LAN addresses or the host name change later, the certificate is *not* regenerated:
a new certificate has a new fingerprint, and a viewer who checked the old one would see an
unexplained warning. `ShareCertificate.missing_addresses` lists what it does not cover,
``securecam share info`` says so, and ``securecam share renew`` makes a new one on request.
An expired generated certificate is replaced by `load_or_create` (logged as a warning): no
browser accepts it anyway. A user-supplied one is never replaced, only reported.

Files are written through a temporary file created with ``O_EXCL`` and mode 0600 (never
readable by others, even briefly), then renamed; an ``flock`` on ``share-cert.lock``
serialises the app and the command line, so they never mix two pairs.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import ipaddress
import logging
import os
import socket
import ssl
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from app.errors import SecureCamError
from app.jsonfile import exclusive_lock, write_private

log = logging.getLogger(__name__)

CERT_FILE = "share-cert.pem"
KEY_FILE = "share-key.pem"
LOCK_FILE = "share-cert.lock"
VALIDITY = dt.timedelta(days=825)
BACKDATE = dt.timedelta(days=1)
ORGANIZATION = "SecureCam"  # the generated certificates' subject O=, how they are recognised
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")

# TLS 1.2 suites: forward secrecy and AEAD only (TLS 1.3's are all of that already).
_TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"

_IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class CertificateError(SecureCamError):
    """A certificate or key that cannot be used, in one line naming the file: garbage, a key
    that does not match its certificate, an expired certificate, a file that cannot be
    read or written."""


@dataclass(frozen=True)
class ShareCertificate:
    """The stored certificate, as loaded: no private key in here (`ssl_context` reads it).

    Attributes:
        cert_path, key_path: the two files in the config directory.
        certificate: the server certificate (the first of ``share-cert.pem``).
        generated: made by SecureCam (self-signed, O=SecureCam), not supplied by the user.
        created: made by this very call of `load_or_create` (or `renew`).
        current_addresses: this computer's LAN addresses and host name when it was loaded.
    """

    cert_path: Path
    key_path: Path
    certificate: x509.Certificate = field(repr=False)
    generated: bool
    created: bool = False
    current_addresses: tuple[str, ...] = ()

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the DER certificate as browsers show it: ``AB:CD:...`` (32 bytes)."""
        return fingerprint(self.certificate)

    @property
    def not_before(self) -> dt.datetime:
        return self.certificate.not_valid_before_utc

    @property
    def not_after(self) -> dt.datetime:
        return self.certificate.not_valid_after_utc

    @property
    def names(self) -> tuple[str, ...]:
        """The DNS names and IP addresses the certificate covers (its SANs), in its order."""
        return tuple(str(name) for name in _san_values(self.certificate))

    @property
    def missing_addresses(self) -> tuple[str, ...]:
        """The current LAN addresses and host name the certificate does not cover."""
        return tuple(a for a in self.current_addresses if not covers(self.certificate, a))

    def is_valid(self, now: dt.datetime | None = None) -> bool:
        """Within its validity period (`now`: the current time, UTC)."""
        now = now or utc_now()
        return self.not_before <= now <= self.not_after

    def ssl_context(self) -> ssl.SSLContext:
        """A server-side context: TLS 1.2 at least, this certificate (and chain) and key.

        Raises:
            CertificateError: the files cannot be read, or no longer hold a matching pair.
        """
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.set_ciphers(_TLS12_CIPHERS)
        context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
        try:
            context.load_cert_chain(self.cert_path, self.key_path)
        except (OSError, ssl.SSLError) as exc:
            raise CertificateError(
                f"cannot load {self.cert_path} with {self.key_path}: {_reason(exc)}"
            ) from None
        return context

    def __repr__(self) -> str:
        return (
            f"ShareCertificate(cert_path={str(self.cert_path)!r}, "
            f"fingerprint={self.fingerprint!r}, generated={self.generated})"
        )


def fingerprint(certificate: x509.Certificate) -> str:
    """SHA-256 of the DER encoding, colon-separated uppercase hex (as browsers show it)."""
    digest = hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).digest()
    return ":".join(f"{byte:02X}" for byte in digest)


def current_addresses(addresses: Sequence[str] | None = None) -> tuple[str, ...]:
    """This computer's host name(s) and LAN addresses (`addresses`: instead of asking the OS).

    The addresses come from `app.services.network.lan_addresses` (QNetworkInterface: no
    event loop and no traffic), the same list `securecam serve` prints camera URLs for.
    """
    if addresses is None:
        from app.services.network import lan_addresses  # QtNetwork: loaded only when asked

        addresses = lan_addresses()
    return tuple(dict.fromkeys([*_host_names(), *addresses]))


def load_or_create(
    config_dir: str | os.PathLike[str], *, addresses: Sequence[str] | None = None
) -> ShareCertificate:
    """The stored certificate, made first if there is none (or the generated one expired).

    Args:
        config_dir: the config directory (created 0700 if missing).
        addresses: the LAN addresses to cover; None asks the operating system.

    Raises:
        CertificateError: a stored file is unreadable, garbage, or does not match the other
            one; only one of the two exists; a user-supplied certificate expired.
    """
    current = current_addresses(addresses)
    directory = Path(config_dir)
    with _locked(directory):
        cert_path, key_path = directory / CERT_FILE, directory / KEY_FILE
        if not cert_path.exists() and not key_path.exists():
            return _generate(directory, current)
        stored = _load(directory, current)
        if stored.is_valid():
            return stored
        if not stored.generated:
            raise CertificateError(
                f"{cert_path} is not valid now (valid {format_time(stored.not_before)} to "
                f"{format_time(stored.not_after)}): install a new one with "
                "`securecam share install-cert`"
            )
        log.warning(
            "The Share certificate expired on %s: making a new one", format_time(stored.not_after)
        )
        return _generate(directory, current)


def load(
    config_dir: str | os.PathLike[str], *, addresses: Sequence[str] | None = None
) -> ShareCertificate | None:
    """The stored certificate as it is (even expired), or None if there is none yet.

    Raises:
        CertificateError: as `load_or_create`, except for expiry.
    """
    directory = Path(config_dir)
    if not (directory / CERT_FILE).exists() and not (directory / KEY_FILE).exists():
        return None
    return _load(directory, current_addresses(addresses))


def renew(
    config_dir: str | os.PathLike[str], *, addresses: Sequence[str] | None = None
) -> ShareCertificate:
    """Replace the stored certificate, whatever it is, with a newly generated one.

    Raises:
        CertificateError: the files cannot be written.
    """
    current = current_addresses(addresses)
    directory = Path(config_dir)
    with _locked(directory):
        return _generate(directory, current)


def install(
    config_dir: str | os.PathLike[str],
    cert_path: str | os.PathLike[str],
    key_path: str | os.PathLike[str],
    *,
    addresses: Sequence[str] | None = None,
) -> ShareCertificate:
    """Check a user-supplied certificate (PEM or DER, a chain may follow it) and its key
    (unencrypted PEM or DER), then store both in place of the current pair.

    Raises:
        CertificateError: a file cannot be read or is not a certificate / private key; the
            key does not match the certificate; the certificate is not valid now or not
            for TLS servers. Nothing is changed then.
    """
    cert_path, key_path = Path(cert_path), Path(key_path)
    chain = _read_certificates(cert_path)
    key = _read_key(key_path)
    leaf = chain[0]
    _check_match(leaf, key, cert_path, key_path)
    now = utc_now()
    if now < leaf.not_valid_before_utc:
        raise CertificateError(
            f"{cert_path} is not valid before {format_time(leaf.not_valid_before_utc)}"
        )
    if now > leaf.not_valid_after_utc:
        raise CertificateError(f"{cert_path} expired on {format_time(leaf.not_valid_after_utc)}")
    with contextlib.suppress(x509.ExtensionNotFound):
        usage = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        if ExtendedKeyUsageOID.SERVER_AUTH not in usage:
            raise CertificateError(f"{cert_path} is not for TLS servers (no serverAuth usage)")
    current = current_addresses(addresses)
    directory = Path(config_dir)
    with _locked(directory):
        _store(directory, chain, key)
    log.info("Installed the user's Share certificate %s", fingerprint(leaf))
    return _loaded(directory, leaf, current)


def covers(certificate: x509.Certificate, name: str) -> bool:
    """Whether `certificate`'s SANs cover `name`, an IP address or a DNS name (``*.`` too)."""
    values = _san_values(certificate)
    try:
        ip: _IPAddress | None = ipaddress.ip_address(name)
    except ValueError:
        ip = None
    if ip is not None:
        return ip in values
    wanted = name.lower().rstrip(".")
    for value in values:
        if not isinstance(value, str):
            continue
        value = value.lower().rstrip(".")
        if value == wanted:
            return True
        if value.startswith("*.") and "." in wanted and wanted.split(".", 1)[1] == value[2:]:
            return True
    return False


# -- generating --------------------------------------------------------------------------


def _generate(directory: Path, current: tuple[str, ...]) -> ShareCertificate:
    key = ec.generate_private_key(ec.SECP256R1())
    host = socket.gethostname() or "localhost"
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, f"SecureCam on {host}"[:64]),
        ]
    )
    not_before = utc_now().replace(microsecond=0) - BACKDATE
    public = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + VALIDITY)
        .add_extension(x509.SubjectAlternativeName(_sans([*LOOPBACK_NAMES, *current])), False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    _store(directory, [certificate], key)
    log.info("Made a new Share certificate %s", fingerprint(certificate))
    return _loaded(directory, certificate, current, created=True)


def _sans(names: Iterable[str]) -> list[x509.GeneralName]:
    result: list[x509.GeneralName] = []
    for name in dict.fromkeys(names):
        try:
            result.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            result.append(x509.DNSName(name))
    return result


def _host_names() -> list[str]:
    """This computer's host name and its mDNS name (HOST.local), if it is a DNS name."""
    host = socket.gethostname().strip().rstrip(".")
    if not host or host == "localhost" or not _is_dns_name(host):
        return []
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return []
    return [host] if "." in host else [host, f"{host}.local"]


def _is_dns_name(name: str) -> bool:
    labels = name.split(".")
    return len(name) <= 253 and all(
        0 < len(label) <= 63
        and label.isascii()
        and label.replace("-", "").isalnum()
        and not label.startswith("-")
        and not label.endswith("-")
        for label in labels
    )


# -- loading -------------------------------------------------------------------------------


def _load(directory: Path, current: tuple[str, ...]) -> ShareCertificate:
    cert_path, key_path = directory / CERT_FILE, directory / KEY_FILE
    for missing, other in ((cert_path, key_path), (key_path, cert_path)):
        if not missing.exists():
            raise CertificateError(
                f"{missing} is missing (but {other.name} is there): "
                "run `securecam share renew` for a new pair"
            )
    leaf = _read_certificates(cert_path)[0]
    _check_match(leaf, _read_key(key_path), cert_path, key_path)
    return _loaded(directory, leaf, current)


def _loaded(
    directory: Path, leaf: x509.Certificate, current: tuple[str, ...], *, created: bool = False
) -> ShareCertificate:
    return ShareCertificate(
        cert_path=directory / CERT_FILE,
        key_path=directory / KEY_FILE,
        certificate=leaf,
        generated=_is_generated(leaf),
        created=created,
        current_addresses=current,
    )


def _is_generated(certificate: x509.Certificate) -> bool:
    organizations = certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return certificate.issuer == certificate.subject and [o.value for o in organizations] == [
        ORGANIZATION
    ]


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CertificateError(f"cannot read {what} {path}: {_reason(exc)}") from None


def _read_certificates(path: Path) -> list[x509.Certificate]:
    data = _read(path, "certificate")
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except ValueError:
        raise CertificateError(f"{path} is not a PEM or DER certificate") from None


def _read_key(path: Path) -> PrivateKeyTypes:
    data = _read(path, "private key")
    try:
        if b"-----BEGIN" in data:
            return serialization.load_pem_private_key(data, password=None)
        return serialization.load_der_private_key(data, password=None)
    except TypeError:  # a password is needed
        raise CertificateError(f"{path} is encrypted: give the key without a password") from None
    except (ValueError, UnsupportedAlgorithm):
        raise CertificateError(f"{path} is not a PEM or DER private key") from None


def _check_match(
    certificate: x509.Certificate, key: PrivateKeyTypes, cert_path: Path, key_path: Path
) -> None:
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if key.public_key().public_bytes(der, public) != certificate.public_key().public_bytes(
        der, public
    ):
        raise CertificateError(f"{key_path} is not the private key of {cert_path}")


def _san_values(certificate: x509.Certificate) -> list[str | _IPAddress]:
    try:
        sans = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    values: list[str | _IPAddress] = []
    for name in sans:
        value = name.value
        if isinstance(name, x509.DNSName | x509.IPAddress) and isinstance(
            value, str | ipaddress.IPv4Address | ipaddress.IPv6Address
        ):
            values.append(value)
    return values


# -- storing -------------------------------------------------------------------------------


def _store(directory: Path, chain: Sequence[x509.Certificate], key: PrivateKeyTypes) -> None:
    """Write the key, then the certificate (each atomically, 0600 from the first byte)."""
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    cert_pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain)
    for name, data in ((KEY_FILE, key_pem), (CERT_FILE, cert_pem)):
        path = directory / name
        try:
            write_private(path, data)
        except OSError as exc:
            raise CertificateError(f"cannot write {path}: {_reason(exc)}") from None


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    lock_path = directory / LOCK_FILE
    with contextlib.ExitStack() as held:
        try:
            held.enter_context(exclusive_lock(lock_path))
        except OSError as exc:
            raise CertificateError(f"cannot write {lock_path}: {_reason(exc)}") from None
        yield


# -- time, and one-line reasons ----------------------------------------------------------


def utc_now() -> dt.datetime:
    """The current time, UTC (what validity is checked against)."""
    return dt.datetime.now(dt.UTC)


def format_time(moment: dt.datetime) -> str:
    """A validity bound as shown to people: ``2026-12-01 13:52 UTC``."""
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return " ".join(str(exc).split()) or type(exc).__name__
