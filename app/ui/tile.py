"""One camera's live view: the picture, its name and numbers, a lock badge and its state."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Protocol, TypeVar

from PySide6.QtCore import QEvent, QMimeData, QPoint, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QAction,
    QColor,
    QContextMenuEvent,
    QDrag,
    QFont,
    QFontMetricsF,
    QImage,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
    QResizeEvent,
)
from PySide6.QtWidgets import QApplication, QMenu, QSizePolicy, QWidget

from app.protocol.clock import monotonic_us
from app.protocol.framesize import FrameSize
from app.protocol.hello import Suite
from app.protocol.records import NO_FPS_CAP, Status
from app.receiver.stats import DeviceState, DeviceStats
from app.services.decoder import DecodedFrame

log = logging.getLogger(__name__)
_A = TypeVar("_A")
_B = TypeVar("_B")

ENCRYPTED = QColor("#2e7d32")
PLAIN = QColor("#e65100")
BAR = QColor(0, 0, 0, 170)
REJECTED = QColor("#c62828")
WARNING = QColor("#ffb74d")
SELECTED = QColor("#42a5f5")
WATCHED = QColor("#90caf9")
ADAPTED = QColor("#80deea")
SMALLEST = (160, 120)  # px: a tile is never smaller (the wall gives it at least this)
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


# -- the overlay's layout: sizes in, rectangles out ----------------------------------------------

BADGE_PAD = 6  # px each side of a badge's text
PLATE_PAD_X, PLATE_PAD_Y = 10, 6  # px around the state plate's text
ROW_GAP = 8  # px between two texts on a row


class Role(Enum):
    """What a rectangle of the overlay holds, in the order of priority where room is short."""

    LOCK = "lock"
    NAME = "name"
    SUITE = "suite"
    ATTEMPTS = "failed attempts"
    SETTINGS = "settings"
    VIEWERS = "viewers"
    NUMBERS = "numbers"
    PLATE = "state plate"


@dataclass(frozen=True, slots=True)
class Placed:
    """One thing the overlay draws: its box (a badge's or a plate's with their padding, else
    the text's own) and the text drawn in it; the settings badge draws `mark` in its own
    colour `mark_at` px after its text starts."""

    role: Role
    rect: QRectF
    text: str = ""
    mark: str = ""
    mark_at: float = 0.0


class TextMeasure(Protocol):
    """What the layout needs to know about the font (FontMeasure is the real one)."""

    line: float  # a line's height

    def advance(self, text: str) -> float: ...

    def wrapped(self, text: str, width: float) -> QRectF:
        """The box `text` fills word-wrapped and centred in `width` (top at 0)."""
        ...

    def elided(self, text: str, width: float) -> str: ...


class FontMeasure:
    def __init__(self, font: QFont) -> None:
        self.metrics = QFontMetricsF(font)
        self.line = self.metrics.height()

    def advance(self, text: str) -> float:
        return self.metrics.horizontalAdvance(text)

    def wrapped(self, text: str, width: float) -> QRectF:
        flags = int(Qt.AlignmentFlag.AlignHCenter | Qt.TextFlag.TextWordWrap)
        return self.metrics.boundingRect(QRectF(0, 0, width, 1e6), flags, text)

    def elided(self, text: str, width: float) -> str:
        return self.metrics.elidedText(text, Qt.TextElideMode.ElideRight, width)


@dataclass(frozen=True, slots=True)
class OverlayTexts:
    """What the overlay may say, each as a ladder of forms from the fullest to the shortest
    ('' at the end: the text may be left out when there is no room)."""

    lock: bool = False
    name: tuple[str, ...] = ("",)
    suite: tuple[str, ...] = ("",)
    attempts: tuple[str, ...] = ("",)
    settings: tuple[tuple[str, str], ...] = (("", ""),)  # (text, mark in its own colour)
    bottom_bar: bool = False
    numbers: tuple[str, ...] = ("",)
    viewers: tuple[str, ...] = ("",)
    plate: tuple[str, ...] = ("",)

    @classmethod
    def of(cls, device: str, info: TileInfo, has_frame: bool) -> OverlayTexts:
        live = info.state is DeviceState.LIVE
        suite = info.suite
        if suite is None:
            suites: tuple[str, ...] = ("",)
        elif suite is Suite.PLAIN:  # never left out: the open lock and border say it too
            suites = (suite.label.upper(), "PLAIN")
        else:
            suites = (suite.label, "")  # the closed lock says it
        attempts = failed_attempts_text(info.failed_attempts)
        settings: tuple[tuple[str, str], ...] = (("", ""),)
        if live and info.settings is not None:
            size = info.settings.split(" · ")[0]
            if info.adapted:
                settings = ((info.settings, " · adapted"), (size, " · adapted"), ("", "adapted"))
            else:
                settings = ((info.settings, ""), (size, ""))
            settings += (("", ""),)
        numbers: tuple[str, ...] = ("",)
        if live:
            parts = [f"{info.fps:.1f} fps"]
            if info.latency_ms is not None:
                parts.append(f"{info.latency_ms:.1f} ms")
            if info.resolution:
                parts.append(info.resolution)
            numbers = (*tuple("   ".join(parts[:n]) for n in range(len(parts), 0, -1)), "")
        watched = viewers_text(info.viewers)
        plate: tuple[str, ...] = ("",)
        if not live or not has_frame:
            full = info.placeholder()
            plate = tuple(dict.fromkeys((full, full.split("\n")[0], STATE_LABELS[info.state])))
        return cls(
            lock=suite is not None,
            name=(f"{device}  (demo)", device) if info.demo else (device,),
            suite=suites,
            attempts=(f"⚠ {attempts}", f"⚠ {info.failed_attempts}") if attempts else ("",),
            settings=settings,
            bottom_bar=live or watched is not None,
            numbers=numbers,
            viewers=(watched,) if watched else ("",),
            plate=plate,
        )


def overlay_layout(
    width: int, height: int, line: int, texts: OverlayTexts, measure: TextMeasure
) -> tuple[Placed, ...]:
    """Where a `width`×`height` tile with bars `line` px high draws each text: no two boxes
    intersect and none leaves the tile. On each row the more important text keeps its
    fullest form that fits; the other is shortened, then left out (the camera's name, which
    must stay, is elided last)."""
    placed: list[Placed] = []

    def box(text: str, pad: float = 0) -> float:
        return math.ceil(measure.advance(text)) + 1 + 2 * pad if text else 0.0

    # top bar: the lock, the name on the left, the security on the right
    start = line + 2
    if texts.lock:
        placed.append(Placed(Role.LOCK, QRectF(4, 3, line - 6, line - 6)))
    room = width - 6 - start
    name, suite = _fit(texts.name, texts.suite, room, (box, box), ROW_GAP)
    name_room = room - (box(suite) + ROW_GAP if suite else 0)
    if box(name) > name_room:  # not even in its shortest form: elided, its tooltip says it
        name = measure.elided(name, name_room - 1) if name_room > 1 else ""
    if name:
        placed.append(Placed(Role.NAME, QRectF(start, 0, box(name), line), name))
    if suite:
        suite_width = box(suite)
        placed.append(
            Placed(Role.SUITE, QRectF(width - 6 - suite_width, 0, suite_width, line), suite)
        )

    # below the top bar: what the camera streams (left), failed attempts (right)
    row_top, row_height = line + 4, line - 4

    def settings_width(form: tuple[str, str]) -> float:
        text, mark = form
        return box(text + mark, BADGE_PAD) if text or mark else 0.0

    attempts, settings = _fit(
        texts.attempts,
        texts.settings,
        width - 8,
        (lambda text: box(text, BADGE_PAD), settings_width),
        4,
    )
    below = line  # where the state plate may begin
    if attempts and box(attempts, BADGE_PAD) <= width - 8:
        badge = box(attempts, BADGE_PAD)
        placed.append(
            Placed(Role.ATTEMPTS, QRectF(width - 4 - badge, row_top, badge, row_height), attempts)
        )
        below = row_top + row_height
    if settings != ("", ""):
        text, mark = settings
        mark_at = math.ceil(measure.advance(text)) if text else 0
        badge = settings_width(settings)
        placed.append(
            Placed(Role.SETTINGS, QRectF(4, row_top, badge, row_height), text, mark, mark_at)
        )
        below = row_top + row_height

    # bottom bar: the numbers (left), who watches through Share (right)
    above = height
    if texts.bottom_bar:
        above = height - line
        room = width - 12
        viewers, numbers = _fit(texts.viewers, texts.numbers, room, (box, box), ROW_GAP)
        if viewers and box(viewers) <= room:
            viewers_width = box(viewers)
            placed.append(
                Placed(
                    Role.VIEWERS,
                    QRectF(width - 6 - viewers_width, above, viewers_width, line),
                    viewers,
                )
            )
        if numbers:
            placed.append(Placed(Role.NUMBERS, QRectF(6, above, box(numbers), line), numbers))

    # the state, when there is no live picture: on a plate between the rows
    area = QRectF(4, below + 2, width - 8, above - below - 4)
    text_width = area.width() - 2 * PLATE_PAD_X
    for plate in texts.plate:
        if not plate or text_width <= 0:
            break
        bounds = measure.wrapped(plate, text_width)
        high = math.ceil(bounds.height()) + 2 * PLATE_PAD_Y
        wide = math.ceil(bounds.width()) + 1 + 2 * PLATE_PAD_X
        if high <= area.height() and wide <= area.width():
            top = area.top() + (area.height() - high) / 2
            left = area.left() + (area.width() - wide) / 2
            placed.append(Placed(Role.PLATE, QRectF(left, top, wide, high), plate))
            break
    return tuple(placed)


def _fit(
    first: tuple[_A, ...],
    second: tuple[_B, ...],
    room: float,
    widths: tuple[Callable[[_A], float], Callable[[_B], float]],
    gap: float,
) -> tuple[_A, _B]:
    """The fullest form of `first` (the more important) with the fullest of `second` that
    fit in `room` together, `gap` apart; else the shortest forms of both."""
    for a in first:
        wa = widths[0](a)
        for b in second:
            wb = widths[1](b)
            if wa + wb + (gap if wa and wb else 0) <= room:
                return a, b
    return first[-1], second[-1]


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
        self._overlay_cache: tuple[QFont, int, tuple[Placed, ...]] | None = None
        self._laid_w = self._laid_h = 0  # the size the cached overlay was laid out for
        self.setMinimumSize(*SMALLEST)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setToolTip(f"{device}: double-click for a large view")

    def show_frame(self, decoded: DecodedFrame) -> None:
        if self._fresh:
            self.unpainted += 1
        if self.current is None:
            self._overlay_cache = None  # the first picture replaces the waiting plate
        self.current = decoded
        self._fresh = True
        self.update()

    def set_info(self, info: TileInfo) -> None:
        if info != self.info:
            self.info = info
            self._overlay_cache = None
            tip = f"{self.device}: double-click for a large view"
            if self.attempts_badge is not None:
                tip += f"\n{self.attempts_badge} to connect as {self.device} without its key"
            if self.viewers_badge is not None:
                tip += f"\nwatched by {self.viewers_badge} through Share"
            if self.settings_badge is not None:
                tip += f"\nstreams {info.settings}"
                if info.adapted:
                    tip += f"\n{ADAPTED_TIP}"
            if info.state is not DeviceState.LIVE:  # in full: a small tile shortens its plate
                tip += "\n" + info.placeholder()
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

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.FontChange:
            self._overlay_cache = None
        super().changeEvent(event)

    def _overlay(self) -> tuple[QFont, int, tuple[Placed, ...]]:
        """The overlay's font, bar height and text layout, cached until the size, the font
        or what it says changes (so a paint allocates nothing for it)."""
        width = self.width()
        height = self.height()
        if self._overlay_cache is None or width != self._laid_w or height != self._laid_h:
            self._laid_w = width
            self._laid_h = height
            font = QFont(self.font())
            font.setPointSizeF(max(8.0, min(11.0, height / 28)))
            measure = FontMeasure(font)
            line = math.ceil(measure.line) + 6
            texts = OverlayTexts.of(self.device, self.info, self.current is not None)
            placed = overlay_layout(width, height, line, texts, measure)
            self._overlay_cache = (font, line, placed)
        return self._overlay_cache

    def overlay_boxes(self) -> tuple[Placed, ...]:
        """Where the overlay draws each of its texts now (and the lock): no two intersect."""
        return self._overlay()[2]

    def _paint_overlay(self, painter: QPainter) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        info = self.info
        font, line, placed = self._overlay()
        painter.setFont(font)
        width, height = self.width(), self.height()
        plain = info.suite is Suite.PLAIN
        colour = PLAIN if plain else ENCRYPTED
        live = info.state is DeviceState.LIVE

        painter.fillRect(QRectF(0, 0, width, line), BAR)  # top bar: lock, name, security
        if live or info.viewers > 0:  # bottom bar: numbers, and who watches through Share
            painter.fillRect(QRectF(0, height - line, width, line), BAR)
        if plain:
            painter.setPen(QPen(PLAIN, 4))
            painter.drawRect(QRectF(2, 2, width - 4, height - 4))
        if self.selected:
            painter.setPen(QPen(SELECTED, 2))
            painter.drawRect(QRectF(1, 1, width - 2, height - 2))

        centred = Qt.AlignmentFlag.AlignCenter
        left = Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft
        for item in placed:
            role, rect = item.role, item.rect
            if role is Role.LOCK:
                _draw_lock(painter, rect, colour, locked=not plain)
            elif role is Role.NAME:
                painter.setPen(QColor("white"))
                painter.drawText(rect, left, item.text)
            elif role is Role.SUITE:
                painter.setPen(colour.lighter(160) if not plain else WARNING)
                painter.drawText(rect, left, item.text)
            elif role is Role.ATTEMPTS:
                _badge(painter, rect)
                painter.setPen(WARNING)
                painter.drawText(rect, centred, item.text)
            elif role is Role.SETTINGS:
                _badge(painter, rect)
                painter.setPen(QColor("white"))
                text_box = rect.adjusted(BADGE_PAD, 0, 0, 0)
                painter.drawText(text_box, left, item.text)
                if item.mark:
                    painter.setPen(ADAPTED)
                    text_box.setLeft(text_box.left() + item.mark_at)
                    painter.drawText(text_box, left, item.mark)
            elif role is Role.VIEWERS:
                painter.setPen(WATCHED)
                painter.drawText(rect, left, item.text)
            elif role is Role.NUMBERS:
                painter.setPen(QColor("white"))
                painter.drawText(rect, left, item.text)
            elif role is Role.PLATE:
                if self.current is not None:  # readable over the last frame
                    painter.setPen(Qt.PenStyle.NoPen)
                    painter.setBrush(BAR)
                    painter.drawRoundedRect(rect, 6, 6)
                    painter.setBrush(Qt.BrushStyle.NoBrush)
                rejected = info.state is DeviceState.REJECTED
                painter.setPen(REJECTED.lighter(150) if rejected else QColor("#ddd"))
                painter.drawText(
                    rect.adjusted(PLATE_PAD_X, PLATE_PAD_Y, -PLATE_PAD_X, -PLATE_PAD_Y),
                    int(centred | Qt.TextFlag.TextWordWrap),
                    item.text,
                )


def _badge(painter: QPainter, rect: QRectF) -> None:
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(BAR)
    painter.drawRoundedRect(rect, 4, 4)
    painter.setBrush(Qt.BrushStyle.NoBrush)


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
