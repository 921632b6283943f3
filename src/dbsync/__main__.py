"""``python -m dbsync`` is the ``dbsync`` command."""

from dbsync.cli.app import main

if __name__ == "__main__":
    main()
