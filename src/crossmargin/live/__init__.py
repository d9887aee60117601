"""The live layer: the one engine loop every path drives (replay, stress runs, the service), its typed
events for a durable log, and snapshots."""
