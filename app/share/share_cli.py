"""`securecam share ...`: the Share server's certificate (and, later, the server's other settings).

- ``share info``: the certificate's SHA-256 fingerprint, validity, the names and addresses it
  covers, what it no longer covers, and its files. Makes the certificate on first use, so
  the fingerprint shown is the one the server will present.
- ``share install-cert --cert F --key K``: use a certificate of your own instead.
- ``share renew``: a new self-signed certificate (after the LAN addresses changed).

Errors are one line, ``securecam: error: ...``, exit code 1. The private key is never printed.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from app.cli_common import add_action as _action
from app.cli_common import common_options, reports_errors
from app.paths import config_dir

if TYPE_CHECKING:  # the actions import it: `cryptography` is slow to load for `--help`
    from app.share import certs

_reports_errors = reports_errors(("app.share.certs:CertificateError", 1))


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `share` and its actions on the top-level sub-command set."""
    parser = subparsers.add_parser(
        "share",
        parents=[common_options()],
        help="the Share viewer server's certificate",
        description="Show, renew or replace the certificate the Share viewer server presents.",
    )
    actions = parser.add_subparsers(dest="share_command", metavar="ACTION", required=True)

    info = _action(actions, "info", "show the certificate's fingerprint, validity and names")
    info.set_defaults(handler=_info)

    install = _action(actions, "install-cert", "use your own certificate and key instead")
    install.add_argument("--cert", required=True, metavar="FILE", help="certificate (PEM or DER)")
    install.add_argument(
        "--key", required=True, metavar="FILE", help="its private key (PEM or DER, no password)"
    )
    install.set_defaults(handler=_install)

    renew = _action(actions, "renew", "replace the certificate with a new self-signed one")
    renew.add_argument(
        "--force", action="store_true", help="also replace a certificate you installed"
    )
    renew.set_defaults(handler=_renew)


def _directory(args: argparse.Namespace) -> str:
    return str(config_dir(getattr(args, "config_dir", None)))


@_reports_errors
def _info(args: argparse.Namespace) -> int:
    from app.share import certs

    cert = certs.load_or_create(_directory(args))
    if cert.created:
        print("Made a new self-signed certificate (first use).")
    _print(cert)
    return 0


@_reports_errors
def _install(args: argparse.Namespace) -> int:
    from app.share import certs

    cert = certs.install(_directory(args), args.cert, args.key)
    print("Installed your certificate; the Share server presents it from its next start.")
    _print(cert)
    return 0


@_reports_errors
def _renew(args: argparse.Namespace) -> int:
    from app.share import certs

    directory = _directory(args)
    current = certs.load(directory)
    if current is not None and not current.generated and not args.force:
        print(
            f"securecam: error: {current.cert_path} is a certificate you installed; "
            "add --force to replace it with a self-signed one",
            file=sys.stderr,
        )
        return 1
    cert = certs.renew(directory)
    print("Made a new self-signed certificate: viewers will see a new fingerprint.")
    _print(cert)
    return 0


def _print(cert: certs.ShareCertificate) -> None:
    from app.share import certs

    left = (cert.not_after - certs.utc_now()).days
    state = "EXPIRED" if left < 0 else f"{left} days left"
    kind = "self-signed, made by SecureCam" if cert.generated else "installed by you"
    print(f"Certificate:  {kind}")
    print(f"Fingerprint:  SHA-256 {cert.fingerprint}")
    print(f"Valid:        {_day(cert)} ({state})")
    print(f"Covers:       {', '.join(cert.names) or 'no names (browsers refuse it)'}")
    if cert.missing_addresses:
        missing = ", ".join(cert.missing_addresses)
        print(f"Not covered:  {missing} (this computer's, now): browsers warn on those.")
        if cert.generated:
            print(
                "              `securecam share renew` makes one that covers them "
                "(viewers then see a new fingerprint)."
            )
        else:
            print("              Install a certificate that covers them, or use a covered name.")
    print(f"Files:        {cert.cert_path}")
    print(f"              {cert.key_path} (private key, 0600)")
    if cert.generated:
        print()
        print("Browsers warn about a self-signed certificate: before accepting it, check that")
        print("the browser shows this SHA-256 fingerprint.")


def _day(cert: certs.ShareCertificate) -> str:
    from app.share import certs

    return f"{certs.format_time(cert.not_before)} to {certs.format_time(cert.not_after)}"
