"""The camera wall: one tile per camera, in the layout the user chose (an automatic grid, one
large camera and the others around it, or a fixed number of columns) and the order they
dragged the tiles into; it re-flows as cameras come and go."""

from __future__ import annotations

import math
from enum import Enum

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QKeyEvent
from PySide6.QtWidgets import QDialog, QGridLayout, QVBoxLayout, QWidget

from app.services.decoder import DecodedFrame
from app.ui.tile import TILE_MIME, CameraTile, TileInfo


class WallLayout(Enum):
    """How the wall places its tiles (the value is what settings store and menus show)."""

    AUTO = "Automatic grid"
    ONE_PLUS_N = "One large, the others around it"
    COLUMNS_2 = "2 columns"
    COLUMNS_3 = "3 columns"
    COLUMNS_4 = "4 columns"


def placements(layout: WallLayout, count: int) -> list[tuple[int, int, int, int]]:
    """(row, column, row span, column span) of each of `count` tiles, in order."""
    if count == 0:
        return []
    if layout is WallLayout.ONE_PLUS_N and count > 1:
        columns = 3 if count <= 6 else max(4, math.ceil(math.sqrt(count + 3)))
        cells = [
            (row, column)
            for row in range(count + 2)
            for column in range(columns)
            if not (row < 2 and column < 2)  # the large tile's four cells
        ]
        return [(0, 0, 2, 2)] + [(row, column, 1, 1) for row, column in cells[: count - 1]]
    columns = {
        WallLayout.COLUMNS_2: 2,
        WallLayout.COLUMNS_3: 3,
        WallLayout.COLUMNS_4: 4,
    }.get(layout, max(1, math.ceil(math.sqrt(count))))
    return [(index // columns, index % columns, 1, 1) for index in range(count)]


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
    arrangementChanged = Signal()  # the layout or the order changed: worth remembering

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(4, 4, 4, 4)
        self._grid.setSpacing(4)
        self.tiles: dict[str, CameraTile] = {}
        self.selected: str | None = None
        self._large: dict[str, LargeView] = {}
        self.layout_mode = WallLayout.AUTO
        self.order: list[str] = []  # the user's order (dragged); unknown names go last
        self.setAcceptDrops(True)

    def set_layout(self, layout: WallLayout) -> None:
        if layout is not self.layout_mode:
            self.layout_mode = layout
            self._reflow(list(self.tiles))
            self.arrangementChanged.emit()

    def set_order(self, order: list[str]) -> None:
        """The order tiles are placed in (a remembered one, or after a drag)."""
        self.order = list(dict.fromkeys(order))
        self._reflow(list(self.tiles))

    def move_tile(self, device: str, before: str) -> None:
        """Place `device` where `before` is (a tile dropped on another)."""
        names = self.shown_order()
        if device not in names or before not in names or device == before:
            return
        names.remove(device)
        names.insert(names.index(before), device)
        known = [n for n in self.order if n not in names]
        self.set_order(names + known)
        self.arrangementChanged.emit()

    def shown_order(self) -> list[str]:
        """The tiles' names in the order they are placed."""
        ranked = {name: index for index, name in enumerate(self.order)}
        return sorted(self.tiles, key=lambda n: (ranked.get(n, len(ranked)), n not in ranked))

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasFormat(TILE_MIME):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        device = bytes(event.mimeData().data(TILE_MIME).data()).decode()
        target = self.childAt(event.position().toPoint())
        while target is not None and not isinstance(target, CameraTile):
            target = target.parentWidget()
        if isinstance(target, CameraTile):
            self.move_tile(device, target.device)
            event.acceptProposedAction()

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
        ordered = [name for name in self.shown_order() if name in names]
        cells = placements(self.layout_mode, len(ordered))
        for name, (row, column, rows, columns) in zip(ordered, cells, strict=True):
            self._grid.addWidget(self.tiles[name], row, column, rows, columns)
        used_rows = max((r + rs for r, _, rs, _ in cells), default=1)
        used_columns = max((c + cs for _, c, _, cs in cells), default=1)
        for column in range(self._grid.columnCount()):
            self._grid.setColumnStretch(column, 1 if column < used_columns else 0)
        for row in range(self._grid.rowCount()):
            self._grid.setRowStretch(row, 1 if row < used_rows else 0)

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
        # As large as the window it is opened from; without one, most of its screen.
        window = parent.window() if parent is not None else None
        if window is not None and window.width() >= 320:
            frame = window.frameGeometry().size() - window.size()  # its title bar and borders
            self.resize(window.size() - frame)  # so that with its own, it covers the window
        else:
            screen = self.screen().availableGeometry()
            self.resize(screen.width() * 4 // 5, screen.height() * 4 // 5)

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
