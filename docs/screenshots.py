"""Regenerate every screenshot: `.venv/bin/python docs/screenshots.py` (about 6 minutes).

Every window and dialog, in the light and the dark theme, with the window at 1280×800 and
1920×1080 (dialogs at their own size on that screen), into
docs/images/screens/<theme>-<W>x<H>/NN-name.png; then the README's images (docs/images/*.png)
from the light 1280×800 set. Each theme and size is shot in its own process, on an Xvfb screen
of that size when xvfb-run is installed (else offscreen). `--theme`, `--size` and `--skip-wizard`
narrow a run down.

Nothing here is a mock: it is the app as `securecam --demo 4` runs it, with a real
plain-versus-encrypted comparison, Share serving a logged-in page and a player, and the setup
wizard walked against the emulated ESP32 ROM and the host-built firmware console (recipes in
docs/share_screenshots.py and docs/wizard_screenshots.py). No secret reaches an image: each
grab is checked against the passwords and tokens made during the run.

PNGs are stored with a palette of at most 256 colours (optimised): a true-colour shot of the
demo cameras weighs several times more.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "docs"))
if not os.environ.get("DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import qasync  # noqa: E402
from PIL import Image  # noqa: E402
from PySide6.QtCore import QBuffer, QIODevice, QPoint  # noqa: E402
from PySide6.QtWidgets import (  # noqa: E402
    QAbstractButton,
    QApplication,
    QDialog,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QTableWidget,
    QTextEdit,
    QWidget,
)

from app.receiver.stats import DeviceState  # noqa: E402
from app.services.app_services import AppServices  # noqa: E402
from app.services.settings import ReceiverSettings, ShareSettings  # noqa: E402
from app.ui.main_window import MainWindow  # noqa: E402
from app.ui.theme import Theme, apply_theme  # noqa: E402

IMAGES = ROOT / "docs" / "images"
SCREENS = IMAGES / "screens"
THEMES = {"light": Theme.LIGHT, "dark": Theme.DARK}
SIZES = ((1280, 800), (1920, 1080))
# Every screen, in the order of their numbers.
NAMES = (
    "welcome",
    "wall",
    "latency-stages",
    "latency-comparison",
    "comparison-dialog",
    "offline-tile",
    "large-view",
    "settings",
    "add-device",
    "details",
    "about",
    "shortcuts",
    "share-panel",
    "share-add-viewer",
    "share-cameras",
    "share-password",
    "wizard-1-port",
    "wizard-2-identify",
    "wizard-2-identify-boot-mode",
    "wizard-3-flash",
    "wizard-4-configure",
    "wizard-5-verify",
)
NUMBERED = {name: f"{i:02d}-{name}.png" for i, name in enumerate(NAMES, start=1)}
# The README's images: taken from the light 1280×800 set.
README_SET = "light-1280x800"
README = {
    "main-window.png": "wall",
    "stages.png": "latency-stages",
    "comparison.png": "latency-comparison",
    "share-panel.png": "share-panel",
    **{f"{name}.png": name for name in NAMES if name.startswith("wizard-")},
}


def folder(theme: str, size: tuple[int, int]) -> Path:
    return SCREENS / f"{theme}-{size[0]}x{size[1]}"


def save_png(widget: QWidget, path: Path) -> None:
    """Grab `widget` into a palette PNG (≤ 256 colours, no dithering), optimised."""
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    widget.grab().toImage().save(buffer, "PNG")
    picture = Image.open(io.BytesIO(bytes(buffer.data()))).convert("RGB")
    picture = picture.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    picture.save(path, optimize=True)


def texts(widget: QWidget) -> list[str]:
    """Every text shown by `widget` and the widgets inside it."""
    found: list[str] = []
    for w in [widget, *widget.findChildren(QWidget)]:
        if not w.isVisible() or w.window() is not widget.window():
            continue
        if isinstance(w, QLabel | QLineEdit | QAbstractButton):
            found.append(w.text())
        elif isinstance(w, QTextEdit | QPlainTextEdit):
            found.append(w.toPlainText())
        elif isinstance(w, QTableWidget):
            found += [
                item.text()
                for r in range(w.rowCount())
                for c in range(w.columnCount())
                if (item := w.item(r, c)) is not None
            ]
        found.append(w.toolTip())
    return found


class Shooter:
    """`await shooter(name, widget)` saves NN-name.png of `widget` into `out`, after checking
    that none of `secrets` is on it."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.secrets: set[str] = set()
        self.written: list[Path] = []

    async def __call__(self, name: str, widget: QWidget) -> None:
        await asyncio.sleep(0.15)  # laid out and painted (the loop runs Qt's events)
        shown = "\n".join(texts(widget))
        leaked = [s for s in self.secrets if s and s in shown]
        if leaked:
            raise SystemExit(f"{name}: a secret is on screen; not saved")
        path = self.out / NUMBERED[name]
        save_png(widget, path)
        self.written.append(path)
        shown_path = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        print(f"wrote {shown_path} ({path.stat().st_size // 1024} KB)", flush=True)


