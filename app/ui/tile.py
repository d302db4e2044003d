"""One camera's live view: the picture, its name and numbers, a lock badge and its state."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from PySide6.QtCore import QMimeData, QPoint, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QAction,
    QColor,
    QContextMenuEvent,
    QDrag,
    QFont,
    QImage,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
    QResizeEvent,
)
from PySide6.QtWidgets import QApplication, QMenu, QSizePolicy, QWidget

from app.protocol.framesize import FrameSize
from app.protocol.hello import Suite
from app.protocol.records import NO_FPS_CAP, Status
from app.protocol.session import monotonic_us
from app.receiver.stats import DeviceState, DeviceStats
from app.services.decoder import DecodedFrame

log = logging.getLogger(__name__)

ENCRYPTED = QColor("#2e7d32")
PLAIN = QColor("#e65100")
BAR = QColor(0, 0, 0, 170)
REJECTED = QColor("#c62828")
WARNING = QColor("#ffb74d")
SELECTED = QColor("#42a5f5")
WATCHED = QColor("#90caf9")
ADAPTED = QColor("#80deea")
TILE_MIME = "application/x-securecam-tile"  # a dragged tile: its device name, UTF-8
STALE_VEIL = QColor(0, 0, 0, 110)  # over an offline camera's last frame, already grey
ADAPT_ACTION = "Adapt quality to the link"
ADAPTED_TIP = (
    "adapted: SecureCam lowered its settings because the link could not carry them "
    "(right-click to turn adaptation off)"
)

# What each DeviceState is called wherever the UI shows it (tiles, the devices list, the wizard).
STATE_LABELS = {
    DeviceState.OFFLINE: "offline",
    DeviceState.CONNECTING: "connecting",
    DeviceState.LIVE: "live",
    DeviceState.REJECTED: "rejected",
}


def state_label(state: DeviceState, reason: str | None = None) -> str:
    """'offline', 'connecting', 'live', or 'rejected: REASON' ('rejected' without one)."""
    label = STATE_LABELS[state]
    return f"{label}: {reason}" if state is DeviceState.REJECTED and reason else label


def viewers_text(count: int) -> str | None:
    """'1 viewer', 'N viewers' (watching through Share), or None for none."""
    if count <= 0:
        return None
    return f"{count} viewer" + ("" if count == 1 else "s")


def settings_text(status: Status) -> str:
    """What a camera streams, from its STATUS: 'VGA · q12 · 25 fps' ('no fps cap' if none);
    a size the app cannot name shows as WIDTHxHEIGHT."""
    try:
        size = FrameSize(status.frame_size).name
    except ValueError:
        size = f"{status.width}x{status.height}"
    fps = "no fps cap" if status.fps_cap == NO_FPS_CAP else f"{status.fps_cap} fps"
    return f"{size} · q{status.quality} · {fps}"


def failed_attempts_text(count: int) -> str | None:
    """'1 failed attempt', 'N failed attempts', or None for none."""
    if count <= 0:
        return None
    return f"{count} failed attempt" + ("" if count == 1 else "s")


class TileAction(Enum):
    """What a tile's menu asks the window to do (beyond snapshot, large view, adaptation)."""

    ALLOW_PLAIN = "Allow plain (insecure)"
    RENAME = "Rename…"
    DETAILS = "Details…"
    DISCONNECT = "Disconnect"


