"""Finding text that needs more room than its widget has (no elision, no overlap).

`clipped_text(root)` walks every visible text widget under `root` and says, one line each,
where its text does not fit:
- a label or button smaller than its size hint (a wrapped label: shorter than its text's
  height at its width, or narrower than its longest word);
- a combo box, read-only line edit, tab or group box title cut (Qt elides or scrolls them);
- a table or tree column narrower than its header's text or its widest cell;
- a text widget that sticks out of its parent (other than a scroll area's contents, which
  scroll), so its parent cuts it;
- two sibling text widgets whose visible rectangles intersect.

`in_both_themes(root)` runs the walk in the light and in the dark theme (the theme changes
style sheets and palettes, which can change metrics), and leaves the light theme on. Both
are safe inside coroutines on the qasync loop: call `settle()` after changing what a widget
shows, never QApplication.processEvents() or qtbot.wait*, which re-enter the loop.
"""

from __future__ import annotations

from itertools import combinations

from PySide6 import QtGui
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractScrollArea,
    QApplication,
    QComboBox,
    QGroupBox,
    QLabel,
    QLineEdit,
    QStyle,
    QStyleOptionComboBox,
    QTabBar,
    QTableView,
    QTreeView,
    QWidget,
)

from app.ui.theme import Theme, apply_theme

SLACK = 1  # pixels: rounding in Qt's own size hints
TEXT_WIDGETS = (QLabel, QAbstractButton, QComboBox, QLineEdit, QGroupBox, QTabBar)


def describe(widget: QWidget) -> str:
    text = _text(widget).replace("\n", " ")
    name = type(widget).__name__
    return f"{name} {text[:60]!r}" if text else name


def clipped_text(root: QWidget) -> list[str]:
    """Every visible text widget under `root` (itself included) whose text is cut."""
    problems: list[str] = []
    widgets = [w for w in [root, *root.findChildren(QWidget)] if _shown(w)]
    for widget in widgets:
        if not isinstance(widget, TEXT_WIDGETS) or not _text(widget):
            continue
        problem = _cut(widget)
        if problem is not None:
            problems.append(f"{describe(widget)}: {problem}")
            continue
        outside = _outside(widget, root)
        if outside is not None:
            problems.append(f"{describe(widget)}: {outside}")
    problems += overlapping(widgets)
    for view in widgets:
        if isinstance(view, QTableView | QTreeView):
            problems += [f"{type(view).__name__}: {p}" for p in _cells_cut(view)]
    return problems


def in_both_themes(root: QWidget) -> list[str]:
    """`clipped_text(root)` in the light theme, then the dark one; back to light after."""
    found: list[str] = []
    try:
        for theme in (Theme.LIGHT, Theme.DARK):
            apply_theme(theme)
            settle()
            found += [f"{theme.value}: {problem}" for problem in clipped_text(root)]
    finally:
        apply_theme(Theme.LIGHT)
        settle()
    return found


def settle() -> None:
    """Deliver the posted events (polish, layout requests, resizes) so every widget has its
    final geometry. Unlike processEvents it runs no timers or socket callbacks, so it is safe
    inside a coroutine on the qasync loop (which must not be re-entered)."""
    for _ in range(3):  # a layout pass may post more requests
        QApplication.sendPostedEvents()


def overlapping(widgets: list[QWidget]) -> list[str]:
    """Pairs of visible sibling text widgets whose visible rectangles intersect."""
    by_parent: dict[int, list[QWidget]] = {}
    for widget in widgets:
        parent = widget.parentWidget()
        if parent is not None and isinstance(widget, TEXT_WIDGETS) and _text(widget):
            by_parent.setdefault(id(parent), []).append(widget)
    problems = []
    for siblings in by_parent.values():
        for a, b in combinations(siblings, 2):
            shared = _visible(a).intersected(_visible(b))
            if not shared.isEmpty():
                problems.append(
                    f"{describe(a)} and {describe(b)} overlap by {shared.width()}×{shared.height()}"
                )
    return problems


def _text(widget: QWidget) -> str:
    if isinstance(widget, QLabel | QAbstractButton | QLineEdit):
        return widget.text()
    if isinstance(widget, QComboBox):
        return widget.currentText()
    if isinstance(widget, QGroupBox):
        return widget.title()
    if isinstance(widget, QTabBar):
        return " | ".join(widget.tabText(i) for i in range(widget.count()))
    return ""


def _cut(widget: QWidget) -> str | None:
    """Why `widget`'s own text does not fit it, or None."""
    if isinstance(widget, QLabel):
        return _label_cut(widget)
    if isinstance(widget, QAbstractButton):
        return _size_cut(widget)
    if isinstance(widget, QComboBox):
        return _combo_cut(widget)
    if isinstance(widget, QLineEdit):
        if not widget.isReadOnly():
            return None  # the user's own typing scrolls, as in any edit
        need = widget.fontMetrics().horizontalAdvance(widget.text())
        margins = widget.textMargins()
        room = widget.contentsRect().width() - margins.left() - margins.right() - 4
        return f"{need} px wide needed, {room} given" if need > room + SLACK else None
    if isinstance(widget, QGroupBox):
        need = widget.minimumSizeHint().width()
        return f"{need} px wide needed, {widget.width()} given" if need > widget.width() else None
    if isinstance(widget, QTabBar):
        for index in range(widget.count()):
            if not widget.isTabVisible(index):
                continue
            need, got = widget.tabSizeHint(index), widget.tabRect(index)
            if need.width() > got.width() + SLACK:
                return f"tab {widget.tabText(index)!r} {need.width()} px needed, {got.width()}"
    return None


