"""The one root of every error SecureCam raises on purpose, and the user-facing kind.

Branches, each documented where it lives:

- `app.protocol.errors.ProtocolError`: a peer broke the wire protocol (close code + reason);
  `InvalidState` (here): a session method or a board-link event its state forbids;
  `app.protocol.noise.NoiseError` (and `DecryptError`): the Noise layer refused a message.
- `app.devices.registry.RegistryError` (`UnknownDevice`, `DeviceExists`): the device registry.
- `app.serial.flasher.FlashError` (`FlashCancelled`, `FlashInputError`): flashing a board
  (a `UserError`); `app.serial.image.ImageError`: an image that must not be written.
- `app.serial.provisioner.ProvisionError` (`ProvisionCancelled`, `NameTaken`, `ConsoleTimeout`,
  `WifiConnectError`, `VerificationError`): provisioning a board (a `UserError`).
- `app.serial.ports.NoBoardPort`: no serial port that looks like a board, or several
  (a `UserError`).
- `app.serial.improv_codec.ImprovError` (`ImprovErrorState`, `ExtensionError`,
  `ImprovProtocolError`, `ImprovTimeout`): the Improv serial console and SecureCam's extension.
- `app.serial.link.InvalidTransition` (an `InvalidState`): an event the setup wizard's board
  link refuses in its state.
- `app.services.comparison.ComparisonError` (`CameraLost`): a plain-versus-encrypted run that
  could not start or finish.
- `app.bench.BenchError`: a benchmark that could not measure what it set out to.
- `app.share.certs.CertificateError`: a Share TLS certificate or key that cannot be used.
- `app.share.accounts.ViewerError` (`UnknownViewer`, `ViewerExists`, `WeakPassword`): viewers.

Catch `SecureCamError` to handle anything the app raises deliberately; anything else is a bug.
"""

from __future__ import annotations


class SecureCamError(Exception):
    """Root of every error SecureCam raises on purpose."""


class InvalidState(SecureCamError):
    """A state machine was asked for something its current state forbids: a protocol session
    sending before its handshake, the wizard's board link taking an event out of turn. A bug
    in the caller, never the peer's or the board's doing."""


class UserError(SecureCamError):
    """An error a person can act on: `message` says what happened, `guidance` what to do.

    The window and the command line show both as they are, without a traceback.
    """

    def __init__(self, message: str, guidance: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.guidance = guidance

    def __str__(self) -> str:
        return f"{self.message}\n{self.guidance}" if self.guidance else self.message
