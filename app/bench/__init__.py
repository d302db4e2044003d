"""`python -m app.bench`: what SecureCam's protocol and receiver cost on this machine.

Two parts: per-frame CPU cost of the protocol core (no I/O; `core`), and the receiver's
throughput and latency on one core against a fleet of simulated cameras in another process
(`throughput`, with the camera side in `fleet`). `cli` runs both and prints the report.
"""
