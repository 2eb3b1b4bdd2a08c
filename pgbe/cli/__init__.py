"""The `pgbe` command line."""
