"""The tenant's ready-made texts for the agent console: wrap-up notes templates and chat quick replies.

Stored, and audited when saved, by the store (`callbridge.store.console_texts`); named here for the routes.
"""

from __future__ import annotations

from callbridge.store.console_texts import ConsoleTexts, read_console_texts, save_console_texts

__all__ = ["ConsoleTexts", "read_console_texts", "save_console_texts"]
