"""The Share certificate: generated, stored 0600, reloaded, installed, and used for real TLS."""

import asyncio
import contextlib
import datetime as dt
import ipaddress
import logging
import os
import shutil
import socket
import ssl
import stat
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from app.errors import SecureCamError
from app.share import certs
from app.share.certs import CertificateError
from tests.waiting import scaled

LAN = ["192.0.2.10", "2001:db8::10"]


@pytest.fixture
def cfg(tmp_path):
    return tmp_path / "cfg"


@pytest.fixture
def cert(cfg):
    return certs.load_or_create(cfg, addresses=LAN)


def sans(certificate):
    return certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value


def make_pair(tmp_path, name="mine", *, days=(-1, 30), eku=True, hostname="cam.example"):
    """A user's own certificate and key, written as PEM files; returns (cert, key) paths."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + dt.timedelta(days=days[0]))
        .not_valid_after(now + dt.timedelta(days=days[1]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
    )
    if eku is not None:
        usage = ExtendedKeyUsageOID.SERVER_AUTH if eku else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    certificate = builder.sign(key, hashes.SHA256())
    cert_path = tmp_path / f"{name}.crt"
    key_path = tmp_path / f"{name}.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


# -- the generated certificate -------------------------------------------------------------


def test_generated_certificate_covers_loopback_host_name_and_lan_addresses(cert):
    names = sans(cert.certificate)
    ips = names.get_values_for_type(x509.IPAddress)
    dns = names.get_values_for_type(x509.DNSName)
    assert ipaddress.ip_address("127.0.0.1") in ips
    assert ipaddress.ip_address("::1") in ips
    assert {ipaddress.ip_address(a) for a in LAN} <= set(ips)
    assert "localhost" in dns
    host = socket.gethostname()
    assert host in dns
    if "." not in host:
        assert f"{host}.local" in dns
    assert cert.missing_addresses == ()
    assert cert.created and cert.generated


def test_generated_certificate_is_a_p256_ecdsa_server_certificate(cert):
    c = cert.certificate
    assert isinstance(c.public_key(), ec.EllipticCurvePublicKey)
    assert c.public_key().curve.name == "secp256r1"
    assert isinstance(c.signature_hash_algorithm, hashes.SHA256)
    basic = c.extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical and basic.value.ca is False
    usage = c.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature
    assert not usage.value.key_cert_sign
    eku = c.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert c.issuer == c.subject


def test_generated_certificate_is_valid_now_for_at_most_825_days(cert):
    now = dt.datetime.now(dt.UTC)
    assert cert.not_before <= now <= cert.not_after
    assert cert.not_after - cert.not_before <= dt.timedelta(days=825)
    assert cert.not_after - now > dt.timedelta(days=800)
    assert cert.is_valid()


def test_both_files_are_0600_and_the_key_is_pkcs8(cert, cfg):
    for path in (cfg / "share-cert.pem", cfg / "share-key.pem"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert (cfg / "share-key.pem").read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert cert.cert_path == cfg / "share-cert.pem"
    assert cert.key_path == cfg / "share-key.pem"
    assert not [p for p in cfg.iterdir() if p.name.endswith(".tmp")]


def test_files_are_0600_even_under_a_permissive_umask(cfg):
    old = os.umask(0)
    try:
        certs.load_or_create(cfg, addresses=LAN)
    finally:
        os.umask(old)
    for path in (cfg / "share-cert.pem", cfg / "share-key.pem"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_reload_gives_the_same_certificate(cert, cfg):
    again = certs.load_or_create(cfg, addresses=LAN)
    assert again.fingerprint == cert.fingerprint
    assert not again.created
    assert certs.load(cfg, addresses=LAN).fingerprint == cert.fingerprint


def test_load_without_a_certificate_is_none(cfg):
    assert certs.load(cfg, addresses=LAN) is None
    assert not cfg.exists()


def test_fingerprint_is_sha256_of_der_in_browser_form(cert):
    der = cert.certificate.public_bytes(serialization.Encoding.DER)
    digest = hashes.Hash(hashes.SHA256())
    digest.update(der)
    assert cert.fingerprint == ":".join(f"{b:02X}" for b in digest.finalize())
    assert len(cert.fingerprint) == 32 * 3 - 1


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl binary")
def test_fingerprint_matches_openssl(cert):
    result = subprocess.run(
        ["openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in", str(cert.cert_path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=scaled(30),
    )
    assert result.stdout.strip().split("=", 1)[1] == cert.fingerprint


def test_new_addresses_are_reported_not_silently_regenerated(cert, cfg):
    later = certs.load_or_create(cfg, addresses=[*LAN, "198.51.100.7"])
    assert later.fingerprint == cert.fingerprint
    assert later.missing_addresses == ("198.51.100.7",)


def test_renew_covers_the_new_addresses_with_a_new_fingerprint(cert, cfg):
    renewed = certs.renew(cfg, addresses=["198.51.100.7"])
    assert renewed.fingerprint != cert.fingerprint
    assert renewed.missing_addresses == ()
    assert certs.load_or_create(cfg, addresses=["198.51.100.7"]).fingerprint == renewed.fingerprint


def test_default_addresses_come_from_this_computer(cfg):
    from app.services.network import lan_addresses

    cert = certs.load_or_create(cfg)
    for address in lan_addresses():
        assert certs.covers(cert.certificate, address)
    assert cert.missing_addresses == ()


def test_an_expired_generated_certificate_is_replaced(cert, cfg, monkeypatch):
    later = cert.not_after + dt.timedelta(days=1)
    monkeypatch.setattr(certs, "utc_now", lambda: later)
    replaced = certs.load_or_create(cfg, addresses=LAN)
    assert replaced.created and replaced.fingerprint != cert.fingerprint


def test_a_missing_key_is_an_error_naming_it(cert, cfg):
    (cfg / "share-key.pem").unlink()
    with pytest.raises(CertificateError, match=r"share-key\.pem is missing.*share renew"):
        certs.load_or_create(cfg, addresses=LAN)


def test_a_corrupt_stored_certificate_is_a_one_line_error(cert, cfg):
    (cfg / "share-cert.pem").write_text("not a certificate\n")
    with pytest.raises(CertificateError) as info:
        certs.load_or_create(cfg, addresses=LAN)
    assert "share-cert.pem" in str(info.value) and "\n" not in str(info.value)
    assert isinstance(info.value, SecureCamError)


def test_a_stored_key_of_another_certificate_is_refused(cert, cfg, tmp_path):
    _, other_key = make_pair(tmp_path)
    (cfg / "share-key.pem").write_bytes(other_key.read_bytes())
    with pytest.raises(CertificateError, match="is not the private key of"):
        certs.load_or_create(cfg, addresses=LAN)


def test_covers_ip_names_and_wildcards(cert):
    assert certs.covers(cert.certificate, "127.0.0.1")
    assert certs.covers(cert.certificate, "::1")
    assert certs.covers(cert.certificate, "LOCALHOST")
    assert not certs.covers(cert.certificate, "198.51.100.7")
    assert not certs.covers(cert.certificate, "example.org")


# -- the private key stays private -----------------------------------------------------------


def test_the_private_key_is_never_in_reprs_or_logs(cfg, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    cert = certs.load_or_create(cfg, addresses=LAN)
    mine_cert, mine_key = make_pair(tmp_path)
    installed = certs.install(cfg, mine_cert, mine_key, addresses=LAN)
    certs.renew(cfg, addresses=LAN)
    secret = (cfg / "share-key.pem").read_text()
    body = "".join(secret.splitlines()[1:-1])
    mine_body = "".join(mine_key.read_text().splitlines()[1:-1])
    for text in (repr(cert), str(cert), repr(installed), caplog.text):
        assert "PRIVATE KEY" not in text
        assert body[:40] not in text and mine_body[:40] not in text
    assert cert.fingerprint in repr(cert)


# -- TLS for real ----------------------------------------------------------------------------


async def _serve(context):
    async def hello(reader, writer):
        writer.write(b"hello over TLS\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(hello, "127.0.0.1", 0, ssl=context)
    return server, server.sockets[0].getsockname()[1]


def _client(cert, *, strict=False):
    context = ssl.create_default_context(cafile=str(cert.cert_path))  # trusts only this cert
    assert context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED
    if strict:  # Python 3.13's defaults
        context.verify_flags |= ssl.VERIFY_X509_STRICT | ssl.VERIFY_X509_PARTIAL_CHAIN
    return context


@pytest.mark.parametrize("server_hostname", ["localhost", "127.0.0.1"])
@pytest.mark.parametrize("strict", [False, True])
async def test_tls_handshake_with_a_client_trusting_only_this_certificate(
    cert, server_hostname, strict
):
    server, port = await _serve(cert.ssl_context())
    async with server:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(
                "127.0.0.1", port, ssl=_client(cert, strict=strict), server_hostname=server_hostname
            ),
            scaled(10),
        )
        assert await asyncio.wait_for(reader.readline(), scaled(10)) == b"hello over TLS\n"
        tls = writer.get_extra_info("ssl_object")
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
        der = tls.getpeercert(binary_form=True)
        assert certs.fingerprint(x509.load_der_x509_certificate(der)) == cert.fingerprint
        writer.close()
        await writer.wait_closed()


async def test_a_name_the_certificate_does_not_cover_fails_verification(cert):
    server, port = await _serve(cert.ssl_context())
    async with server:
        with pytest.raises(ssl.SSLCertVerificationError):
            await asyncio.wait_for(
                asyncio.open_connection(
                    "127.0.0.1", port, ssl=_client(cert), server_hostname="example.org"
                ),
                scaled(10),
            )


def _tls_1_1_only(context):
    with pytest.warns(DeprecationWarning):  # Python deprecates naming TLS 1.0 and 1.1
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = ssl.TLSVersion.TLSv1_1
    # OpenSSL's default security level disables TLS 1.1 (and SHA-1 in it) on this end too:
    # lower it, so a refusal comes from the other end's minimum, not from this one's policy.
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    return context


async def _handshake(port, client):
    _, writer = await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", port, ssl=client, server_hostname="localhost"),
        scaled(10),
    )
    version = writer.get_extra_info("ssl_object").version()
    writer.close()
    with contextlib.suppress(ssl.SSLError, ConnectionError):
        await writer.wait_closed()
    return version


async def test_tls_1_1_client_is_refused(cert):
    server_context = cert.ssl_context()
    assert server_context.minimum_version == ssl.TLSVersion.TLSv1_2
    # The control: a server that still allows TLS 1.1 does talk to this client.
    lenient = _tls_1_1_only(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER))
    lenient.maximum_version = ssl.TLSVersion.MAXIMUM_SUPPORTED
    lenient.load_cert_chain(cert.cert_path, cert.key_path)
    server, port = await _serve(lenient)
    async with server:
        assert await _handshake(port, _tls_1_1_only(_client(cert))) == "TLSv1.1"
    server, port = await _serve(server_context)
    async with server:
        with pytest.raises((ssl.SSLError, ConnectionError)):  # an alert, or a reset after it
            await _handshake(port, _tls_1_1_only(_client(cert)))


async def test_tls_1_2_client_is_served(cert):
    server, port = await _serve(cert.ssl_context())
    client = _client(cert)
    client.maximum_version = ssl.TLSVersion.TLSv1_2
    async with server:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port, ssl=client, server_hostname="localhost"),
            scaled(10),
        )
        assert writer.get_extra_info("ssl_object").version() == "TLSv1.2"
        assert await asyncio.wait_for(reader.readline(), scaled(10)) == b"hello over TLS\n"
        writer.close()
        await writer.wait_closed()


# -- a certificate of the user's own ----------------------------------------------------------


def test_install_accepts_a_matching_pair_and_replaces_the_generated_one(cert, cfg, tmp_path):
    mine_cert, mine_key = make_pair(tmp_path)
    installed = certs.install(cfg, mine_cert, mine_key, addresses=LAN)
    assert installed.fingerprint != cert.fingerprint
    assert not installed.generated
    assert installed.names == ("cam.example",)
    assert "192.0.2.10" in installed.missing_addresses
    for path in (cfg / "share-cert.pem", cfg / "share-key.pem"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    again = certs.load_or_create(cfg, addresses=LAN)
    assert again.fingerprint == installed.fingerprint and not again.generated
    again.ssl_context()


def test_install_accepts_der_files(cfg, tmp_path):
    mine_cert, mine_key = make_pair(tmp_path)
    der_cert = tmp_path / "mine.der"
    der_cert.write_bytes(
        x509.load_pem_x509_certificate(mine_cert.read_bytes()).public_bytes(
            serialization.Encoding.DER
        )
    )
    installed = certs.install(cfg, der_cert, mine_key, addresses=LAN)
    assert (cfg / "share-cert.pem").read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    assert installed.names == ("cam.example",)


def test_install_keeps_the_chain_after_the_certificate(cfg, tmp_path):
    mine_cert, mine_key = make_pair(tmp_path)
    other_cert, _ = make_pair(tmp_path, "intermediate", hostname="ca.example")
    chain = tmp_path / "chain.pem"
    chain.write_bytes(mine_cert.read_bytes() + other_cert.read_bytes())
    installed = certs.install(cfg, chain, mine_key, addresses=LAN)
    assert installed.names == ("cam.example",)
    stored = x509.load_pem_x509_certificates((cfg / "share-cert.pem").read_bytes())
    assert len(stored) == 2


def _refused(cfg, cert_path, key_path, match):
    before = {p.name: p.read_bytes() for p in cfg.iterdir() if p.is_file()}
    with pytest.raises(CertificateError, match=match) as info:
        certs.install(cfg, cert_path, key_path, addresses=LAN)
    assert "\n" not in str(info.value)
    after = {p.name: p.read_bytes() for p in cfg.iterdir() if p.is_file()}
    assert after == before, "a refused install changed the stored pair"
    return str(info.value)


def test_install_refuses_a_mismatched_key(cert, cfg, tmp_path):
    mine_cert, _ = make_pair(tmp_path, "mine")
    _, other_key = make_pair(tmp_path, "other")
    message = _refused(cfg, mine_cert, other_key, "is not the private key of")
    assert str(other_key) in message and str(mine_cert) in message


def test_install_refuses_an_expired_certificate(cert, cfg, tmp_path):
    old_cert, old_key = make_pair(tmp_path, days=(-60, -1))
    assert str(old_cert) in _refused(cfg, old_cert, old_key, "expired on")


def test_install_refuses_a_certificate_not_yet_valid(cert, cfg, tmp_path):
    new_cert, new_key = make_pair(tmp_path, days=(2, 30))
    _refused(cfg, new_cert, new_key, "is not valid before")


def test_install_refuses_a_client_only_certificate(cert, cfg, tmp_path):
    client_cert, client_key = make_pair(tmp_path, eku=False)
    _refused(cfg, client_cert, client_key, "not for TLS servers")


def test_install_refuses_a_readme(cert, cfg, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# Not a certificate\n")
    _, key = make_pair(tmp_path)
    assert str(readme) in _refused(cfg, readme, key, "is not a PEM or DER certificate")
    mine_cert, _ = make_pair(tmp_path, "mine2")
    assert str(readme) in _refused(cfg, mine_cert, readme, "is not a PEM or DER private key")


def test_install_refuses_an_encrypted_key(cert, cfg, tmp_path):
    mine_cert, mine_key = make_pair(tmp_path)
    key = serialization.load_pem_private_key(mine_key.read_bytes(), password=None)
    locked = tmp_path / "locked.key"
    locked.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    _refused(cfg, mine_cert, locked, "is encrypted")


def test_install_refuses_a_missing_file(cert, cfg, tmp_path):
    _, key = make_pair(tmp_path)
    _refused(cfg, tmp_path / "nowhere.pem", key, r"cannot read certificate .*nowhere\.pem")


def test_an_expired_installed_certificate_is_reported_not_replaced(cfg, tmp_path, monkeypatch):
    mine_cert, mine_key = make_pair(tmp_path, days=(-1, 30))
    installed = certs.install(cfg, mine_cert, mine_key, addresses=LAN)
    later = installed.not_after + dt.timedelta(days=1)
    monkeypatch.setattr(certs, "utc_now", lambda: later)
    with pytest.raises(CertificateError, match=r"is not valid now.*install-cert"):
        certs.load_or_create(cfg, addresses=LAN)
    assert certs.load(cfg, addresses=LAN).fingerprint == installed.fingerprint
