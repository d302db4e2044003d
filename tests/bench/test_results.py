"""The bench's typed results: saved reports read back unchanged, and what is derived from them.

`data/quick-report.json` is `python -m app.bench --quick --json` as written before the results
were typed (a 2-CPU machine): reports saved since then must read back and write out the same,
key for key and in order, so they stay comparable.
"""

import copy
import json
from pathlib import Path

import pytest

from app.bench.fleet import CameraCounts, Snapshot
from app.bench.report import render, targets
from app.bench.results import (
    BenchReport,
    FigureSummary,
    GuiError,
    GuiRun,
    LagSummary,
    Summary,
    from_json,
    gui_row,
    to_json,
)
from app.bench.throughput import ratios
from app.protocol.hello import Suite

SAVED = Path(__file__).parent / "data" / "quick-report.json"


@pytest.fixture
def saved() -> dict:
    return json.loads(SAVED.read_text())


def dumped(data: object) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)


def test_a_saved_report_reads_back_and_writes_out_unchanged(saved):
    report = from_json(BenchReport, saved)
    assert dumped(to_json(report)) == dumped(saved)  # the same keys, in the same order
    assert isinstance(report.gui.configs[0], GuiRun)
    assert {c.suite for c in report.fleet.configs} == {Suite.PLAIN, Suite.NOISE}


def test_error_rows_problems_and_optional_keys_survive_the_round_trip(saved):
    data = copy.deepcopy(saved)
    data["gui"]["configs"].append({"cameras": 24, "holds": False, "error": "timed out after 130 s"})
    data["gui"]["configs"][0]["stderr_tail"] = ["a warning"]
    data["fleet"]["configs"][0]["camera_problems"] = {"bench00": [1006, "connection lost"]}
    report = from_json(BenchReport, data)
    assert isinstance(report.gui.configs[-1], GuiError)
    assert report.fleet.configs[0].camera_problems == {"bench00": [1006, "connection lost"]}
    assert dumped(to_json(report)) == dumped(data)
    assert "24  ERROR: timed out after 130 s" in render(report)
    assert "camera bench00 closed: [1006, 'connection lost']" in render(report)


def test_only_the_optional_keys_are_left_out_when_empty():
    figure = FigureSummary("x", 1, 1.0, 1.0, 1.0, 1.0, None, None, None)
    assert "target_us" not in to_json(figure) and "note" not in to_json(figure)
    assert to_json(figure)["bytes"] is None  # an ordinary field stays, as null
    assert "probe_ms" not in to_json(LagSummary.of([1.0]))
    assert to_json(LagSummary.of([1.0], probe_ms=20))["probe_ms"] == 20
    assert to_json(Summary.of([])) == {
        "count": 0,
        "p50": None,
        "p95": None,
        "p99": None,
        "mean": None,
        "max": None,
    }


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"count": 1, "p50": 1, "p99": 1, "max": 1, "extra": 2}, "unknown keys"),
        ({"count": 1, "p50": 1, "p99": 1}, "missing key 'max'"),
        ({"count": "1", "p50": 1, "p99": 1, "max": 1}, "expected int"),
        ({"count": True, "p50": 1, "p99": 1, "max": 1}, "expected int"),
    ],
)
def test_a_row_of_another_shape_is_refused(data, problem):
    with pytest.raises(ValueError, match=problem):
        from_json(LagSummary, data)


def test_a_child_row_is_a_run_or_an_error(saved):
    row = saved["gui"]["configs"][0]
    assert isinstance(gui_row(row), GuiRun)
    error = gui_row({"cameras": 3, "holds": False, "error": "boom"})
    assert error == GuiError(3, False, "boom")
    with pytest.raises(ValueError):
        gui_row({"cameras": 3})


def test_targets_and_ratios_are_derived_again_the_same(saved):
    report = from_json(BenchReport, saved)
    assert ratios(report.fleet.configs) == report.fleet.ratios
    assert targets(report) == report.targets


def test_ratios_pair_suites_as_suite_members(saved):
    report = from_json(BenchReport, saved)
    only_noise = [c for c in report.fleet.configs if c.suite is Suite.NOISE]
    assert ratios(only_noise) == []
    one = [c for c in report.fleet.configs if c.cameras == 1]
    (ratio,) = ratios(list(reversed(one)))  # order does not matter
    assert ratio.cameras == 1


def test_the_report_renders_every_section(saved):
    text = render(from_json(BenchReport, saved))
    for heading in (
        "SecureCam benchmark",
        "1. Core cost per frame",
        "2. Receiver on one core",
        "3. Desktop app window",
        "Targets",
        "Total benchmark time",
    ):
        assert heading in text


def test_a_camera_snapshot_round_trips_and_names_its_problems():
    cameras = {
        "a": CameraCounts(10, 0, 1000, 1, True, None),
        "b": CameraCounts(5, 1, 500, 2, False, [1006, "lost"]),
    }
    first = Snapshot("snapshot", 1_000_000, 1.0, 2, 15, 1, 1500, cameras)
    last = Snapshot("snapshot", 3_000_000, 1.5, 2, 65, 1, 6500, cameras)
    assert from_json(Snapshot, json.loads(json.dumps(to_json(last)))) == last
    assert "boot_us" not in to_json(last)
    assert last.camera_problems() == {"b": [1006, "lost"]}
    assert last.cpu_percent_since(first) == pytest.approx(25.0)
