"""A bench-only database API whose one table has millions of rows computed on the fly.

The reference server keeps every record's bytes (a 10,000,000-row table would cost gigabytes
and minutes to generate); a key scan only needs ids. This server holds nothing: record ``i`` is
``{"id": i, "updated_at": T, "name": "item i"}``, computed when a page asks for it. It speaks
the reference server's API as far as dbsync's demo config reads it (database list, schema,
``/v1/resource`` with ``offset``/``limit``/``updated_since``/``fields``), so the same config
syncs it:

* ids 1..``--rows``, but with ``--missing-every M`` every id with ``id % M == --missing-at`` is
  gone (deleted without a tombstone, as most real APIs delete), so a key scan has deletes to find;
* every record's ``updated_at`` is ``BASE`` except the last id's, which is ``LAST`` (a day
  later): after a run over few rows the cursor is ``LAST``, and a later run over millions of rows
  asks ``updated_since=LAST`` and gets one record, not millions (nothing changed but the table
  grew, which is what the bench seeds into the destination by SQL);
* ``fields=id`` pages are formatted from the ids (``{"id":1},{"id":2},...``), the others are
  full records or the named fields;
* ``GET /admin/stats`` answers ``{"requests": n, "bytes": b}`` (records requests and their body
  bytes since start or the last ``DELETE /admin/stats``).

Run by ``bench/bench_deletes.py``; by hand::

    .venv/bin/python bench/keyserver.py --rows 10000000 --missing-every 1000
    # prints: key server listening on http://127.0.0.1:PORT

It binds 127.0.0.1 on an ephemeral port and ends with the process that started it (and on
SIGTERM).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from datetime import datetime
from typing import Any, Dict, Iterator, List, Optional, Tuple
from urllib.parse import parse_qsl

import orjson

LISTENING = "key server listening on "
DATABASE = "keys"
TABLE = "items"
BASE = "2024-01-01T00:00:00Z"
LAST = "2024-01-02T00:00:00Z"
FIELDS = ("id", "updated_at", "name")
_JSON = (b"content-type", b"application/json")


def _instant(text: str) -> Optional[float]:
    try:
        value = datetime.fromisoformat(text.replace(" ", "+"))
    except ValueError:
        return None
    return value.timestamp() if value.tzinfo is not None else None


class KeyTable:
    """Ids 1..rows minus the missing ones, as offset pages, without storing any of them."""

    def __init__(self, rows: int, missing_every: int = 0, missing_at: int = 7):
        if missing_every == 1 or missing_every < 0 or rows < 1:
            raise ValueError("rows must be >= 1 and missing_every 0 (none missing) or >= 2")
        self.rows = rows
        self.every = missing_every
        self.at = missing_at % missing_every if missing_every else 0
        self.live = rows - self.missing_count()

    def missing(self, i: int) -> bool:
        return bool(self.every) and i % self.every == self.at

    def missing_count(self) -> int:
        """How many of 1..rows are gone."""
        if not self.every:
            return 0
        first = self.at if self.at >= 1 else self.every  # the smallest positive missing id
        return 0 if first > self.rows else (self.rows - first) // self.every + 1

    def id_at(self, offset: int) -> int:
        """The id of the live record at ``offset`` (0-based, by id)."""
        if not self.every:
            return offset + 1
        per_block = self.every - 1  # live ids per block of ``every`` consecutive ids
        block, rest = divmod(offset, per_block)
        start = block * self.every  # ids start+1 .. start+every, one of them missing
        candidate = start + 1 + rest
        if candidate >= start + (self.at or self.every):  # at or past the missing one
            candidate += 1
        return candidate

    def ids(self, offset: int, limit: int) -> Iterator[int]:
        if offset >= self.live:
            return
        i = self.id_at(offset)
        count = 0
        while count < limit and i <= self.rows:
            if not self.missing(i):
                yield i
                count += 1
            i += 1

    def updated_at(self, i: int) -> str:
        return LAST if i == self.rows else BASE


class KeyServerApp:
    """Raw ASGI: four GET endpoints and the stats, nothing else."""

    def __init__(self, table: KeyTable, max_limit: int):
        self.table = table
        self.max_limit = max_limit
        self.requests = 0
        self.bytes = 0

    async def __call__(self, scope: Dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        query = dict(parse_qsl(scope["query_string"].decode(), keep_blank_values=True))
        if path == "/admin/stats":
            if method == "DELETE":
                self.requests = self.bytes = 0
            status, body = 200, orjson.dumps({"requests": self.requests, "bytes": self.bytes})
        else:
            status, body = self.answer(path, query)
            self.requests += 1
            self.bytes += len(body)
        await send({"type": "http.response.start", "status": status,
                    "headers": [_JSON, (b"content-length", b"%d" % len(body))]})
        await send({"type": "http.response.body", "body": body})

    def answer(self, path: str, query: Dict[str, str]) -> Tuple[int, bytes]:
        t = self.table
        if path == "/v1/databases":
            return 200, orjson.dumps({"data": [{"id": DATABASE, "name": "Key server"}], "total": 1,
                                      "offset": 0, "limit": 100})
        if path == f"/v1/databases/{DATABASE}/schema":
            fields = [{"name": "id", "type": "integer", "nullable": False},
                      {"name": "updated_at", "type": "datetime", "nullable": False},
                      {"name": "name", "type": "string", "nullable": False}]
            return 200, orjson.dumps({"database": DATABASE, "tables": [{
                "name": TABLE, "primary_key": "id", "cursor_field": "updated_at", "row_count": t.live,
                "fields": fields}]})
        if path != "/v1/resource":
            return _error(404, f"no such endpoint: {path}")
        if query.get("table", TABLE) != TABLE or query.get("database", DATABASE) != DATABASE:
            return _error(404, "no such table")
        try:
            offset = int(query.get("offset", "0"))
            limit = int(query.get("limit", "100"))
        except ValueError:
            return _error(400, "offset and limit must be integers")
        if offset < 0 or not 1 <= limit <= self.max_limit:
            return _error(400, f"offset must be >= 0 and limit between 1 and {self.max_limit}")
        names: Optional[List[str]] = None
        if "fields" in query:
            names = [n.strip() for n in query["fields"].split(",") if n.strip()]
            unknown = [n for n in names if n not in FIELDS]
            if unknown or not names:
                return _error(400, f"parameter 'fields': unknown field {unknown[0] if unknown else ''!r}")
        ids, total = self._listing(query, offset, limit)
        if ids is None:
            return _error(400, "parameter 'updated_since' must be an ISO 8601 date-time with a timezone")
        if names == ["id"]:
            rows = b",".join(b'{"id":%d}' % i for i in ids)
        else:
            rows = b",".join(self._record(i, names) for i in ids)
        return 200, b'{"data":[%b],"total":%d,"offset":%d,"limit":%d}' % (rows, total, offset, limit)

    def _listing(self, query: Dict[str, str], offset: int, limit: int) -> Tuple[Optional[List[int]], int]:
        """Ids of the page and the listing's total (``updated_at >= updated_since``)."""
        t = self.table
        since_text = query.get("updated_since")
        if since_text is None:
            return list(t.ids(offset, limit)), t.live
        since = _instant(since_text)
        if since is None:
            return None, 0
        if since <= _instant(BASE):  # type: ignore[operator]
            return list(t.ids(offset, limit)), t.live
        if since <= _instant(LAST) and not t.missing(t.rows):  # type: ignore[operator]
            return ([t.rows] if offset == 0 else []), 1
        return [], 0

    def _record(self, i: int, names: Optional[List[str]]) -> bytes:
        record = {"id": i, "updated_at": self.table.updated_at(i), "name": f"item {i}"}
        if names is not None:
            record = {k: v for k, v in record.items() if k in names}
        return orjson.dumps(record)


