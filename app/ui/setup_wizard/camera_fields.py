"""The camera settings' inputs, one per setting, built from their descriptions.

Each field of `CameraSettings` (app/serial/camera_settings.py) gets a spin box (an integer
within its bounds) or a combo box (a choice), with its label and its range as the tooltip:
a new camera setting appears here without any change to this module.
"""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSpinBox, QWidget

from app.serial import camera_settings
from app.serial.camera_settings import CameraSettings


class CameraFields(QWidget):
    """One row of inputs for the camera settings, starting at `initial`'s values."""

    def __init__(self, initial: CameraSettings | None = None) -> None:
        super().__init__()
        initial = initial or CameraSettings()
        self.inputs: dict[str, QComboBox | QSpinBox] = {}
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for name, setting in camera_settings.described():
            value = getattr(initial, name)
            widget: QComboBox | QSpinBox
            if setting.choices is not None:
                widget = QComboBox()
                for member in setting.choices:
                    widget.addItem(member.name, member)
                widget.setCurrentIndex(max(0, widget.findData(value)))
            else:
                widget = QSpinBox()
                widget.setRange(setting.low, setting.high)
                widget.setValue(value)
            widget.setToolTip(setting.describe())
            text = QLabel(f"{setting.label[:1].upper()}{setting.label[1:]}:")
            text.setBuddy(widget)
            layout.addWidget(text)
            layout.addWidget(widget)
            self.inputs[name] = widget
        layout.addStretch(1)

    def settings(self) -> CameraSettings:
        """The settings as entered."""
        return CameraSettings(
            **{
                name: widget.currentData() if isinstance(widget, QComboBox) else widget.value()
                for name, widget in self.inputs.items()
            }
        )
