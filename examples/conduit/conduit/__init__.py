"""Conduit: the RealWorld publishing API, declared with pgbe's generated resources only."""
