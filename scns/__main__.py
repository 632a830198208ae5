"""``python -m scns`` runs the same entry point as the ``scns`` console script."""

from scns.cli.entry import main

main()
