"""Live beach cameras: camera profiles (``profiles``), the per-camera analysis loop (``camera``, ``clips``,
``events``), the hosts that run cameras in this process or on Ray workers (``host``), and the watcher that owns
the state (``state``), the alerts (``alerts``), the metrics and health endpoints (``metrics``) and the published
results (``watch``)."""
