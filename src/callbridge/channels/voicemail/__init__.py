"""Voicemail: audio deposited by the telephony side becomes a voicemail interaction in a queue."""

from callbridge.channels.voicemail.audio import AudioKind, UnsupportedAudio, sniff_audio, wav_duration
from callbridge.channels.voicemail.service import Voicemail, VoicemailService, VoicemailTooLarge

__all__ = [
    "AudioKind",
    "UnsupportedAudio",
    "Voicemail",
    "VoicemailService",
    "VoicemailTooLarge",
    "sniff_audio",
    "wav_duration",
]
