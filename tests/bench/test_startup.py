"""The start-up bench: its three processes really reach their sign, and its report."""

from app.bench import startup


def test_every_process_reaches_its_sign_and_is_timed():
    # A real empty window, the same with the first frame's libraries, a real demo to its first
    # paint, each after an untimed first start.
    reference, floor, app = startup.measure(1)
    assert len(reference) == len(floor) == len(app) == 1
    assert min(reference[0], floor[0], app[0]) > 0


def test_the_report_gives_medians_spreads_and_the_ratios_against_the_goal():
    lines = startup.render([0.10, 0.12, 0.14], [0.15, 0.16, 0.18], [0.20, 0.30, 0.22])
    assert lines[1].endswith("0.12 [0.10–0.14] s")
    assert lines[2].endswith("0.16 [0.15–0.18] s")
    assert lines[3].endswith("0.22 [0.20–0.30] s")
    assert lines[4] == "  ratio 1.83×   target ≤ 2×: MET"
    assert lines[5] == "  the libraries alone: 1.33× (SecureCam's own share: 0.06 s)"
    assert startup.render([0.1], [0.2], [0.3])[4].endswith("MISSED")
