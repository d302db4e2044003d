"""Adaptive quality through the receiver service: real cameras on loopback, a real registry,
and for congestion a real narrow link (tests/slowlink.py)."""

import contextlib

import pytest

from app.devices.adaptation import adapt_policy
from app.devices.lookup import credentials_lookup
from app.devices.registry import Registry
from app.protocol.framesize import FrameSize
from app.receiver.adapt import Pins, Setting
from app.services.receiver_service import ReceiverService
from app.sim.camera import BOARD_SEND_BUFFER, SimulatedCamera
from app.sim.sources import SyntheticSource
from app.tasks import spawn
from tests.slowlink import SlowLink
from tests.waiting import wait_until

OWN = Setting(FrameSize.VGA, 12, 25)  # the camera's own settings, as provisioned
LINK_RATE = 150_000  # bytes/s: 1.2 Mbit/s, where VGA q12 at 25 fps needs about 8


@pytest.fixture
def registry(tmp_path):
    registry = Registry(tmp_path)
    registry.add("cam")
    return registry


@pytest.fixture
async def service(qapp, registry):
    service = ReceiverService(credentials_lookup(registry), adapt_policy=adapt_policy(registry))
    service.changes = []
    service.adaptationChanged.connect(service.changes.append)
    yield service
    await service.stop()
    service.close()


async def streaming(registry, url):
    """A VGA camera at 25 fps streaming to `url`, stopped and awaited by the caller."""
    camera = SimulatedCamera(
        url,
        "cam",
        registry.get("cam").key.raw,
        SyntheticSource(FrameSize.VGA, label="cam"),
        fps=25,
        send_buffer=BOARD_SEND_BUFFER,
    )
    task = spawn(camera.run(), name="camera")
    return camera, task


@contextlib.asynccontextmanager
async def behind_a_narrow_link(service, registry):
    """The service listening, a VGA camera streaming to it through a SlowLink."""
    assert await service.start("127.0.0.1", 0)
    link = SlowLink(service.port, LINK_RATE)
    await link.start()
    camera, task = await streaming(registry, link.url())
    try:
        yield camera
    finally:
        camera.stop()
        await task
        await link.stop()


def streams(service, device="cam"):
    stats = service.stats(device)
    return None if stats is None or stats.status is None else Setting.of(stats.status)


async def test_a_camera_behind_a_narrow_link_is_adapted_and_off_restores_its_settings(
    service, registry
):
    async with behind_a_narrow_link(service, registry) as camera:
        await wait_until(lambda: streams(service) == OWN, 10)
        assert not service.adapted("cam")
        await wait_until(lambda: service.adapted("cam"), 20, message="adapted down")
        lowered = streams(service)
        assert lowered.cost() < OWN.cost()
        assert "cam" in service.changes
        assert camera.settings.controls  # the camera was asked, and its STATUS says so

        registry.set_adapt("cam", False)
        service.refresh_adaptation()
        await wait_until(lambda: streams(service) == OWN, 10, message="own settings back")
        assert not service.adapted("cam")
        assert (camera.settings.frame_size, camera.settings.quality) == (FrameSize.VGA, 12)


async def test_pins_set_in_the_registry_reach_a_live_camera_at_once(service, registry):
    assert await service.start("127.0.0.1", 0)
    camera, task = await streaming(registry, f"ws://127.0.0.1:{service.port}/camera")
    try:
        await wait_until(lambda: streams(service) == OWN, 10)
        registry.set_pins("cam", Pins(frame_size=FrameSize.QVGA, quality=30))
        service.refresh_adaptation()
        pinned = Setting(FrameSize.QVGA, 30, 25)
        await wait_until(lambda: streams(service) == pinned, 10)
        assert not service.adapted("cam")  # the user's settings: not the app's doing
        assert service.changes == ["cam"]

        registry.set_pins("cam", Pins())
        service.refresh_adaptation()
        await wait_until(lambda: streams(service) == OWN, 10)
    finally:
        camera.stop()
        await task


async def test_the_adapter_runs_with_each_receiver_and_stops_with_it(service):
    assert service.adapter is None
    assert await service.start("127.0.0.1", 0)
    first = service.adapter
    assert first is not None and first.receiver is service.receiver
    assert await service.start("127.0.0.1", 0)  # new settings: a new receiver, a new adapter
    assert service.adapter is not None and service.adapter is not first
    assert first._ticker is None  # stopped
    await service.stop()
    assert service.adapter is None
    assert not service.adapted("cam")
    service.refresh_adaptation()  # nothing to refresh: no error


async def test_with_adapt_off_the_service_never_lowers_a_camera(qapp, registry):
    service = ReceiverService(
        credentials_lookup(registry), adapt_policy=adapt_policy(registry), adapt=False
    )
    try:
        assert await service.start("127.0.0.1", 0)
        assert not service.adapter.controller("cam").enabled
    finally:
        await service.stop()
        service.close()


def test_the_windows_no_adapt_option_turns_adaptation_off_for_its_receiver(qapp, tmp_path):
    from app.cli import build_parser
    from app.services.app_services import AppServices

    assert build_parser().parse_args([]).no_adapt is False
    args = build_parser().parse_args(["--no-adapt"])
    services = AppServices(tmp_path / "home", adapt=not args.no_adapt)
    try:
        assert services.receiver.adapt is False
    finally:
        services.deleteLater()
    assert AppServices(tmp_path / "other").receiver.adapt is True


async def test_stopping_the_receiver_first_sends_a_lowered_camera_back_to_its_settings(
    service, registry
):
    async with behind_a_narrow_link(service, registry) as camera:
        await wait_until(lambda: service.adapted("cam"), 20, message="adapted down")
        assert (camera.settings.frame_size, camera.settings.quality) != (FrameSize.VGA, 12)
        await service.stop()  # the next receiver (or app) must not take these as its own
        assert (camera.settings.frame_size, camera.settings.quality) == (FrameSize.VGA, 12)
        assert camera.settings.fps == 25
