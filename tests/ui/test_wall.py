"""The camera wall's layouts and order, with real tiles offscreen."""

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt
from PySide6.QtGui import QDropEvent

from app.ui.tile import TILE_MIME
from app.ui.wall import CameraWall, WallLayout, placements


def cells(wall: CameraWall) -> dict[str, tuple[int, int, int, int]]:
    grid = wall._grid
    out = {}
    for name, tile in wall.tiles.items():
        index = grid.indexOf(tile)
        out[name] = grid.getItemPosition(index)
    return out


def test_one_plus_n_gives_the_first_camera_four_cells_and_fills_around_it():
    assert placements(WallLayout.ONE_PLUS_N, 4) == [
        (0, 0, 2, 2),
        (0, 2, 1, 1),
        (1, 2, 1, 1),
        (2, 0, 1, 1),
    ]
    spots = placements(WallLayout.ONE_PLUS_N, 13)
    taken = {(r + dr, c + dc) for r, c, rs, cs in spots for dr in range(rs) for dc in range(cs)}
    assert len(taken) == 4 + 12  # no two tiles share a cell


@pytest.mark.parametrize(
    ("layout", "columns"),
    [(WallLayout.COLUMNS_2, 2), (WallLayout.COLUMNS_3, 3), (WallLayout.COLUMNS_4, 4)],
)
def test_a_chosen_grid_keeps_its_columns_whatever_the_count(layout, columns):
    assert max(c for _, c, _, _ in placements(layout, 9)) == columns - 1
    assert max(c for _, c, _, _ in placements(WallLayout.AUTO, 9)) == 2  # 3×3


def test_the_wall_places_its_tiles_in_the_layout_and_order_chosen(qtbot):
    wall = CameraWall()
    qtbot.addWidget(wall)
    wall.set_devices(["a", "b", "c"])
    changes = []
    wall.arrangementChanged.connect(lambda: changes.append(wall.layout_mode))
    wall.set_layout(WallLayout.ONE_PLUS_N)
    assert cells(wall)["a"] == (0, 0, 2, 2)
    wall.move_tile("c", before="a")  # dragged onto the large one: it takes its place
    assert wall.shown_order() == ["c", "a", "b"]
    assert cells(wall)["c"] == (0, 0, 2, 2)
    assert changes == [WallLayout.ONE_PLUS_N, WallLayout.ONE_PLUS_N]
    wall.set_devices(["a", "b", "c", "d"])  # a new camera goes last
    assert wall.shown_order() == ["c", "a", "b", "d"]


def test_dropping_a_tile_on_another_moves_it_there(qtbot):
    wall = CameraWall()
    qtbot.addWidget(wall)
    wall.resize(600, 400)
    wall.set_devices(["a", "b", "c", "d"])
    wall.show()
    qtbot.waitExposed(wall)
    target = wall.tiles["a"]
    data = QMimeData()
    data.setData(TILE_MIME, b"d")
    centre = QPointF(target.geometry().center())
    event = QDropEvent(
        centre, Qt.DropAction.MoveAction, data, Qt.MouseButton.LeftButton, Qt.KeyboardModifier(0)
    )
    wall.dropEvent(event)
    assert wall.shown_order() == ["d", "a", "b", "c"]


def test_the_layout_and_order_are_remembered_with_the_window(qloop, services, window, qtbot):
    from app.ui.main_window import MainWindow

    window.wall.set_devices(["a", "b"])
    window.layout_actions[WallLayout.COLUMNS_3].trigger()
    window.wall.move_tile("b", before="a")
    again = MainWindow(services)
    qtbot.addWidget(again)
    assert again.wall.layout_mode is WallLayout.COLUMNS_3
    assert again.layout_actions[WallLayout.COLUMNS_3].isChecked()
    assert again.wall.order == ["b", "a"]