def _cells_cut(view: QTableView | QTreeView) -> list[str]:
    """Columns narrower than their header's text or their widest cell (Qt elides them)."""
    model = view.model()
    header = view.horizontalHeader() if isinstance(view, QTableView) else view.header()
    problems = []
    for column in range(model.columnCount()):
        if header.isSectionHidden(column):
            continue
        title = str(model.headerData(column, Qt.Orientation.Horizontal) or "")
        got = header.sectionSize(column)
        if not header.isHidden() and header.sectionSizeHint(column) > got + SLACK:
            problems.append(
                f"header {title!r}: {header.sectionSizeHint(column)} px needed, {got} given"
            )
        if model.rowCount() and view.sizeHintForColumn(column) > got + SLACK:
            problems.append(
                f"column {title!r}: {view.sizeHintForColumn(column)} px needed, {got} given"
            )
    return problems


def _label_cut(label: QLabel) -> str | None:
    if label.wordWrap():
        need = label.heightForWidth(label.width())
        if need > label.height() + SLACK:
            return f"{need} px high needed, {label.height()} given"
        if not _rich(label):
            words = label.text().split()
            longest = max(words, key=label.fontMetrics().horizontalAdvance, default="")
            word = label.fontMetrics().horizontalAdvance(longest)
            room = label.contentsRect().width() - 2 * label.margin() - 2 * max(label.indent(), 0)
            if word > room + SLACK:
                return f"its word {longest!r} needs {word} px, {room} given"
        return None
    return _size_cut(label)


def _rich(label: QLabel) -> bool:
    text_format = label.textFormat()
    if text_format == Qt.TextFormat.AutoText:
        return QtGui.Qt.mightBeRichText(label.text())
    return text_format == Qt.TextFormat.RichText


def _size_cut(widget: QWidget) -> str | None:
    hint = widget.sizeHint()
    if hint.width() > widget.width() + SLACK or hint.height() > widget.height() + SLACK:
        return f"{hint.width()}×{hint.height()} needed, {widget.width()}×{widget.height()} given"
    return None


def _combo_cut(combo: QComboBox) -> str | None:
    option = QStyleOptionComboBox()
    combo.initStyleOption(option)
    field = combo.style().subControlRect(
        QStyle.ComplexControl.CC_ComboBox, option, QStyle.SubControl.SC_ComboBoxEditField, combo
    )
    need = combo.fontMetrics().horizontalAdvance(combo.currentText())
    if not combo.itemIcon(combo.currentIndex()).isNull():
        need += combo.iconSize().width() + 4
    if combo.isEditable():
        need += 4  # the line edit's own margins
    if need > field.width() + SLACK:
        return f"{need} px wide needed, {field.width()} given"
    return None


def _outside(widget: QWidget, root: QWidget) -> str | None:
    """Where an ancestor (up to `root`) cuts `widget` off, or None. A scroll area's contents
    may be larger than it: they scroll."""
    child = widget
    while child is not root:
        parent = child.parentWidget()
        if parent is None:
            return None
        scrolls = isinstance(parent.parentWidget(), QAbstractScrollArea) and (
            parent is parent.parentWidget().viewport()  # type: ignore[union-attr]
        )
        if not scrolls and not parent.rect().contains(child.geometry()):
            return (
                f"{type(child).__name__} at {_rect(child.geometry())} sticks out of its "
                f"{type(parent).__name__} ({parent.width()}×{parent.height()})"
            )
        child = parent
    return None


def _shown(widget: QWidget) -> bool:
    """Visible, and some of it inside every ancestor (Qt keeps a dock tabbed away, or a
    page not current, visible but out of sight)."""
    if not widget.isVisible():
        return False
    window = widget.window()
    area = QRect(widget.mapTo(window, QPoint(0, 0)), widget.size())
    ancestor = widget.parentWidget()
    while ancestor is not None and not area.isEmpty():
        area = area.intersected(QRect(ancestor.mapTo(window, QPoint(0, 0)), ancestor.size()))
        if ancestor is window:
            break
        ancestor = ancestor.parentWidget()
    return not area.isEmpty()


def _visible(widget: QWidget) -> QRect:
    """`widget`'s rectangle in its parent, cut to what its parent shows."""
    parent = widget.parentWidget()
    assert parent is not None
    return widget.geometry().intersected(parent.rect())


def _rect(rect: QRect) -> str:
    return f"{rect.x()},{rect.y()} {rect.width()}×{rect.height()}"
