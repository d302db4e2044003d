"""The camera wall: one tile per camera in a grid that re-flows as cameras come and go."""

from __future__ import annotations

import math

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QDialog, QGridLayout, QVBoxLayout, QWidget

from app.services.decoder import DecodedFrame
from app.ui.tile import CameraTile, TileInfo


class CameraWall(QWidget):
    """Tiles keyed by device name; `deliver` routes a decoded frame to its tile(s).

    One tile at most is selected (`selected`, a click or `select`); `tileSelected(name)` says
    so ("" when none). `snapshotRequested(name)` and `adaptToggled(name, on)` come from a
    tile's context menu.
    """

    tileActivated = Signal(str)
    tileSelected = Signal(str)
    snapshotRequested = Signal(str)
    adaptToggled = Signal(str, bool)
    actionRequested = Signal(str, object)  # device, TileAction: from a tile's menu
    displaySizeChanged = Signal(str, QSize)  # the largest size a device is shown at

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(4, 4, 4, 4)
        self._grid.setSpacing(4)
        self.tiles: dict[str, CameraTile] = {}
        self.selected: str | None = None
        self._large: dict[str, LargeView] = {}

    def set_devices(self, names: list[str]) -> None:
        """Show exactly these devices, in this order."""
        for name in list(self.tiles):
            if name not in names:
                tile = self.tiles.pop(name)
                self._grid.removeWidget(tile)
                tile.deleteLater()
        for name in names:
            if name not in self.tiles:
                tile = CameraTile(name, self)
                tile.activated.connect(self.tileActivated)
                tile.clicked.connect(self.select)
                tile.snapshotRequested.connect(self.snapshotRequested)
                tile.adaptToggled.connect(self.adaptToggled)
                tile.actionRequested.connect(self.actionRequested)
                tile.sizeChanged.connect(self._tile_resized)
                self.tiles[name] = tile
        self._reflow(names)
        if self.selected is not None and self.selected not in self.tiles:
            self.select(None)

    def select(self, name: str | None) -> None:
        """Select the tile of `name` (None or "": none); unknown names select nothing."""
        name = name if name in self.tiles else None
        if name == self.selected:
            return
        self.selected = name
        for device, tile in self.tiles.items():
            tile.set_selected(device == name)
        self.tileSelected.emit(name or "")

    def deliver(self, decoded: DecodedFrame) -> None:
        tile = self.tiles.get(decoded.frame.device)
        if tile is not None:
            tile.show_frame(decoded)
        large = self._large.get(decoded.frame.device)
        if large is not None:
            large.tile.show_frame(decoded)

    def set_info(self, device: str, info: TileInfo) -> None:
        tile = self.tiles.get(device)
        if tile is not None:
            tile.set_info(info)
        large = self._large.get(device)
        if large is not None:
            large.tile.set_info(info)

    def open_large(self, device: str) -> LargeView:
        view = self._large.get(device)
        if view is None:
            view = LargeView(device, self)
            view.tile.sizeChanged.connect(self._tile_resized)
            view.tile.snapshotRequested.connect(self.snapshotRequested)
            view.tile.adaptToggled.connect(self.adaptToggled)
            view.tile.actionRequested.connect(self.actionRequested)
            view.finished.connect(lambda _=0, d=device: self._large_closed(d))
            self._large[device] = view
            tile = self.tiles.get(device)
            if tile is not None:
                view.tile.set_info(tile.info)
                if tile.current is not None:
                    view.tile.show_frame(tile.current)
        view.show()
        view.raise_()
        return view

    def _large_closed(self, device: str) -> None:
        view = self._large.pop(device, None)
        if view is not None:
            view.deleteLater()
        tile = self.tiles.get(device)
        if tile is not None:
            self.displaySizeChanged.emit(device, tile.size())

    def _reflow(self, names: list[str]) -> None:
        for tile in self.tiles.values():
            self._grid.removeWidget(tile)
        columns = max(1, math.ceil(math.sqrt(len(names))))
        for index, name in enumerate(names):
            self._grid.addWidget(self.tiles[name], index // columns, index % columns)
        for column in range(self._grid.columnCount()):
            self._grid.setColumnStretch(column, 1 if column < columns else 0)
        rows = max(1, math.ceil(len(names) / columns))
        for row in range(self._grid.rowCount()):
            self._grid.setRowStretch(row, 1 if row < rows else 0)

    def _tile_resized(self, device: str, size: QSize) -> None:
        large = self._large.get(device)
        if large is not None and large.tile.size().width() > size.width():
            size = large.tile.size()
        self.displaySizeChanged.emit(device, size)


class LargeView(QDialog):
    """A single camera, as large as the window it is in."""

    def __init__(self, device: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"SecureCam - {device}")
        self.tile = CameraTile(device, self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tile)
        self.resize(960, 720)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """F11 toggles full screen; Esc leaves full screen before it closes the view."""
        if event.key() == Qt.Key.Key_F11:
            self.toggle_full_screen()
        elif event.key() == Qt.Key.Key_Escape and self.isFullScreen():
            self.showNormal()
        else:
            super().keyPressEvent(event)

    def toggle_full_screen(self) -> None:
        if self.isFullScreen():
            self.showNormal()
        else:
            self.showFullScreen()
