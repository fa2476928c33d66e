"""Chat with persistent memory: context-window assembly and the chat pipeline."""

from codehearth.chat.pipeline import ChatAnswer, ChatBackend, ChatSession, ToolOutcome
from codehearth.chat.window import Assembly, ContextOverflow, Section, assemble

__all__ = [
    "Assembly",
    "ChatAnswer",
    "ChatBackend",
    "ChatSession",
    "ContextOverflow",
    "Section",
    "ToolOutcome",
    "assemble",
]
