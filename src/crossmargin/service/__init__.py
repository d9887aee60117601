"""The live risk service (``crossmargin serve``): a durable event log, the engine loop, an HTTP and WebSocket
API with scoped keys. See docs/service.md."""
