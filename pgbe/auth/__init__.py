"""Authentication and authorization: passwords, tokens, permissions, throttling."""
