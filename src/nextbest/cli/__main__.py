"""``python -m nextbest.cli`` runs the command line."""

from nextbest.cli import main

main()
