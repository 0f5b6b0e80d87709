"""Git: bare mirrors per service and the worktree slots builds run in."""
