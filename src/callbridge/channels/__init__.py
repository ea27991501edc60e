"""Channels turn the outside world into interactions: telephony events, the chat widget, voicemail deposit."""
