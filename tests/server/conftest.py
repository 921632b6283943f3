"""Helpers for the reference server tests: a tiny HTTP client bound to one server."""

from __future__ import annotations

from typing import Any, Dict, Iterator, List, Optional

import orjson
import pytest
import requests

from dbsync.server import ReferenceServer


class Api:
    """GET requests against one server with its full-access key (override with api_key=...)."""

    def __init__(self, server: ReferenceServer):
        self.server = server
        self.session = requests.Session()

    def get(self, path: str, *, api_key: Optional[str] = "default", timeout: float = 10, **params: Any
            ) -> requests.Response:
        if api_key == "default":
            api_key = self.server.api_key
        if api_key is not None:
            params["api_key"] = api_key
        return self.session.get(self.server.base_url + path, params=params, timeout=timeout)

    def json(self, path: str, **params: Any) -> Any:
        response = self.get(path, **params)
        assert response.status_code == 200, response.text
        return orjson.loads(response.content)

    def all_pages(self, limit: int = 100, **params: Any) -> List[Dict[str, Any]]:
        """Every record of a /v1/resource query, paged by offset."""
        out: List[Dict[str, Any]] = []
        offset = 0
        while True:
            page = self.json("/v1/resource", offset=offset, limit=limit, **params)
            out.extend(page["data"])
            offset += limit
            if offset >= page["total"]:
                return out

    def close(self) -> None:
        self.session.close()


@pytest.fixture
def api(reference_server: ReferenceServer) -> Iterator[Api]:
    """Client for the shared, read-only server."""
    client = Api(reference_server)
    yield client
    client.close()


@pytest.fixture
def make_api() -> Iterator[Any]:
    """Client factory for servers a test started itself."""
    clients: List[Api] = []

    def make(server: ReferenceServer) -> Api:
        clients.append(Api(server))
        return clients[-1]

    yield make
    for client in clients:
        client.close()
