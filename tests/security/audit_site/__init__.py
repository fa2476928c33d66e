"""Loaded into Python subprocesses of the test suite (via ``PYTHONPATH``) to audit them."""
