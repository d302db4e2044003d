"""docs/screenshots.py: no secret reaches a screenshot, and every screen has its file name."""

import asyncio
import re
import sys
from pathlib import Path

import pytest
from PySide6.QtWidgets import QDialog, QLabel, QLineEdit, QVBoxLayout

DOCS = Path(__file__).resolve().parents[2] / "docs"
sys.path.insert(0, str(DOCS))

import screenshots  # noqa: E402
import wizard_screenshots  # noqa: E402


def dialog_showing(text: str) -> QDialog:
    dialog = QDialog()
    layout = QVBoxLayout(dialog)
    layout.addWidget(QLabel("Password:"))
    layout.addWidget(QLineEdit(text))
    return dialog


def test_a_grab_showing_a_secret_is_refused_and_not_saved(qtbot, tmp_path):
    dialog = dialog_showing("s3cret-Pa55word")
    qtbot.addWidget(dialog)
    dialog.show()
    shoot = screenshots.Shooter(tmp_path)
    shoot.secrets.add("s3cret-Pa55word")
    with pytest.raises(SystemExit, match="a secret is on screen"):
        asyncio.run(shoot("share-password", dialog))
    assert list(tmp_path.iterdir()) == []


def test_a_grab_without_secrets_is_saved_as_a_small_palette_png(qtbot, tmp_path):
    from PIL import Image

    dialog = dialog_showing("●" * 20)
    qtbot.addWidget(dialog)
    dialog.show()
    shoot = screenshots.Shooter(tmp_path)
    shoot.secrets.add("s3cret-Pa55word")
    asyncio.run(shoot("share-password", dialog))
    (path,) = shoot.written
    assert path.name == "16-share-password.png"
    with Image.open(path) as image:
        assert image.mode == "P" and image.size == (dialog.width(), dialog.height())


def test_every_screen_and_readme_image_has_one_numbered_name():
    names = list(screenshots.NUMBERED.values())
    assert len(set(names)) == len(names)
    assert all(re.fullmatch(r"\d\d-[a-z0-9-]+\.png", name) for name in names)
    pages = (*wizard_screenshots.PAGES, wizard_screenshots.BOOT_MODE)
    wizard = {f"wizard-{page}" for page in pages}
    assert wizard <= set(screenshots.NUMBERED)
    assert set(screenshots.README.values()) <= set(screenshots.NUMBERED)
