"""Workspace index: tree-sitter chunks per definition, retrieval and context compression.

Domain package: never imports pygls.
"""