@dataclass
class TileInfo:
    """What the tile's overlay shows; refreshed a few times a second, not per frame.

    Build it with `from_stats` from the receiver's stats of the device.
    """

    state: DeviceState = DeviceState.OFFLINE
    reason: str | None = None
    suite: Suite | None = None  # the live session's, None when not live
    fps: float = 0.0
    latency_ms: float | None = None
    resolution: str | None = None
    demo: bool = False
    # Connections that named the device without its key: shown apart, never as its state.
    failed_attempts: int = 0
    viewers: int = 0  # Share streams watching the camera now
    settings: str | None = None  # what it streams, from its STATUS (settings_text)
    adapted: bool = False  # the app lowered its settings to suit the link
    adapt: bool = True  # the app may adapt its settings (the context menu's check)
    last_seen_s: float | None = None  # seconds since its newest frame arrived, if any did
    allow_plain: bool = False  # its registry entry lets it stream unencrypted

    @classmethod
    def from_stats(
        cls,
        stats: DeviceStats | None,
        now_us: int,
        *,
        demo: bool = False,
        viewers: int = 0,
        adapted: bool = False,
        adapt: bool = True,
        allow_plain: bool = False,
    ) -> TileInfo:
        """What a tile shows for a device with these receiver stats (None: not seen yet).

        `now_us` is the app clock (`monotonic_us()`), for the frame rate; the latency is the
        newest frame's capture → painted (capture → decrypted until it is painted).
        `viewers` is how many Share streams watch it (ShareService.viewer_count); `adapted`
        whether the app changed its settings (ReceiverService.adapted), `adapt` whether it may.
        """
        if stats is None:
            return cls(demo=demo, viewers=viewers, adapt=adapt, allow_plain=allow_plain)
        latest = stats.timelines[-1] if stats.timelines else None
        seen = None if latest is None else max(0.0, (now_us - latest.decrypted_us) / 1e6)
        status = stats.status
        return cls(
            state=stats.state,
            reason=stats.reason,
            suite=stats.suite if stats.connected else None,
            fps=stats.fps(now_us),
            latency_ms=None if latest is None else latest.to_shown_ms,
            resolution=None if status is None else f"{status.width}x{status.height}",
            demo=demo,
            failed_attempts=stats.failed_attempts,
            viewers=viewers,
            settings=None if status is None else settings_text(status),
            adapted=adapted and stats.connected,
            adapt=adapt,
            last_seen_s=seen,
            allow_plain=allow_plain,
        )

    def placeholder(self) -> str:
        """The text shown instead of a live picture."""
        label = STATE_LABELS[self.state]
        if self.state is DeviceState.LIVE:
            return f"{label}, waiting for the first frame…"
        if self.state is DeviceState.CONNECTING:
            return f"{label}…"
        if self.state is DeviceState.REJECTED:
            text = f"{label}: {self.reason or 'unknown reason'}"
        else:
            text = f"{label} ({self.reason})" if self.reason else label
        return text if self.last_seen_s is None else f"{text}\n{self.last_seen()}"

    def last_seen(self) -> str:
        """'last frame 14:03:12, 2 min ago' (local time), or '' when none arrived."""
        if self.last_seen_s is None:
            return ""
        when = datetime.now() - timedelta(seconds=self.last_seen_s)
        return f"last frame {when:%H:%M:%S}, {_ago(self.last_seen_s)}"


