"""The start-up figure's report (app/bench/cli_startup.py): one short run, no time asserted."""

from __future__ import annotations

import re

import pytest

from app.bench.cli_startup import COMMANDS, FLOOR, Timing, main, measure, render


def test_one_round_times_the_floor_and_each_command_with_its_ratio():
    timings = measure(rounds=1)
    assert [t.label for t in timings] == [FLOOR, *COMMANDS]
    assert all(len(t.seconds) == 1 and t.seconds[0] > 0 for t in timings)
    assert timings[0].ratios is None
    for timing in timings[1:]:
        assert timing.ratios == (timing.seconds[0] / timings[0].seconds[0],)
    lines = render(timings).splitlines()
    assert lines[0].startswith("Command-line start-up, 1 rounds;")
    assert re.search(r"securecam --help +[\d.]+ ms \[[\d.]+-[\d.]+\] +[\d.]+x \[", lines[2])
    assert lines[3].lstrip().startswith("securecam device list")


def test_at_least_one_round(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--rounds", "0"])
    assert info.value.code == 2 and "--rounds must be at least 1" in capsys.readouterr().err


def test_the_report_gives_median_spread_and_verdict():
    floor = Timing(FLOOR, (0.100, 0.080, 0.120), None)
    fast = Timing("securecam --help", (0.150, 0.200, 0.180), (1.5, 2.5, 1.5))
    slow = Timing("securecam device list", (0.5, 0.4, 0.6), (5.0, 5.0, 5.0))
    text = render([floor, fast, slow])
    assert "3 rounds" in text
    assert "100.0 ms [80.0-120.0]" in text
    assert "180.0 ms [150.0-200.0]  1.50x [1.50-2.50]  ok" in text
    assert "5.00x [5.00-5.00]  SLOW" in text
