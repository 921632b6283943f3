"""More paging shapes, against the reference server configured like the real APIs that use them,
synced by real dlt into real DuckDB files and compared with the server's data by key and value:

- the next page's URL in a header of its own (Kinto's ``Next-Page``), absolute or relative, read
  by the ``header_next_url`` paginator; a key the server echoes into that URL is written nowhere;
- the total in a response header the config names (``Total-Records``, PostgREST's
  ``Content-Range: 0-99/260``), read from the first page or from a ``HEAD`` request, so offset
  pages are fetched concurrently (the server's request log shows them in flight together);
- an estimated header total still loads every row.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import uuid

import pytest
import yaml

from dbsync.server import FaultSettings, ServerSettings
from support import is_count_request, PAST_THE_END, assert_destination_equals_source, most_in_flight, reference_config

ROWS = 260
TABLE = "acme__orders"
SLOW = 0.3  # seconds every page answer is held back: pages fetched concurrently overlap by about this


@pytest.fixture
def serve(server_factory, monkeypatch):
    def start(rows: int = ROWS, key: str = None, **options):
        settings = ServerSettings(seed=5, databases=1, tables_per_database=1, default_table_rows=rows,
                                  **({"api_keys": {key: None}} if key else {}), **options)
        server = server_factory(settings)
        monkeypatch.setenv("SOURCES__DBSYNC__API_KEY", server.api_key if key is None else key)
        return server
    return start


def resource_requests(server, method=None):
    return [r for r in server.requests() if r.path == "/v1/resource" and (method is None or r.method == method)]


def config_with(server, paginator, **params):
    config = reference_config(server.base_url)
    endpoint = config["resources"][0]["endpoint"]
    endpoint["paginator"] = paginator
    endpoint["params"].update(params)
    return config


def assert_equal_to_source(workspace, server):
    assert assert_destination_equals_source(workspace, server) == len(server.records("acme", "orders"))


# -- the next page's URL in a header of its own ---------------------------------------------------------

@pytest.mark.parametrize("relative", [False, True], ids=["absolute URL", "relative URL"])
def test_header_next_url_reads_every_page(serve, workspace, relative):
    server = serve(next_page_header="Next-Page", next_page_relative=relative, total_in_body=False)
    config = config_with(server, {"type": "header_next_url", "header": "Next-Page"}, limit=50)
    result = workspace.sync(config)
    assert result.ok, [t.error for t in result.failed]
    assert result.report.tables[TABLE].warnings == []
    assert_equal_to_source(workspace, server)
    pages = resource_requests(server)
    assert len(pages) == math.ceil(ROWS / 50)  # 6 pages, each once
    # the URL's own query string replaced the params: every page asked for the next offset
    assert sorted(int(dict(p.split("=", 1) for p in r.query.split("&")).get("offset", 0)) for r in pages) == \
        list(range(0, ROWS, 50))

    # changes: the incremental filter travels in the next-page URLs too
    for record_id in (3, 120, 259):
        server.update("acme", "orders", record_id, {"quantity": 4242})
    server.delete("acme", "orders", 77)
    server.clear_requests()
    again = workspace.sync(config)
    assert again.ok and again.report.tables[TABLE].mode == "incremental"
    assert again.report.tables[TABLE].rows == 3
    assert_equal_to_source(workspace, server)
    assert all("updated_since=" in r.query for r in resource_requests(server))


def test_header_next_url_with_a_total_header_is_complete(serve, workspace):
    """The Total-Records every page announces agrees with what header_next_url read: no failure,
    no warning (header_link, which reads only Link, fails here: test_paging_completeness)."""
    server = serve(next_page_header="Next-Page", total_in_body=False, total_header="Total-Records")
    good = workspace.sync(config_with(server, {"type": "header_next_url", "header": "Next-Page"}, limit=100))
    assert good.ok and good.report.tables[TABLE].warnings == []
    assert_equal_to_source(workspace, server)


def test_a_key_echoed_into_the_next_page_url_is_written_nowhere(serve, tmp_path):
    secret = f"sk-dbsync-{uuid.uuid4().hex}"
    server = serve(key=secret, next_page_header="Next-Page", next_page_with_key=True, total_in_body=False)
    config = config_with(server, {"type": "header_next_url", "header": "Next-Page"}, limit=60)
    (tmp_path / "dbsync.yaml").write_text(yaml.safe_dump(config))
    env = dict(os.environ, SOURCES__DBSYNC__API_KEY=secret, RUNTIME__DLTHUB_TELEMETRY="false")
    env.pop("SOURCES__DBSYNC__BASE_URL", None)
    warehouse = tmp_path / "warehouse.duckdb"
    done = subprocess.run([sys.executable, "-m", "dbsync", "run", "--debug", "--no-progress",
                           "--pipelines-dir", str(tmp_path / "pipelines"), "--destination", str(warehouse),
                           "-c", str(tmp_path / "dbsync.yaml")],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    # the server did put the key into its next-page URLs, and the client followed them
    assert any(r.query.count("api_key=") >= 1 and "offset=60" in r.query for r in resource_requests(server))
    assert len(resource_requests(server)) == math.ceil(ROWS / 60)
    assert assert_destination_equals_source(warehouse, server, dataset="reference") == ROWS
    from urllib.parse import quote

    needles = {secret, quote(secret, safe="")}
    hits = [name for name, text in (("stdout", done.stdout), ("stderr", done.stderr)) if any(n in text for n in needles)]
    for path in tmp_path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            hits += [str(path) for n in needles if n.encode() in data]
    assert done.stdout + done.stderr, "the run printed something to search"
    assert hits == [], f"the API key was written to: {hits}"


# -- the total in a header: offset pages fetched concurrently ---------------------------------------------

SLOW_PAGES = FaultSettings(slow_rate=1.0, slow_seconds=SLOW, fault_paths=("/v1/resource",))


def offset_config(server, total, limit=40):
    paginator = {"type": "offset", "limit": limit, "total_path": None}
    if total is not None:
        paginator["total"] = total
    return config_with(server, paginator)


@pytest.mark.parametrize("header,total", [
    ("Content-Range", {"header": "Content-Range"}),             # PostgREST: 0-39/260
    ("Items-Total", {"header": "Items-Total"}),                 # a name no list of known headers has
    ("Total-Records", {"header": "Total-Records", "method": "HEAD"}),  # Kinto: a HEAD tells the count
])
def test_a_header_total_makes_offset_pages_concurrent(serve, workspace, header, total):
    head_only = total.get("method") == "HEAD"
    server = serve(total_in_body=False, total_header=header, faults=SLOW_PAGES,
                   **({"total_header_methods": ("HEAD",)} if head_only else {}))
    config = offset_config(server, total)
    result = workspace.sync(config)
    assert result.ok, [t.error for t in result.failed]
    assert result.report.tables[TABLE].warnings == []
    assert_equal_to_source(workspace, server)
    gets = resource_requests(server, "GET")
    assert len(gets) == math.ceil((ROWS - 1) / 39)  # overlapping pages of 40 (cursor order), none past the end
    assert len(resource_requests(server, "HEAD")) == (1 if head_only else 0)
    assert most_in_flight(gets, SLOW / 2) >= 3, "the pages after the first were fetched concurrently"

    # an incremental run: the total (of HEAD, too) is the filtered listing's
    for record_id in range(1, 120, 2):
        server.update("acme", "orders", record_id, {"quantity": 4242})
    server.clear_requests()
    again = workspace.sync(config)
    assert again.ok and again.report.tables[TABLE].mode == "incremental"
    assert again.report.tables[TABLE].warnings == []
    assert_equal_to_source(workspace, server)
    # one more request for the table's count without the filter (the proof of sync): HEAD too
    counts = [r for r in resource_requests(server) if is_count_request(r)]
    assert len(counts) == 1 and counts[0].method == ("HEAD" if head_only else "GET")
    assert len(resource_requests(server, "HEAD")) == (2 if head_only else 0)
    assert all("updated_since=" in r.query for r in resource_requests(server) if r not in counts)
    assert again.report.tables[TABLE].check.status == "verified"


def test_without_the_total_key_the_same_api_is_paged_one_page_at_a_time(serve, workspace):
    """The control: a total only in a header no list knows, and no ``total`` key: sequential."""
    server = serve(total_in_body=False, total_header="Items-Total", faults=SLOW_PAGES)
    config = offset_config(server, None)
    config["resources"][0]["endpoint"]["paginator"]["stop_after_empty_page"] = True
    result = workspace.sync(config)
    assert result.ok, [t.error for t in result.failed]
    assert_equal_to_source(workspace, server)
    assert most_in_flight(resource_requests(server, "GET"), SLOW / 2) == 1


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("bias", [-50, -260, 2000])  # 2000: 58 pages announced, more than the bound below
def test_an_estimated_header_total_stays_complete(serve, workspace, method, bias):
    """A planner's estimate in the header (too low, "0", too high): every row arrives, no failure."""
    server = serve(total_in_body=False, total_header="Content-Range", total_bias=bias,
                   **({"total_header_methods": ("HEAD",)} if method == "HEAD" else {}))
    config = offset_config(server, {"header": "Content-Range", "method": method})
    result = workspace.sync(config)
    assert result.ok, [t.error for t in result.failed]
    assert result.report.tables[TABLE].warnings == []
    assert_equal_to_source(workspace, server)
    # bounded: pages past the real end come back empty and end the plan
    assert len(resource_requests(server, "GET")) <= math.ceil(ROWS / 39) + 1 + PAST_THE_END
    # an incremental run whose total is off by the same bias (e.g. a count that ignores the filter)
    for record_id in (5, 140, 250):
        server.update("acme", "orders", record_id, {"quantity": 4242})
    server.clear_requests()
    again = workspace.sync(config)
    assert again.ok, [t.error for t in again.failed]
    assert again.report.tables[TABLE].mode == "incremental" and again.report.tables[TABLE].warnings == []
    assert_equal_to_source(workspace, server)
    assert len(resource_requests(server, "GET")) <= 2 + PAST_THE_END