class CameraTile(QWidget):
    """Paints the newest decoded frame letterboxed; stamps `painted_us` when it does.

    Only the latest frame is kept: a frame replaced before the next paint is never painted
    (counted in `unpainted`), so a slow paint can never build up latency.
    A press emits `clicked`; the context menu (`context_menu`, rebuilt on each right-click)
    offers `snapshotRequested` (disabled until a frame is shown), the large view and a check
    to let the app adapt the camera's quality to the link (`adaptToggled(device, on)`).
    """

    activated = Signal(str)  # double-click
    clicked = Signal(str)
    snapshotRequested = Signal(str)
    adaptToggled = Signal(str, bool)  # device, adaptation wanted on
    actionRequested = Signal(str, object)  # device, TileAction (the window asks and acts)
    sizeChanged = Signal(str, QSize)

    def __init__(self, device: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.device = device
        self.info = TileInfo()
        self.current: DecodedFrame | None = None
        self._stale: tuple[DecodedFrame, QImage] | None = None  # current, in grey
        self._press: QPoint | None = None  # where a press began: a drag starts from it
        self._fresh = False
        self.painted = 0
        self.unpainted = 0
        self.selected = False
        self.context_menu: QMenu | None = None
        self.setMinimumSize(160, 120)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setToolTip(f"{device}: double-click for a large view")

    def show_frame(self, decoded: DecodedFrame) -> None:
        if self._fresh:
            self.unpainted += 1
        self.current = decoded
        self._fresh = True
        self.update()

    def set_info(self, info: TileInfo) -> None:
        if info != self.info:
            self.info = info
            tip = f"{self.device}: double-click for a large view"
            if self.attempts_badge is not None:
                tip += f"\n{self.attempts_badge} to connect as {self.device} without its key"
            if self.viewers_badge is not None:
                tip += f"\nwatched by {self.viewers_badge} through Share"
            if self.settings_badge is not None:
                tip += f"\nstreams {info.settings}"
                if info.adapted:
                    tip += f"\n{ADAPTED_TIP}"
            self.setToolTip(tip)
            self.update()

    @property
    def attempts_badge(self) -> str | None:
        """The failed-attempts badge the tile shows ('2 failed attempts'), or None."""
        return failed_attempts_text(self.info.failed_attempts)

    @property
    def viewers_badge(self) -> str | None:
        """What the bottom bar says about Share viewers ('2 viewers'), or None for none."""
        return viewers_text(self.info.viewers)

    @property
    def settings_badge(self) -> str | None:
        """What the tile says the camera streams while live ('VGA · q12 · 25 fps', then
        ' · adapted' when the app lowered it), or None."""
        info = self.info
        if info.state is not DeviceState.LIVE or info.settings is None:
            return None
        return info.settings + (" · adapted" if info.adapted else "")

    def set_selected(self, selected: bool) -> None:
        if selected != self.selected:
            self.selected = selected
            self.update()

    def snapshot_bytes(self) -> bytes | memoryview | None:
        """The original JPEG bytes of the frame on screen, exactly as the camera sent them."""
        return None if self.current is None else self.current.frame.jpeg

    # -- Qt ---------------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#111"))
        if self.current is not None:
            image = self.current.image
            live = self.info.state is DeviceState.LIVE
            if not live:
                # Not a live-looking picture: the last frame, grey and dimmed, under the state.
                image = self._stale_image()
            rect = self._picture_rect(image)
            painter.drawImage(rect, image)
            if not live:
                painter.fillRect(rect, STALE_VEIL)
        self._paint_overlay(painter)
        painter.end()
        if self._fresh and self.current is not None:
            self._fresh = False
            self.painted += 1
            self.current.frame.timeline.painted_us = monotonic_us()
            if self.painted == 1:  # a user's (and `make bench`'s) sign the picture is up
                log.info("%s: first frame painted", self.device)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.clicked.emit(self.device)
        self._press = event.position().toPoint()
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        """Dragged far enough with the left button: carry this tile's name to another tile."""
        start = self._press
        if start is None or not event.buttons() & Qt.MouseButton.LeftButton:
            return
        if (event.position().toPoint() - start).manhattanLength() < (
            QApplication.startDragDistance()
        ):
            return
        self._press = None
        drag = QDrag(self)
        data = QMimeData()
        data.setData(TILE_MIME, self.device.encode())
        drag.setMimeData(data)
        drag.exec(Qt.DropAction.MoveAction)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._press = None
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        self.activated.emit(self.device)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        self.clicked.emit(self.device)
        self.build_context_menu().popup(event.globalPos())

    def build_context_menu(self) -> QMenu:
        """The right-click menu for this camera (also kept in `context_menu`)."""
        if self.context_menu is not None:
            self.context_menu.deleteLater()
        menu = QMenu(self)
        snapshot = menu.addAction("Save snapshot…")
        snapshot.setEnabled(self.current is not None)
        if self.current is None:
            snapshot.setToolTip(f"{self.device} has not shown a frame yet")
        snapshot.triggered.connect(lambda: self.snapshotRequested.emit(self.device))
        menu.addAction("Open large view").triggered.connect(
            lambda: self.activated.emit(self.device)
        )
        menu.addSeparator()
        adapt = menu.addAction(ADAPT_ACTION)
        adapt.setCheckable(True)
        adapt.setChecked(self.info.adapt)
        adapt.setToolTip(
            "Lower the camera's frame size, JPEG quality and frame rate when the link cannot "
            "carry them, and raise them again when it can. Off: the camera keeps its own."
        )
        adapt.toggled.connect(lambda on: self.adaptToggled.emit(self.device, on))
        plain = self._menu_action(menu, TileAction.ALLOW_PLAIN)
        plain.setCheckable(True)
        plain.setChecked(self.info.allow_plain)
        plain.setToolTip("Unencrypted streams, only to measure what encryption costs")
        menu.addSeparator()
        rename = self._menu_action(menu, TileAction.RENAME)
        rename.setEnabled(not self.info.demo)
        self._menu_action(menu, TileAction.DETAILS)
        drop = self._menu_action(menu, TileAction.DISCONNECT)
        drop.setEnabled(self.info.state is DeviceState.LIVE)
        drop.setToolTip("Close its connection now; the camera reconnects by itself")
        menu.setToolTipsVisible(True)
        self.context_menu = menu
        return menu

    def _menu_action(self, menu: QMenu, action: TileAction) -> QAction:
        item = menu.addAction(action.value)
        item.triggered.connect(lambda: self.actionRequested.emit(self.device, action))
        return item

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.sizeChanged.emit(self.device, event.size())

    # -- drawing ----------------------------------------------------------------------------

    def _stale_image(self) -> QImage:
        """The current frame in grey, converted once per frame (not per paint)."""
        assert self.current is not None
        if self._stale is None or self._stale[0] is not self.current:
            grey = self.current.image.convertToFormat(QImage.Format.Format_Grayscale8)
            self._stale = (self.current, grey)
        return self._stale[1]

    def _picture_rect(self, image: QImage) -> QRectF:
        area = QRectF(self.rect())
        if image.width() == 0 or image.height() == 0:
            return area
        scale = min(area.width() / image.width(), area.height() / image.height())
        width, height = image.width() * scale, image.height() * scale
        return QRectF(
            area.x() + (area.width() - width) / 2,
            area.y() + (area.height() - height) / 2,
            width,
            height,
        )

    def _paint_overlay(self, painter: QPainter) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        info = self.info
        font = QFont(self.font())
        font.setPointSizeF(max(8.0, min(11.0, self.height() / 28)))
        painter.setFont(font)
        line = painter.fontMetrics().height() + 6
        width = self.width()

        # top bar: lock badge, name, security
        painter.fillRect(QRectF(0, 0, width, line), BAR)
        plain = info.suite is Suite.PLAIN
        colour = PLAIN if plain else ENCRYPTED
        if info.suite is not None:
            _draw_lock(painter, QRectF(4, 3, line - 6, line - 6), colour, locked=not plain)
        painter.setPen(QColor("white"))
        name = self.device + ("  (demo)" if info.demo else "")
        painter.drawText(QRectF(line + 2, 0, width, line), Qt.AlignmentFlag.AlignVCenter, name)
        if info.suite is not None:
            label = info.suite.label.upper() if plain else info.suite.label
            painter.setPen(colour.lighter(160) if not plain else QColor("#ffb74d"))
            painter.drawText(
                QRectF(0, 0, width - 6, line),
                Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
                label,
            )
        if plain:
            painter.setPen(QPen(PLAIN, 4))
            painter.drawRect(QRectF(2, 2, width - 4, self.height() - 4))
        if self.selected:
            painter.setPen(QPen(SELECTED, 2))
            painter.drawRect(QRectF(1, 1, width - 2, self.height() - 2))

        # below the top bar: failed attempts, in the corner, apart from the state
        attempts = self.attempts_badge
        if attempts is not None:
            text = f"⚠ {attempts}"
            text_width = painter.fontMetrics().horizontalAdvance(text) + 12
            badge = QRectF(width - text_width - 4, line + 4, text_width, line - 4)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(BAR)
            painter.drawRoundedRect(badge, 4, 4)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(WARNING)
            painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, text)

        # below the top bar, left: what the camera streams, and whether the app adapted it
        settings = self.settings_badge
        if settings is not None and info.settings is not None:
            metrics = painter.fontMetrics()
            base, mark = info.settings, (" · adapted" if info.adapted else "")
            base_width = metrics.horizontalAdvance(base)
            text_width = base_width + metrics.horizontalAdvance(mark) + 12
            badge = QRectF(4, line + 4, text_width, line - 4)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(BAR)
            painter.drawRoundedRect(badge, 4, 4)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(QColor("white"))
            text_box = badge.adjusted(6, 0, 0, 0)
            painter.drawText(text_box, Qt.AlignmentFlag.AlignVCenter, base)
            if mark:
                painter.setPen(ADAPTED)
                painter.drawText(
                    text_box.adjusted(base_width, 0, 0, 0), Qt.AlignmentFlag.AlignVCenter, mark
                )

        # bottom bar: numbers, and who watches through Share on the right
        live = info.state is DeviceState.LIVE
        watched = self.viewers_badge
        bottom = QRectF(6, self.height() - line, width - 12, line)
        if live or watched is not None:
            painter.fillRect(QRectF(0, self.height() - line, width, line), BAR)
        if watched is not None:
            painter.setPen(WATCHED)
            painter.drawText(
                bottom, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, watched
            )
            bottom.setWidth(bottom.width() - painter.fontMetrics().horizontalAdvance(watched) - 12)
        if live:
            parts = [f"{info.fps:.1f} fps"]
            if info.latency_ms is not None:
                parts.append(f"{info.latency_ms:.1f} ms")
            if info.resolution:
                parts.append(info.resolution)
            painter.setPen(QColor("white"))
            painter.drawText(bottom, Qt.AlignmentFlag.AlignVCenter, "   ".join(parts))

        # state, when there is no live picture: on a plate, readable over the last frame
        if not live or self.current is None:
            rejected = info.state is DeviceState.REJECTED
            area = QRectF(10, line, width - 20, self.height() - 2 * line)
            flags = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap
            text = info.placeholder()
            if self.current is not None:
                bounds = painter.fontMetrics().boundingRect(area.toRect(), int(flags), text)
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(BAR)
                painter.drawRoundedRect(QRectF(bounds).adjusted(-12, -8, 12, 8), 6, 6)
                painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(REJECTED.lighter(150) if rejected else QColor("#ddd"))
            painter.drawText(area, flags, text)


def _draw_lock(painter: QPainter, box: QRectF, colour: QColor, *, locked: bool) -> None:
    """A padlock: shackle closed for encrypted, lifted and open for plain."""
    painter.save()
    body = QRectF(box.x(), box.y() + box.height() * 0.45, box.width(), box.height() * 0.55)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(colour)
    painter.drawRoundedRect(body, 2, 2)
    left = box.x() + box.width() * 0.22
    right = box.x() + box.width() * 0.78
    lift = 0.0 if locked else box.height() * 0.18
    top = box.y() - lift
    arc_height = box.height() * 0.4
    shackle = QPainterPath(QPointF(left, body.y() - lift))
    shackle.lineTo(QPointF(left, top + arc_height / 2))
    shackle.arcTo(QRectF(left, top, right - left, arc_height), 180, -180)
    # closed: the right leg goes back into the body; open: it stops short
    shackle.lineTo(QPointF(right, body.y() if locked else top + arc_height * 0.8))
    painter.setPen(QPen(colour, max(1.5, box.width() * 0.14)))
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawPath(shackle)
    painter.restore()


def _ago(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s ago"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 86400:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86400:.0f} days ago"
