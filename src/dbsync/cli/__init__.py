"""The thin ``dbsync`` command line: parse options, call the library, print results."""
