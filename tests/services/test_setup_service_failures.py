"""A setup job that fails unexpectedly tells the wizard through its failure signal.

(Apart from tests/services/test_setup_service.py, which drives the emulated ROM loader.)
"""

import asyncio
import logging

from app.devices.registry import Registry
from app.serial.link import LinkState
from app.services.setup_service import SetupService
from tests.waiting import scaled, wait_until


def test_an_unexpected_error_in_a_job_reaches_the_failure_signal(
    qloop,
    tmp_path,
    monkeypatch,
    caplog,
):
    setup = SetupService(Registry(tmp_path / "home"), lister=lambda: [])
    failures = []
    states = []
    setup.identifyFailed.connect(lambda message, guidance: failures.append(message))
    setup.stateChanged.connect(states.append)

    def broken(port, baud, **callbacks):
        raise KeyError("a bug in the flasher glue")

    monkeypatch.setattr(setup, "_make_flasher", broken)

    async def scenario():
        assert setup.identify("/dev/ttyUSB9")
        await wait_until(lambda: failures)
        await wait_until(lambda: not setup.busy)

    try:
        qloop.run_until_complete(asyncio.wait_for(scenario(), scaled(10)))
    finally:
        setup.close()
    assert "identify stopped on an unexpected error" in failures[0]
    # The job never reported its outcome: the service ended its running state itself.
    assert states == [LinkState.IDENTIFYING, LinkState.DISCONNECTED]
    assert "KeyError" in failures[0]
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(logged) == 1 and logged[0].exc_info is not None