def _error(status: int, message: str) -> Tuple[int, bytes]:
    return status, orjson.dumps({"error": {"code": "bad_request" if status == 400 else "not_found",
                                           "message": message}})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--missing-every", type=int, default=0, help="every M-th id is gone (0: none)")
    parser.add_argument("--missing-at", type=int, default=7, help="the ids gone are those with id %% M == this")
    parser.add_argument("--max-limit", type=int, default=100_000)
    args = parser.parse_args()

    import uvicorn
    import uvloop

    from dbsync.parent_watch import exit_with_parent
    from dbsync.server.runner import bind_socket, base_url

    exit_with_parent(os.getppid())
    sock = bind_socket("127.0.0.1", 0)
    app = KeyServerApp(KeyTable(args.rows, args.missing_every, args.missing_at), args.max_limit)
    server = uvicorn.Server(uvicorn.Config(app, http="httptools", loop="uvloop", lifespan="off", access_log=False,
                                           log_level="warning", timeout_keep_alive=30))

    async def run() -> None:
        async def announce() -> None:
            while not server.started:
                await asyncio.sleep(0.01)
            print(LISTENING + base_url(sock), flush=True)

        task = asyncio.ensure_future(announce())
        await server.serve(sockets=[sock])
        task.cancel()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(run())
    sys.exit(0)


if __name__ == "__main__":
    main()
