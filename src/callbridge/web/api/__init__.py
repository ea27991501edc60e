"""Versioned REST API (v1)."""
