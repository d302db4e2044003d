"""The start-up bench: its two processes really reach their sign, and its report."""

from app.bench import startup


def test_both_processes_reach_their_sign_and_are_timed():
    reference, app = startup.measure(1)  # a real empty window, a real demo to its first paint
    assert len(reference) == len(app) == 1
    assert reference[0] > 0 and app[0] > 0


def test_the_report_gives_medians_spreads_and_the_ratio_against_the_goal():
    lines = startup.render([0.10, 0.12, 0.14], [0.20, 0.30, 0.22])
    assert lines[1].endswith("0.12 [0.10–0.14] s")
    assert lines[2].endswith("0.22 [0.20–0.30] s")
    assert lines[3] == "  ratio 1.83×   target ≤ 2×: MET"
    assert startup.render([0.1], [0.3])[3].endswith("MISSED")
