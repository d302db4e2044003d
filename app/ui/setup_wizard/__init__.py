"""Set up an ESP32-CAM over USB: port, identify, flash, Wi-Fi and server, then see it stream.

One module per page (`port_page`, `identify_page`, `flash_page`, `configure_page` with its
`camera_fields`, `verify_page`) and `wizard`, which puts them together. The pages talk to
`SetupService` (serial work in worker threads; it owns the board link's state, which the
pages read and never copy) and `AppServices` (the registry and the receiver) through
methods and signals only. Nothing shown or logged here holds a secret: the Wi-Fi password
stays in its (masked) field and the device key is never read, only its fingerprint is shown.
"""

from app.ui.setup_wizard.common import Page
from app.ui.setup_wizard.wizard import SetupWizard

__all__ = ["Page", "SetupWizard"]
