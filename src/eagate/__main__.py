"""`python -m eagate` is the `eagate` command."""

from eagate.cli import main

main()
