"""The board link's transition table (app/serial/link.py): every legal move, every illegal one."""

from __future__ import annotations

import itertools

import pytest

from app.errors import SecureCamError
from app.serial.link import (
    FORGETS_IDENTITY,
    RUNNING,
    RUNS_FIRMWARE,
    TRANSITIONS,
    InvalidTransition,
    LinkEvent,
    LinkState,
    next_state,
)

S, E = LinkState, LinkEvent
SETTLED = (S.DISCONNECTED, S.IDENTIFIED, S.FLASHED, S.VERIFIED)
LEGAL = [(state, event, to) for state, moves in TRANSITIONS.items() for event, to in moves.items()]
ILLEGAL = [
    (state, event)
    for state, event in itertools.product(LinkState, LinkEvent)
    if event not in TRANSITIONS[state]
]


def test_every_state_has_a_row():
    assert set(TRANSITIONS) == set(LinkState)


@pytest.mark.parametrize(("state", "event", "to"), LEGAL)
def test_legal_transitions(state, event, to):
    assert next_state(state, event) is to


@pytest.mark.parametrize(("state", "event"), ILLEGAL)
def test_illegal_events_raise(state, event):
    with pytest.raises(InvalidTransition) as info:
        next_state(state, event)
    assert isinstance(info.value, SecureCamError)
    assert (info.value.state, info.value.event) == (state, event)
    assert state.value in str(info.value) and event.value in str(info.value)


def test_the_table_is_what_the_wizard_does():
    # The nominal path.
    path = [E.IDENTIFY, E.IDENTIFIED, E.FLASH, E.FLASHED, E.PROVISION, E.VERIFIED]
    state = S.DISCONNECTED
    seen = [state]
    for event in path:
        state = next_state(state, event)
        seen.append(state)
    assert seen == [
        S.DISCONNECTED,
        S.IDENTIFYING,
        S.IDENTIFIED,
        S.FLASHING,
        S.FLASHED,
        S.PROVISIONING,
        S.VERIFIED,
    ]
    # Any settled state starts any job; a running one only ends.
    for settled in SETTLED:
        assert TRANSITIONS[settled] == {
            E.IDENTIFY: S.IDENTIFYING,
            E.FLASH: S.FLASHING,
            E.PROVISION: S.PROVISIONING,
        }
    assert set(RUNNING) == set(LinkState) - set(SETTLED)
    for running, failure in RUNNING.items():
        assert len(TRANSITIONS[running]) == 2
        assert next_state(running, failure) is S.DISCONNECTED  # nothing known after a failure


def test_what_goes_with_the_states():
    assert {S.DISCONNECTED, S.IDENTIFYING} == FORGETS_IDENTITY
    assert {S.FLASHED, S.VERIFIED} == RUNS_FIRMWARE
