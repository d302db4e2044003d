"""The machine's speed beside the figures: real OpenSSL and a real CPython loop."""

from app.bench import speed
from app.bench.report import render
from app.bench.results import BenchReport, Cpus, Machine, from_json, to_json


def test_openssl_speed_is_read_from_its_own_machine_readable_output():
    rate, note = speed.openssl_mb_s()
    assert note is None
    # AES-GCM runs at hundreds of MB/s even without AES instructions; a misread line (the
    # block count, or bytes instead of MB) lands far outside this.
    assert 50 < rate < 200_000


def test_an_unexpected_openssl_output_gives_no_figure_rather_than_a_wrong_one():
    assert speed.parse_openssl("+DT:AES-256-GCM:1:16384\n+R:1:AES-256-GCM:1.0\n") is None
    assert speed.parse_openssl("+F:25:AES-256-GCM:not-a-number\n") is None
    assert speed.parse_openssl("+F:25:AES-256-GCM:5703270400.00\n") == 5703.3


def test_without_openssl_the_run_still_reports_the_python_reference(monkeypatch):
    monkeypatch.setattr(speed.shutil, "which", lambda name: None)
    measured = speed.measure()
    assert measured.openssl_aes_256_gcm_mb_s is None
    assert measured.note == "openssl is not installed"
    assert measured.python_loop_ms > 0
    assert "OpenSSL absent" in measured.describe()


def test_the_report_prints_the_speed_at_start_and_end_and_keeps_it_in_json():
    report = BenchReport(
        version=1,
        started="2026-12-03T00:00:00+00:00",
        machine=Machine("Linux", "cpu", 2, 2, "3.11.7", "CPython", {}, [0.0, 0.0, 0.0]),
        cpus=Cpus(receiver_cpus=[], camera_cpus=[], pinned=False, note="nothing pinned"),
        speed=[speed.MachineSpeed(5703.3, 48.2), speed.MachineSpeed(5650.0, 49.0)],
    )
    text = render(report)
    assert "OpenSSL AES-256-GCM 5,703 MB/s · CPython loop 48.2 ms (at start)" in text
    assert "OpenSSL AES-256-GCM 5,650 MB/s · CPython loop 49.0 ms (at end)" in text
    assert from_json(BenchReport, to_json(report)).speed == report.speed
