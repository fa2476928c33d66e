"""Model backends (Ollama today) and the errors they map to."""
