"""Use cases: the contact-center node that runs the domain, persists, and publishes after commit."""
