"""Callbridge: a contact center that lives inside the CRM."""
