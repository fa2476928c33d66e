"""``codehearth eval``: completion quality measured end to end on the user's own code.

:mod:`.tasks` builds line-completion tasks from a repository, :mod:`.runner` runs them
through ``codehearth serve`` over LSP under each condition and model, :mod:`.metrics`
scores each answer and :mod:`.report` keeps the results (resumable JSON lines) and sums
them up as a table or JSON.
"""
