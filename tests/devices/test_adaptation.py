"""The registry's adaptive-quality policy, as the receiver's Adapter asks it."""

from app.devices.adaptation import DEFAULT_POLICY, adapt_policy, describe_adaptation
from app.devices.registry import Registry
from app.protocol.framesize import FrameSize
from app.receiver.adapt import Pins


def test_the_policy_is_each_devices_adapt_flag_and_pins(tmp_path):
    registry = Registry(tmp_path)
    registry.add("cam1")
    registry.add("cam2")
    registry.set_adaptation("cam2", adapt=False, quality=30)
    policy = adapt_policy(registry)
    assert policy("cam1") == (True, Pins())
    assert policy("cam2") == (False, Pins(quality=30))


def test_an_unknown_device_is_adapted_with_nothing_pinned(tmp_path):
    assert adapt_policy(Registry(tmp_path))("nobody") == DEFAULT_POLICY == (True, Pins())


def test_the_policy_sees_edits_made_through_another_registry(tmp_path):
    Registry(tmp_path).add("cam1")
    policy = adapt_policy(Registry(tmp_path))
    assert policy("cam1") == (True, Pins())
    Registry(tmp_path).set_adaptation("cam1", adapt=False, frame_size=FrameSize.QVGA)
    assert policy("cam1") == (False, Pins(frame_size=FrameSize.QVGA))


def test_the_first_registry_that_knows_a_device_decides(tmp_path):
    demo, user = Registry(tmp_path / "demo"), Registry(tmp_path / "user")
    demo.add("cam1")
    user.add("cam1")
    user.add("cam2")
    user.set_adapt("cam1", False)
    user.set_adapt("cam2", False)
    policy = adapt_policy(demo, user)
    assert policy("cam1") == (True, Pins())
    assert policy("cam2") == (False, Pins())


def test_an_unreadable_registry_leaves_each_device_its_last_answer(tmp_path):
    registry = Registry(tmp_path)
    registry.add("cam1")
    registry.set_adaptation("cam1", adapt=False, fps_cap=5)
    policy = adapt_policy(registry)
    assert policy("cam1") == (False, Pins(fps_cap=5))
    (tmp_path / "devices.json").write_text("{ not json")
    assert policy("cam1") == (False, Pins(fps_cap=5))
    assert policy("cam2") == DEFAULT_POLICY


def test_describe_adaptation_says_on_or_off_and_what_is_pinned(tmp_path):
    registry = Registry(tmp_path)
    assert describe_adaptation(registry.add("cam1")) == "on"
    device = registry.set_adaptation("cam1", adapt=False, frame_size=FrameSize.VGA, quality=12)
    assert describe_adaptation(device) == "off; pinned: size VGA, quality 12, fps auto"
