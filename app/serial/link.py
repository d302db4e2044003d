"""The setup wizard's link to a board: its states, and the one table of their transitions.

Everything that moves the link from one state to another is in this module, after h11's
`_state.py`: `TRANSITIONS` maps each state to the events it accepts and the state each one
leads to, and `next_state` applies it. An event a state does not accept raises
`InvalidTransition`; it is never ignored. `app.services.setup_service.SetupService` owns the
one current state (the wizard's pages read it there and keep no copy of their own) and fires
the events as its serial jobs start and end:

    DISCONNECTED --IDENTIFY--> IDENTIFYING --IDENTIFIED--> IDENTIFIED --FLASH--> FLASHING
    FLASHING --FLASHED--> FLASHED --PROVISION--> PROVISIONING --VERIFIED--> VERIFIED

Every settled state (DISCONNECTED, IDENTIFIED, FLASHED, VERIFIED) can start any of the three
jobs: identify again (the wizard's Retry buttons, or Back and Next), flash (the flasher
connects to the board itself, so no identify is needed first), provision (a board that
already runs SecureCam firmware skips flashing, and a provisioned one can be given another
name). A failed or cancelled job leaves the link DISCONNECTED: after it nothing about the
board is known (a failed flash may leave a partial image; a failed provisioning rolled the
registry back). A Wi-Fi scan is a job too, but it changes nothing the link knows.

Pure: no Qt, no serial port.
"""

from __future__ import annotations

from enum import Enum

from app.errors import InvalidState


class LinkState(Enum):
    """What is known about the board on the chosen port."""

    DISCONNECTED = "disconnected"  # nothing (the start, and after any failed job)
    IDENTIFYING = "identifying"  # asking the ROM loader for chip, MAC and flash size
    IDENTIFIED = "identified"  # the ROM loader answered
    FLASHING = "flashing"  # writing the firmware
    FLASHED = "flashed"  # the firmware is written and esptool verified it
    PROVISIONING = "provisioning"  # giving the console Wi-Fi, server, name, key and settings
    VERIFIED = "verified"  # provisioned, and the configuration read back matches (the key by
    # fingerprint): the camera can stream once it restarts


class LinkEvent(Enum):
    """What happens to the link: a job starts, or ends one way or the other."""

    IDENTIFY = "identify"
    IDENTIFIED = "identified"
    IDENTIFY_FAILED = "identify failed"
    FLASH = "flash"
    FLASHED = "flashed"
    FLASH_FAILED = "flash failed"  # a cancel included
    PROVISION = "provision"
    VERIFIED = "verified"
    PROVISION_FAILED = "provision failed"  # a cancel included


class InvalidTransition(InvalidState):
    """An event the link's current state does not accept: a bug in the caller, never the
    board's doing (a job's outcome fired twice, or a job started while another runs)."""

    def __init__(self, state: LinkState, event: LinkEvent) -> None:
        super().__init__(f"the board link is {state.value}: {event.value!r} is not allowed")
        self.state = state
        self.event = event


_S, _E = LinkState, LinkEvent

TRANSITIONS: dict[LinkState, dict[LinkEvent, LinkState]] = {
    _S.DISCONNECTED: {
        _E.IDENTIFY: _S.IDENTIFYING,
        _E.FLASH: _S.FLASHING,
        _E.PROVISION: _S.PROVISIONING,
    },
    _S.IDENTIFYING: {
        _E.IDENTIFIED: _S.IDENTIFIED,
        _E.IDENTIFY_FAILED: _S.DISCONNECTED,
    },
    _S.IDENTIFIED: {
        _E.IDENTIFY: _S.IDENTIFYING,
        _E.FLASH: _S.FLASHING,
        _E.PROVISION: _S.PROVISIONING,
    },
    _S.FLASHING: {
        _E.FLASHED: _S.FLASHED,
        _E.FLASH_FAILED: _S.DISCONNECTED,
    },
    _S.FLASHED: {
        _E.IDENTIFY: _S.IDENTIFYING,
        _E.FLASH: _S.FLASHING,
        _E.PROVISION: _S.PROVISIONING,
    },
    _S.PROVISIONING: {
        _E.VERIFIED: _S.VERIFIED,
        _E.PROVISION_FAILED: _S.DISCONNECTED,
    },
    _S.VERIFIED: {
        _E.IDENTIFY: _S.IDENTIFYING,
        _E.FLASH: _S.FLASHING,
        _E.PROVISION: _S.PROVISIONING,
    },
}

# A job's state while it runs, and the event that ends it when it stops without its own
# outcome (an unexpected error): what `SetupService` fires so the link never stays busy.
RUNNING: dict[LinkState, LinkEvent] = {
    _S.IDENTIFYING: _E.IDENTIFY_FAILED,
    _S.FLASHING: _E.FLASH_FAILED,
    _S.PROVISIONING: _E.PROVISION_FAILED,
}

# States in which the identity the ROM loader gave (chip, MAC, flash size) is forgotten.
FORGETS_IDENTITY = frozenset({_S.DISCONNECTED, _S.IDENTIFYING})
# States in which the board is known to run SecureCam firmware (flashing can be skipped).
RUNS_FIRMWARE = frozenset({_S.FLASHED, _S.VERIFIED})


def next_state(state: LinkState, event: LinkEvent) -> LinkState:
    """The state `event` leads to from `state`.

    Raises:
        InvalidTransition: `state` does not accept `event`.
    """
    try:
        return TRANSITIONS[state][event]
    except KeyError:
        raise InvalidTransition(state, event) from None
