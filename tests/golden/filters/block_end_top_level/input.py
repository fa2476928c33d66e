"""A tool."""

<|CURSOR|>
