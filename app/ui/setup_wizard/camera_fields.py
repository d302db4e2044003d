"""The camera settings' inputs, one per setting, built from their descriptions.

Each field of `CameraSettings` (app/serial/camera_settings.py) gets a spin box (an integer
within its bounds) or a combo box (a choice), with its label and its range as the tooltip:
a new camera setting appears here without any change to this module. Below them a note says
when the camera will raise the chosen JPEG quality at the chosen frame size
(`CameraSettings.quality_note`, docs/JPEG-BUFFER.md): a hint, the settings stay as entered.
"""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from app.serial import camera_settings
from app.serial.camera_settings import CameraSettings


class CameraFields(QWidget):
    """One row of inputs for the camera settings, starting at `initial`'s values."""

    def __init__(self, initial: CameraSettings | None = None) -> None:
        super().__init__()
        initial = initial or CameraSettings()
        self.inputs: dict[str, QComboBox | QSpinBox] = {}
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        layout = QHBoxLayout()
        outer.addLayout(layout)
        for name, setting in camera_settings.described():
            value = getattr(initial, name)
            widget: QComboBox | QSpinBox
            if setting.choices is not None:
                widget = QComboBox()
                for member in setting.choices:
                    widget.addItem(member.name, member)
                widget.setCurrentIndex(max(0, widget.findData(value)))
                widget.currentIndexChanged.connect(self._update_note)
            else:
                widget = QSpinBox()
                widget.setRange(setting.low, setting.high)
                widget.setValue(value)
                widget.valueChanged.connect(self._update_note)
            widget.setToolTip(setting.describe())
            text = QLabel(f"{setting.label[:1].upper()}{setting.label[1:]}:")
            text.setBuddy(widget)
            layout.addWidget(text)
            layout.addWidget(widget)
            self.inputs[name] = widget
        layout.addStretch(1)
        self.note = QLabel()
        self.note.setWordWrap(True)
        outer.addWidget(self.note)
        self._update_note()

    def settings(self) -> CameraSettings:
        """The settings as entered."""
        return CameraSettings(
            **{
                name: widget.currentData() if isinstance(widget, QComboBox) else widget.value()
                for name, widget in self.inputs.items()
            }
        )

    def _update_note(self) -> None:
        note = self.settings().quality_note()
        self.note.setText("" if note is None else f"Note: {note[:1].upper()}{note[1:]}.")
        self.note.setVisible(note is not None)
