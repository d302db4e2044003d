"""The registry as a service: an unreadable registry is a stated problem, not an empty list."""

import logging

from app.devices.registry import REGISTRY_FILE, Registry
from app.receiver.adapt import Pins
from app.services.devices_service import REGISTRY_FIX, DevicesService


def test_a_corrupt_registry_is_a_problem_logged_once_with_the_fix(qapp, tmp_path, caplog):
    directory = tmp_path / "home"
    directory.mkdir()
    path = directory / REGISTRY_FILE
    path.write_text("[1, 2")
    devices = DevicesService(Registry(directory))  # checked on creation
    changes = []
    devices.registryProblemChanged.connect(lambda: changes.append(devices.registry_problem))

    assert devices.registry_problem is not None
    assert str(path) in devices.registry_problem and "corrupt" in devices.registry_problem
    assert devices.entries() == []
    assert devices.entries() == []
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1  # not once per refresh
    assert str(path) in errors[0] and REGISTRY_FIX in errors[0]
    assert changes == []  # unchanged since the check on creation

    path.unlink()  # repaired (here: no registry at all, a first run)
    assert devices.entries() == []
    assert changes == [None]
    assert devices.registry_problem is None


def test_a_readable_registry_is_no_problem(qapp, tmp_path):
    registry = Registry(tmp_path / "home")
    registry.add("porch")
    devices = DevicesService(registry)
    assert devices.registry_problem is None
    assert devices.check_registry() is None
    assert [e.name for e in devices.entries()] == ["porch"]


def test_adaptation_is_set_in_the_registry_of_the_device_and_read_back(qapp, tmp_path):
    user = Registry(tmp_path / "home")
    user.add("porch")
    demo = Registry(tmp_path / "demo")
    demo.add("demo-1")
    devices = DevicesService(user)
    devices.set_demo_registry(demo)
    changes = []
    devices.devicesChanged.connect(lambda: changes.append(True))

    devices.set_adapt("porch", False)
    devices.set_adapt("demo-1", False)
    assert changes == [True, True]
    assert user.get("porch").adapt is False
    assert demo.get("demo-1").adapt is False  # a demo never writes to the user's registry
    assert devices.adapt_policy("porch") == (False, Pins())
    assert devices.adapt_policy("demo-1") == (False, Pins())
    assert devices.adapt_policy("stranger") == (True, Pins())
    assert {e.name: e.adapt for e in devices.entries()} == {"demo-1": False, "porch": False}

    user.set_pins("porch", Pins(quality=25))
    assert devices.adapt_policy("porch") == (False, Pins(quality=25))
    devices.set_demo_registry(None)
    assert devices.adapt_policy("demo-1") == (True, Pins())
