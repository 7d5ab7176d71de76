"""Identity: staff and agent accounts, roles, API tokens, console sessions, access decisions."""
