"""Real-time delivery: typed wire events with audiences, the per-connection hub, the WebSocket protocol."""
