"""Finding text that needs more room than its widget has (no elision, no overlap)."""

from PySide6.QtWidgets import QAbstractButton, QLabel, QWidget

SLACK = 1  # pixels: rounding in Qt's own size hints


def clipped_text(root: QWidget) -> list[str]:
    """Every visible label and button under `root` whose text does not fit: a wrapped label
    shorter than its text's height at its width, or anything smaller than its size hint."""
    problems = []
    for widget in [root, *root.findChildren(QWidget)]:
        if not widget.isVisible() or not isinstance(widget, QLabel | QAbstractButton):
            continue
        text = widget.text()
        if not text:
            continue
        if isinstance(widget, QLabel) and widget.wordWrap():
            need = widget.heightForWidth(widget.width())
            if need > widget.height() + SLACK:
                problems.append(f"{text[:60]!r}: {need} px high needed, {widget.height()} given")
            continue
        hint = widget.sizeHint()
        if hint.width() > widget.width() + SLACK or hint.height() > widget.height() + SLACK:
            problems.append(
                f"{text[:60]!r}: {hint.width()}×{hint.height()} needed, "
                f"{widget.width()}×{widget.height()} given"
            )
    return problems
