"""The wizard's camera fields: a note says when the camera will raise the chosen JPEG quality
at the chosen frame size (docs/JPEG-BUFFER.md), and the settings stay as entered."""

from app.protocol.framesize import FrameSize
from app.serial.camera_settings import CameraSettings
from app.ui.setup_wizard.camera_fields import CameraFields


def test_a_quality_the_camera_will_raise_is_noted_and_kept_as_entered(qtbot):
    fields = CameraFields()
    qtbot.addWidget(fields)
    fields.show()
    assert fields.note.isHidden()  # the defaults, VGA at 12, fit

    size = fields.inputs["frame_size"]
    size.setCurrentIndex(size.findData(FrameSize.UXGA))
    assert fields.note.isVisible()
    assert "raises JPEG quality 12 to 17" in fields.note.text()
    assert fields.settings() == CameraSettings(FrameSize.UXGA, jpeg_quality=12)

    fields.inputs["jpeg_quality"].setValue(17)
    assert fields.note.isHidden()


def test_a_wizard_opened_on_settings_below_the_floor_shows_the_note(qtbot):
    fields = CameraFields(CameraSettings(FrameSize.SXGA, jpeg_quality=6))
    qtbot.addWidget(fields)
    assert not fields.note.isHidden()
    assert fields.note.text().startswith("Note: At sxga the camera raises JPEG quality 6 to 10")
