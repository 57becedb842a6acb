"""``/metrics``: the server's numbers for Prometheus, in a registry each server owns
(:func:`~callbridge.metrics.server.server_registry`)."""
