"""A qasync event loop on pytest-qt's QApplication, for tests that need both worlds."""

import asyncio
import gc

import pytest
import qasync

from tests.waiting import wait_until  # noqa: F401  (imported from here by the UI tests)


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
        loop.run_until_complete(asyncio.sleep(0))  # lets callbacks already scheduled finish
        loop.close()
        asyncio.set_event_loop(None)
    finally:
        gc.collect()
        gc.enable()
