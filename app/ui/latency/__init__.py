"""The latency dock's parts: one module per tab and one for export.

- `live`: capture → painted per camera over the last 30 s;
- `stages`: one camera's per-stage breakdown (rolling stacked bars and a table);
- `comparison`: plain-versus-encrypted runs (the dialog, the CDF and the summary table);
- `export`: the CSV of every timeline, and the PNG of the three tabs;
- `dock`: `LatencyDock`, which holds the tabs, redraws them on a timer and wires them to the
  services.

Every latency figure comes from `FrameTimeline`.
"""
