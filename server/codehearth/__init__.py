"""CodeHearth: a local-first AI language server (inline completions, code actions, chat)."""

__version__ = "0.1.0"
