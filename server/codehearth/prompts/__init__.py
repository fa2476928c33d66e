"""Prompt construction: FIM templates per model family, family detection and token budgets."""
