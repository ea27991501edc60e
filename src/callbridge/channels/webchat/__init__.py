"""Web chat: the customer widget's conversations, their transcripts, and the agent side of them."""

from callbridge.channels.webchat.service import (
    ChatLimits,
    ChatMessage,
    ChatService,
    ChatSettings,
    Conversation,
    CustomerConnection,
    FormField,
)
from callbridge.channels.webchat.text import RateLimiter, clean_text

__all__ = [
    "ChatLimits",
    "ChatMessage",
    "ChatService",
    "ChatSettings",
    "Conversation",
    "CustomerConnection",
    "FormField",
    "RateLimiter",
    "clean_text",
]
