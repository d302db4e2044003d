"""SetupService alone: hot-plug listing, identify, flash with cancel, busy refusal, Wi-Fi scan.

Serial work runs in worker threads; the signals must arrive on the GUI (main) thread.
"""

from __future__ import annotations

import asyncio
import threading

import pytest
import serial

from app.devices.registry import Registry
from app.serial.link import LinkState
from app.serial.ports import port_info
from app.serial.provisioner import ProvisionTimeouts
from app.services.setup_service import FlasherOptions, SetupService
from tests.firmware.test_provision_cli import Console
from tests.serial import images
from tests.serial.rom_emulator import RomEmulator
from tests.waiting import scaled, wait_until


def make(tmp_path, ports: list[str], listed: list[int] | None = None) -> SetupService:
    """A service listing `ports`; each listing appends to `listed`, if given."""

    def lister():
        if listed is not None:
            listed.append(len(ports))
        return [port_info(p, "pty", None, None) for p in ports]

    return SetupService(
        Registry(tmp_path / "home"),
        lister=lister,
        flasher_options=FlasherOptions(
            before="no-reset", after="no-reset", no_stub=True, connect_attempts=2
        ),
        timeouts=ProvisionTimeouts(console=scaled(5), scan=scaled(5)),
        poll_ms=50,
    )


def run(loop, coro, timeout: float = 30):
    return loop.run_until_complete(asyncio.wait_for(coro, scaled(timeout)))


@pytest.fixture
def console(firmware_build, tmp_path):
    started = Console(firmware_build / "securecam-console", tmp_path / "camera.cfg")
    yield started
    if started.proc.poll() is None:
        started.stop()


def test_hot_plug_emits_ports_changed(qloop, tmp_path):
    ports: list[str] = []
    listed: list[int] = []
    setup = make(tmp_path, ports, listed)
    seen: list[list[str]] = []
    setup.portsChanged.connect(lambda infos: seen.append([i.device for i in infos]))

    async def scenario():
        setup.start_watching()
        await wait_until(lambda: seen == [[]])
        ports.append("/dev/ttyUSB0")
        await wait_until(lambda: seen[-1] == ["/dev/ttyUSB0"])
        ports.clear()
        await wait_until(lambda: seen[-1] == [])
        count, polls = len(seen), len(listed)
        await wait_until(lambda: len(listed) >= polls + 3)  # three more listings of no ports
        assert len(seen) == count  # nothing changed: no signal
        setup.stop_watching()
        await setup.wait_idle()

    run(qloop, scenario())
    setup.close()


def test_identify_and_flash_report_on_the_gui_thread(qloop, tmp_path):
    image = tmp_path / "merged.bin"
    image.write_bytes(images.merged())
    with RomEmulator() as emu:
        setup = make(tmp_path, [emu.port])
        events: list[tuple[str, object, bool]] = []
        main = threading.main_thread()

        def note(kind: str):
            return lambda *a: events.append((kind, a, threading.current_thread() is main))

        states: list[LinkState] = []
        setup.stateChanged.connect(states.append)
        setup.identified.connect(note("identified"))
        setup.flashProgress.connect(note("progress"))
        setup.flashFinished.connect(note("finished"))
        setup.flashFailed.connect(note("failed"))

        async def scenario():
            assert setup.identify(emu.port)
            assert not setup.flash(emu.port, image)  # busy: refused
            await setup.wait_idle()
            assert setup.flash(emu.port, image)
            await setup.wait_idle()

        run(qloop, scenario())
        setup.close()
    kinds = [kind for kind, _, _ in events]
    assert states == [
        LinkState.IDENTIFYING,
        LinkState.IDENTIFIED,
        LinkState.FLASHING,
        LinkState.FLASHED,
    ]  # the refused flash moved nothing
    assert setup.identity == events[-1][1][0]  # the flash's own identification
    assert kinds[0] == "identified" and events[0][1][0].mac == "24:6f:28:a1:b2:c3"
    assert kinds[-1] == "finished" and "failed" not in kinds
    total = image.stat().st_size
    assert ("progress", (total, total), True) in events
    assert all(on_main for _, _, on_main in events)
    assert bytes(emu.flash[:total]) == image.read_bytes()


def test_cancel_leaves_the_port_usable(qloop, tmp_path):
    image = tmp_path / "merged.bin"
    # Random contents do not compress: many blocks, each taking the emulated chip 50 ms.
    image.write_bytes(images.merged(images.build_parts(app_size=256 * 1024)))
    with RomEmulator(block_delay=0.05) as emu:
        setup = make(tmp_path, [emu.port])
        failed: list[tuple[str, str]] = []
        progress: list[int] = []
        states: list[LinkState] = []
        setup.stateChanged.connect(states.append)
        setup.flashFailed.connect(lambda m, g: failed.append((m, g)))
        setup.flashProgress.connect(lambda d, t: progress.append(d))

        async def scenario():
            assert setup.flash(emu.port, image)
            await wait_until(lambda: len(progress) > 1, 10)
            setup.cancel()
            await setup.wait_idle()

        run(qloop, scenario())
        assert failed and failed[0][0] == "Cancelled."
        assert not setup.busy
        assert states == [LinkState.FLASHING, LinkState.DISCONNECTED]
        assert setup.identity is None
        serial.Serial(emu.port, exclusive=True).close()  # closed again, free to open
        setup.close()


def test_scan_lists_the_console_networks(qloop, tmp_path, console):
    setup = make(tmp_path, [console.path])
    got: list[list[str]] = []
    setup.networksScanned.connect(lambda networks: got.append([n.ssid for n in networks]))

    async def scenario():
        assert setup.scan(console.path)
        await setup.wait_idle()

    run(qloop, scenario())
    setup.close()
    assert got == [["HomeNet", "Cafe Free"]]
    assert setup.state is LinkState.DISCONNECTED  # a scan changes nothing the link knows
