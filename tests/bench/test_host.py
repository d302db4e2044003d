"""The bench's machine side: where log records go during a run, other processes' load."""

import logging

from app.bench.host import CpuPlan, busy_percent, collecting, other_load
from app.bench.results import OtherLoad


class Keep(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.records = []

    def emit(self, record):
        self.records.append(record)


def test_a_run_collects_the_app_and_websockets_records_without_printing_them(caplog):
    keep = Keep()
    with caplog.at_level(logging.WARNING), collecting(keep):
        logging.getLogger("app.receiver.server").warning("from the receiver")
        logging.getLogger("websockets.server").warning("from websockets")
    assert [r.getMessage() for r in keep.records] == ["from the receiver", "from websockets"]
    assert caplog.records == []  # they did not reach the root logger
    logging.getLogger("app.receiver.server").warning("after")
    assert len(keep.records) == 2
    assert logging.getLogger("app").propagate and logging.getLogger("websockets").propagate


def test_other_load_is_what_the_two_processes_did_not_use():
    before = {0: (100, 1000), 1: (100, 1000)}
    after = {0: (600, 2000), 1: (200, 2000)}
    busy = busy_percent(before, after)
    assert busy == {"0": 50.0, "1": 10.0}
    plan = CpuPlan({0}, {1}, True, "")
    assert other_load(busy, plan, receiver_cpu=40.0, camera_cpu=15.0) == OtherLoad(10.0, 0.0)
    assert other_load(busy, CpuPlan({0}, {0}, True, ""), 40.0, 15.0) is None  # not apart
