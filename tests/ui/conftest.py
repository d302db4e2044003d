"""A qasync event loop on pytest-qt's QApplication, for tests that need both worlds."""

import asyncio
import gc
from collections.abc import Callable

import pytest
import qasync


@pytest.fixture
def qloop(qapp):
    # as in run_app: closing the window must not stop the loop
    qapp.setQuitOnLastWindowClosed(False)
    loop = qasync.QEventLoop(qapp, already_running=False)
    asyncio.set_event_loop(loop)
    # As in the app (app/ui/run.py): collections run on the GUI thread only, because a
    # collection triggered in a worker thread would destroy Qt objects on the wrong thread.
    gc.disable()
    try:
        yield loop
        loop.run_until_complete(asyncio.sleep(0))
        loop.close()
        asyncio.set_event_loop(None)
    finally:
        gc.collect()
        gc.enable()


async def wait_until(condition: Callable[[], object], timeout: float = 5.0, step: float = 0.02):
    """Await until `condition()` is truthy; the Qt and asyncio loops keep running meanwhile."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = condition()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(step)
