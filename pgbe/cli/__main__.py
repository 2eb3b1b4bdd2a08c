"""`python -m pgbe.cli`: the same as the `pgbe` command."""

from pgbe.cli.main import main

main()
