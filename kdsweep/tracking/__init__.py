"""Tracking: MLflow as the record of every sweep (a parent run per sweep, a child run per run).

`store` picks and checks the store, `sweep` is the driver's side (experiment, parent, children,
the sweep lock), `logger` the worker's side (the engine's RunLogger, system metrics), `status`
and `ui` read what was written. Tag, param and artifact names shared with the report live in
`names`. Nothing here imports MLflow until it is used, so `kdsweep plan` stays fast.
"""