async def until(predicate, timeout: float = 30.0):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise TimeoutError("the window did not get there")
        await asyncio.sleep(0.05)
    return value


def opened_dialog(before: set[QWidget]) -> QDialog:
    """The dialog that opened since `before` (the top-level widgets then)."""
    new = [
        w
        for w in QApplication.topLevelWidgets()
        if isinstance(w, QDialog) and w.isVisible() and w not in before
    ]
    assert len(new) == 1, new
    return new[0]


async def dialog_of(shoot: Shooter, name: str, open_it) -> None:  # noqa: ANN001
    before = set(QApplication.topLevelWidgets())
    open_it()
    dialog = opened_dialog(before)
    await shoot(name, dialog)
    dialog.reject()
    await asyncio.sleep(0.05)


async def shoot_window(window: MainWindow, services: AppServices, shoot: Shooter) -> None:
    from share_screenshots import shoot_share

    assert await services.start()
    # The latency plots are built 1.5 s after start when no frame comes: the first screen then.
    dock = window.latency_dock
    await until(lambda: getattr(dock, "_built", True), 10)
    window.refresh_status()
    await shoot("welcome", window)

    await services.start_demo(4)
    tiles = window.wall.tiles
    await until(lambda: len(services.receiver.live_devices()) == 4)
    await until(lambda: len(tiles) == 4 and all(t.current is not None for t in tiles.values()))
    services.comparison.start("demo-1", 150)
    await until(lambda: services.comparison.last is not None, 120)
    dock.raise_()
    dock.tabs.setCurrentWidget(dock.live)
    await asyncio.sleep(3)  # the live plot over a few seconds after the run
    window.refresh_tiles()
    window.refresh_status()
    dock.refresh()
    await shoot("wall", window)

    dock.tabs.setCurrentWidget(dock.stages)
    dock.select_device("demo-2")
    await asyncio.sleep(2.5)
    dock.refresh()
    await shoot("latency-stages", window)
    dock.select_device(None)
    dock.tabs.setCurrentWidget(dock.comparison_tab)
    await shoot("latency-comparison", window)
    await dialog_of(shoot, "comparison-dialog", dock.comparison_tab.open_dialog)

    large = window.wall.open_large("demo-1")
    await asyncio.sleep(1)
    await shoot("large-view", large)
    large.reject()

    # Settings as a user's are: the defaults (this run listens on a free loopback port).
    listening = services.settings.receiver()
    services.settings.save_receiver(ReceiverSettings())
    await dialog_of(shoot, "settings", window.open_settings)
    services.settings.save_receiver(listening)

    def add_device() -> None:
        window.open_add_device()
        before = set(QApplication.topLevelWidgets()) - {window}
        for dialog in before:
            if isinstance(dialog, QDialog) and dialog.isVisible() and hasattr(dialog, "name_edit"):
                dialog.name_edit.setText("porch")

    await dialog_of(shoot, "add-device", add_device)
    await dialog_of(shoot, "details", lambda: window.show_details("demo-1"))
    await dialog_of(shoot, "about", window.show_about)
    await dialog_of(shoot, "shortcuts", window.show_shortcuts)

    await shoot_share(window, services, shoot, shoot.secrets)

    # A camera gone: its tile greys its last frame and says when it was seen.
    dock.raise_()
    dock.tabs.setCurrentWidget(dock.live)
    fleet = services.demo
    assert fleet is not None

    def gone() -> bool:
        fleet.cameras["demo-4"].stop()  # the current one (adapting may have restarted it)
        return tiles["demo-4"].info.state is DeviceState.OFFLINE

    await until(gone)
    await asyncio.sleep(3)
    window.refresh_tiles()
    dock.refresh()
    await shoot("offline-tile", window)


