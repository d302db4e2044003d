"""Connection slots per state: the bookkeeping alone, without sockets."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.receiver.admission import SCORE_HALF_LIFE_S, Admission, Slot


def test_strangers_within_the_cap_evict_nobody():
    admission: Admission[str] = Admission(max_pending=3)
    assert [admission.admit(c, "10.0.0.1", 0.0) for c in "abc"] == [None, None, None]
    assert admission.count(Slot.STRANGER) == 3 and len(admission) == 3


def test_a_stranger_over_the_cap_evicts_the_oldest_of_the_busiest_address():
    admission: Admission[str] = Admission(max_pending=3)
    admission.admit("camera-a", "10.0.0.5", 0.0)
    admission.admit("flood-1", "10.0.0.66", 0.0)
    admission.admit("flood-2", "10.0.0.66", 0.0)
    # The newcomer is over the cap: the flooding address pays, not the older camera.
    assert admission.admit("newcomer", "10.0.0.7", 0.0) == "flood-1"


def test_with_one_address_each_the_oldest_stranger_goes():
    admission: Admission[str] = Admission(max_pending=2)
    admission.admit("a", "1", 0.0)
    admission.admit("b", "2", 0.0)
    assert admission.admit("c", "3", 0.0) == "a"


def test_authenticated_and_live_connections_leave_the_strangers_slots():
    admission: Admission[str] = Admission(max_pending=1)
    admission.admit("cam1", "10.0.0.5", 0.0)
    assert admission.authenticate("cam1", "front-door") is None
    assert admission.slot("cam1") is Slot.RECONNECT
    assert admission.admit("stranger", "10.0.0.66", 0.0) is None  # the camera no longer counts
    admission.confirm("cam1")
    assert admission.slot("cam1") is Slot.LIVE
    # A flood of strangers only ever evicts strangers.
    assert admission.admit("stranger-2", "10.0.0.66", 0.0) == "stranger"
    assert "stranger" not in admission
    assert admission.slot("cam1") is Slot.LIVE


def test_a_device_has_one_reconnect_slot_and_the_newest_handshake_takes_it():
    admission: Admission[str] = Admission(max_pending=4)
    for connection in ("live", "older", "newer"):
        admission.admit(connection, "10.0.0.5", 0.0)
    admission.authenticate("live", "cam")
    admission.confirm("live")
    assert admission.authenticate("older", "cam") is None
    assert admission.authenticate("newer", "cam") == "older"
    assert admission.slot("live") is Slot.LIVE  # the live session is never the one replaced


def test_release_frees_the_slot_and_forgets_unknown_connections():
    admission: Admission[str] = Admission(max_pending=1)
    admission.admit("a", "1", 0.0)
    admission.authenticate("a", "cam")
    admission.release("a")
    admission.release("never-admitted")
    assert len(admission) == 0 and "a" not in admission
    admission.admit("b", "1", 0.0)
    assert admission.authenticate("b", "cam") is None  # the reconnect slot was freed too


def test_a_cap_below_one_is_refused():
    with pytest.raises(ValueError, match="at least 1"):
        Admission(max_pending=0)


@given(
    st.lists(
        st.tuples(st.sampled_from(["admit", "release", "auth"]), st.integers(0, 30)),
        max_size=200,
    ),
    st.integers(1, 8),
)
def test_strangers_never_exceed_the_cap_once_victims_are_released(steps, cap):
    admission: Admission[int] = Admission(max_pending=cap)
    for action, n in steps:
        if action == "admit" and n not in admission:
            victim = admission.admit(n, str(n % 3), 0.0)
            if victim is not None:
                assert victim not in admission  # no longer counted: the caller only closes it
        elif action == "release":
            admission.release(n)
        elif action == "auth" and admission.slot(n) is Slot.STRANGER:
            admission.authenticate(n, f"cam{n % 4}")
        assert admission.count(Slot.STRANGER) <= cap


def test_each_victim_is_picked_once_and_stops_counting():
    """A victim waiting for its close must not be picked again by the next newcomer."""
    admission: Admission[int] = Admission(max_pending=4)
    for n in range(4):
        assert admission.admit(n, "127.0.0.2", 0.0) is None
    victims = [admission.admit(n, "127.0.0.2", 0.0) for n in range(4, 304)]
    assert len(set(victims)) == 300 and None not in victims
    assert admission.count(Slot.STRANGER) == 4


def test_a_flood_from_many_addresses_evicts_its_own_not_a_slow_camera():
    """Each flooder holds one connection and reconnects when dropped; all ties on holdings."""
    admission: Admission[str] = Admission(max_pending=64)
    now = 0.0
    flooders = [f"127.0.1.{i}" for i in range(1, 81)]
    for rounds in range(3):  # the flood is under way: every address has reconnected
        for address in flooders:
            now += 0.001
            admission.admit(f"{address}#{rounds}", address, now)
    admission.admit("camera", "192.168.1.20", now)  # upgraded, its hello not sent yet
    for address in flooders:  # 80 more newcomers before the camera's hello arrives
        now += 0.001
        assert admission.admit(f"{address}#late", address, now) != "camera"
    assert admission.slot("camera") is Slot.STRANGER


def test_an_address_score_fades_so_a_past_flood_is_not_held_against_it():
    admission: Admission[str] = Admission(max_pending=2)
    for n in range(20):
        victim = admission.admit(f"old{n}", "10.0.0.9", 0.0)
        if victim is not None:
            assert victim.startswith("old")
    admission.release("old18")
    admission.release("old19")
    later = 20 * SCORE_HALF_LIFE_S  # the burst is long forgotten
    admission.admit("a", "10.0.0.9", later)
    admission.admit("b", "10.0.0.7", later + 1)
    assert admission.admit("c", "10.0.0.8", later + 2) == "a"  # the oldest, as for anyone
