"""``python -m dmkit`` runs the command line (same as the ``dmkit`` console script)."""
from dmkit.cli import main

if __name__ == "__main__":
    main()
