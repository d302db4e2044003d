"""The desktop app's window under N simulated cameras, offscreen: frames painted, drops, latency.

`python -m app.bench.gui --cameras N` measures one camera count in this process (`measure`): a
real `QApplication` on the offscreen platform with a qasync loop (as `app.ui.session` sets it up), a
throwaway config directory whose registry holds the cameras, the real `AppServices` and the real
`MainWindow` shown at a realistic size, first-run layout (latency dock visible, redrawing at
10 Hz). The cameras run in `python -m app.bench.fleet` (pre-rendered frames, Noise, pinned to
the other CPU), exactly as for the headless receiver benchmark. By default the app is pinned to
the first CPU, its UI thread and JPEG decode threads sharing it (`--gui-pin shared` lets it use
both CPUs, then alongside the cameras). After a warm-up a window is measured:

- counters are differenced across it: frames received (receiver stats), painted (sum of the
  tiles' `painted`), replaced while waiting for the decoder (`FrameDecoder.dropped`), replaced
  on a tile before it was painted (tile `unpainted`), decode failures, mailbox drops, and the
  frames the cameras had to skip because sending fell behind;
- every frame decrypted inside the window is followed, after a short settle, through the
  receiver's timeline ring: painted or not, and why not (never decoded / decoded, not painted);
- latencies come from the timelines painted inside the window (capture on the app's clock via
  the receiver's clock-sync estimate, and the true one from the cameras' boot times);
- the UI loop lag is `MainWindow.loop_lag_ms` read after every probe (100 ms timer), plus a
  finer 20 ms probe of the bench's own;
- CPU: process and UI (main) thread time over wall time, in % of one core, and the camera
  process's; garbage collector pauses.

A camera count "holds" with no frame lost (decrypted in the window, never painted), a
capture-to-painted p99 under 100 ms, every camera connected from start to end and the cameras
skipping at most 1% of their frames (a skip means a camera fell behind its schedule: a hiccup of
the simulator itself, or many of them, the app not reading its sockets).

The default 2 s warm-up measures a young process: the receiver's timeline rings (2048 frames per
camera) fill only after 82 s at 25 fps and the latency dock's plots after 30 s, and both add to
the garbage collector's and the redraws' work. `--warmup 90` measures the steady state.
`--attribute` also times the UI thread's main handlers (wrapped at class level in this process
only) and `--profile` writes a cProfile of the UI thread: both are for finding where its time
goes, and both perturb the figures a little (cProfile a lot).

`run_gui` (`orchestrate`, used by `python -m app.bench`) runs each camera count in a fresh
process, so no Qt state carries over and a crash costs one row, and collects the row each
prints. The section's targets and its part of the printed report are in `app.bench.report`.
"""

from __future__ import annotations

from app.bench.gui.measure import DEFAULT_CAMERAS, GuiSettings
from app.bench.gui.orchestrate import PIN_MODES, gui_cpus, run_gui

__all__ = ["DEFAULT_CAMERAS", "PIN_MODES", "GuiSettings", "gui_cpus", "run_gui"]
