"""Background tasks started with `spawn` never fail unobserved."""

import asyncio
import gc
import logging

from app import tasks
from app.tasks import spawn


async def fail(message: str) -> None:
    await asyncio.sleep(0)
    raise ValueError(message)


async def test_a_failure_is_logged_once_and_handed_to_on_error(caplog):
    loop = asyncio.get_running_loop()
    unhandled = []
    loop.set_exception_handler(lambda _loop, context: unhandled.append(context))
    errors = []
    task = spawn(fail("camera gone"), name="switch suites", on_error=errors.append)
    await asyncio.wait([task])
    await asyncio.sleep(0)  # done callbacks run on the next iteration

    assert [type(e) for e in errors] == [ValueError]
    assert str(errors[0]) == "camera gone"
    logged = [r for r in caplog.records if r.name == "app.tasks"]
    assert len(logged) == 1
    assert logged[0].levelno == logging.ERROR
    assert "switch suites" in logged[0].getMessage()
    assert "ValueError: camera gone" in logged[0].getMessage()
    assert logged[0].exc_info[1] is errors[0]  # with its traceback
    del task
    gc.collect()  # an unretrieved exception would be reported when the task is collected
    assert unhandled == []


async def test_the_task_is_referenced_until_it_is_done():
    release = asyncio.Event()

    async def work() -> int:
        await release.wait()
        return 7

    task = spawn(work(), name="work")
    assert task.get_name() == "work"
    assert task in tasks.running()
    release.set()
    assert await task == 7
    await asyncio.sleep(0)
    assert task not in tasks.running()


async def test_cancellation_is_not_a_failure(caplog):
    errors = []
    task = spawn(asyncio.sleep(60), name="sleeper", on_error=errors.append)
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.wait([task])
    await asyncio.sleep(0)
    assert errors == []
    assert not [r for r in caplog.records if r.name == "app.tasks"]


async def test_a_failing_error_handler_is_logged_too(caplog):
    def broken_handler(exc: BaseException) -> None:
        raise KeyError("handler broke")

    task = spawn(fail("first"), name="job", on_error=broken_handler)
    await asyncio.wait([task])
    await asyncio.sleep(0)
    messages = [r.getMessage() for r in caplog.records if r.name == "app.tasks"]
    assert len(messages) == 2
    assert "ValueError: first" in messages[0]
    assert "error handler of task 'job' failed" in messages[1]
