"""CRM connectors: one small protocol every CRM implements (see base.py)."""
