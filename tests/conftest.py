"""Shared pytest setup: the reference server fixtures come from dbsync's own pytest plugin."""

pytest_plugins = ["dbsync.server.pytest_plugin"]
