"""LSP feature modules: thin async handlers that delegate to the domain packages."""
