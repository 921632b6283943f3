"""The reference database API server: the API dbsync syncs from, generated and served locally.

Users run it for demos and to test their configs (``dbsync serve``); tests start it from
Python (:class:`ReferenceServer`, or the ``reference_server``/``server_factory`` pytest
fixtures) and steer it through the admin API: change data and schema, inject faults,
read the request log. See docs/reference-server.md.

Modules, one job each: ``settings`` (what to serve), ``datagen`` (deterministic rows),
``table``/``store``/``pagecache`` (data and pages), ``faults``/``ratelimit``/``requestlog``
(misbehaviour and observation), ``api``/``admin``/``app`` (HTTP), ``runner`` (uvicorn),
``handle`` (the Python handle), ``pytest_plugin`` (fixtures).
"""

from dbsync.server.handle import AdminError, ReferenceServer
from dbsync.server.requestlog import RequestLogEntry
from dbsync.server.settings import FaultSettings, ServerSettings

__all__ = ["AdminError", "FaultSettings", "ReferenceServer", "RequestLogEntry", "ServerSettings"]
