"""The carrier trunk's digest credentials: both or neither, the password never shown."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from callbridge.channels.sip import trunk_credentials
from callbridge.config import Settings

DB = "sqlite://"


def test_the_trunk_credentials_go_together_and_the_password_is_never_shown() -> None:
    with pytest.raises(ValidationError, match="CALLBRIDGE_VOICE_TRUNK_PASSWORD go together"):
        Settings(database_url=DB, voice_trunk_username="acct-7")
    with pytest.raises(ValidationError, match="CALLBRIDGE_VOICE_TRUNK_PASSWORD go together"):
        Settings(database_url=DB, voice_trunk_password="s3cret-Pa55")
    with pytest.raises(ValidationError, match="voice_trunk_username"):
        Settings(database_url=DB, voice_trunk_username='acct "7"', voice_trunk_password="s3cret-Pa55")
    settings = Settings(database_url=DB, voice_trunk_username="acct-7", voice_trunk_password="s3cret-Pa55")
    assert trunk_credentials(settings) == ("acct-7", "s3cret-Pa55")
    assert "s3cret" not in repr(settings)
    assert "s3cret" not in str(settings.model_dump())
    assert trunk_credentials(Settings(database_url=DB)) is None
