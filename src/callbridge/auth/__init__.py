"""Who is calling: local admins, agent sessions (created by SSO), tenant API keys, WebSocket tickets."""
