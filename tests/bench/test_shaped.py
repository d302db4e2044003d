"""The shaped-link bench's report (its runs are exercised by tests/receiver/test_adapter.py)."""

from app.bench import shaped
from app.bench.shaped import AdaptResult, ScenarioResult, render


def result(
    scenario: str, suite: str, repeat: int, p50: float, adapt: bool = False
) -> ScenarioResult:
    latency = {"count": 200, "p50": p50, "p95": p50 * 2, "p99": p50 * 3, "mean": p50, "max": 99}
    figures = {"frames": 200, "fps": 25.0, "mbit_s": 8.3, "latency_ms": latency}
    return ScenarioResult(scenario, "30 Mbit/s, 2 ms", suite, adapt, repeat, figures)


def test_the_report_gives_each_scenarios_ratio_from_pairs_taken_in_the_same_repeat():
    results = [
        result("wifi-30", "plain", 1, 10.0),
        result("wifi-30", "noise", 1, 10.5),  # 1.05
        result("wifi-30", "plain", 2, 20.0),
        result("wifi-30", "noise", 2, 20.2),  # 1.01
        result("wifi-30", "plain", 3, 10.0),
        result("wifi-30", "noise", 3, 10.2),  # 1.02
        result("wifi-30", "noise", 1, 99.0, adapt=True),  # not one of the pairs
    ]
    goal = AdaptResult(1, 4.2, "QVGA q30 25 fps", 31.0, 0, 12.5, "SVGA q17 25 fps", 19.0, 0)
    text = "\n".join(render(results, [goal]))
    assert "wifi-30       1.020 [1.010–1.050]" in text
    assert "10.5 [10.2–20.2]" in text  # the noise p50s: median [min–max]
    assert "last change 4.2 s after connecting (goal 10 s) → QVGA q30 25 fps" in text
    assert "VGA on 30 Mbit/s for 20 s: 0 changes (goal 0)" in text


def test_without_namespaces_the_bench_says_why_and_skips(monkeypatch, capsys):
    monkeypatch.setattr(shaped, "unavailable_reason", lambda: "shaped links need root")
    assert shaped.main([]) == 0
    assert capsys.readouterr().out == "shaped links skipped: shaped links need root\n"
