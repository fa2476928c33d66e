"""Verified code actions: edit safety, verifiers and the draft-verify-refine loop."""