def shoot_variant(theme: str, size: tuple[int, int], wizard: bool) -> int:
    from share_screenshots import SHARE_PORT, free
    from wizard_screenshots import shoot_wizard

    app = QApplication(sys.argv[:1])
    app.setQuitOnLastWindowClosed(False)
    apply_theme(THEMES[theme])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    out = folder(theme, size)
    out.mkdir(parents=True, exist_ok=True)
    shoot = Shooter(out)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "app"
        services = AppServices(home)
        services.settings.save_receiver(ReceiverSettings(host="127.0.0.1", port=0))
        port = SHARE_PORT if free(SHARE_PORT) else 0
        services.settings.save_share(ShareSettings(host="0.0.0.0", port=port))
        window = MainWindow(services)
        window.resize(*size)
        window.move(QPoint(0, 0))
        window.show()
        try:
            loop.run_until_complete(shoot_window(window, services, shoot))
            loop.run_until_complete(services.shutdown())
            window.latency_dock.stop()
            window.hide()
            if wizard:
                loop.run_until_complete(shoot_wizard(Path(tmp) / "wizard", shoot))
        finally:
            loop.close()
    return 0


def run_variant(theme: str, size: tuple[int, int], wizard: bool) -> None:
    """Shoot one theme and size in a fresh process, on a screen of that size."""
    command = [sys.executable, __file__, "--variant", theme, f"{size[0]}x{size[1]}"]
    if not wizard:
        command.append("--skip-wizard")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    if shutil.which("xvfb-run"):
        env.pop("QT_QPA_PLATFORM", None)
        env.pop("DISPLAY", None)
        screen = f"-screen 0 {size[0]}x{size[1]}x24"
        command = ["xvfb-run", "-a", "-s", screen, *command]
    subprocess.run(command, check=True, env=env, cwd=ROOT)


def readme_images() -> None:
    """Copy the README's images from the light 1280×800 set."""
    source = SCREENS / README_SET
    for target, name in README.items():
        path = source / NUMBERED[name]
        if path.exists():
            shutil.copyfile(path, IMAGES / target)
            print(f"wrote {(IMAGES / target).relative_to(ROOT)}")


def size_arg(text: str) -> tuple[int, int]:
    width, _, height = text.partition("x")
    return int(width), int(height)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--theme", choices=sorted(THEMES), action="append", help="default: both")
    parser.add_argument(
        "--size", type=size_arg, action="append", help="WxH (default: 1280x800 and 1920x1080)"
    )
    parser.add_argument("--skip-wizard", action="store_true", help="not the setup wizard")
    parser.add_argument("--variant", nargs=2, metavar=("THEME", "WxH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        theme, size = args.variant
        return shoot_variant(theme, size_arg(size), not args.skip_wizard)
    for theme in args.theme or sorted(THEMES, reverse=True):
        for size in args.size or SIZES:
            run_variant(theme, size, not args.skip_wizard)
    readme_images()
    total = sum(p.stat().st_size for p in IMAGES.rglob("*.png"))
    print(f"docs/images: {total / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