def test_a_server_that_refuses_head_is_paged_one_page_at_a_time(serve, workspace, caplog):
    server = serve(total_in_body=False, total_header="Total-Records", total_header_methods=("HEAD",))
    server.fail_next(1, kind="status", status=405, path_prefix="/v1/resource")
    result = workspace.sync(offset_config(server, {"header": "Total-Records", "method": "HEAD"}))
    assert result.ok, [t.error for t in result.failed]
    assert_equal_to_source(workspace, server)
    assert "refused the HEAD request" in caplog.text


def test_a_next_page_on_another_host_is_not_followed(serve, server_factory, workspace):
    """A next-page link to another origin would carry the credentials there: the table fails
    naming both hosts, and the other server sees no request at all (no key sent to it)."""
    other = server_factory(ServerSettings(seed=5, databases=1, tables_per_database=1, default_table_rows=10))
    server = serve(next_page_header="Next-Page", next_page_base=other.base_url, total_in_body=False)
    other.clear_requests()
    result = workspace.sync(config_with(server, {"type": "header_next_url", "header": "Next-Page"}, limit=100))
    assert not result.ok
    error = result.report.tables[TABLE].error
    assert error.exit_code == 8 and "another host" in error.one_line()
    assert f"127.0.0.1:{other.port}" in error.one_line()
    assert other.requests() == []
    assert len(resource_requests(server)) == 1  # page 1 only
