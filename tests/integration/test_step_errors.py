"""A failed dlt step is named as itself: an extract failure is no "destination refused the load"
(exit 14, not 12), and --debug shows where it was raised, dlt's frames included (issue 23).
And a value Arrow refuses to cast (text to time) never fails the run (issue 21)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import yaml

from dbsync import errors
from dbsync.server import ServerSettings
from support import assert_destination_equals_source, reference_config


@pytest.fixture
def server(server_factory, monkeypatch):
    srv = server_factory(ServerSettings(seed=4, databases=1, tables_per_database=1, rows_per_table=60))
    monkeypatch.setenv("SOURCES__DBSYNC__API_KEY", srv.api_key)
    return srv


def test_an_extract_failure_is_named_and_has_its_own_exit_code(server, workspace, monkeypatch):
    from dbsync.source import convert

    def broken(self, records, page):
        raise KeyError("a field dbsync did not expect")

    monkeypatch.setattr(convert.TableConverter, "convert", broken)
    with pytest.raises(errors.ExtractError) as info:
        workspace.sync(reference_config(server.base_url, performance={"processes": 0}))
    text = info.value.one_line()
    assert info.value.exit_code == 14 and "the extract step failed" in text and "KeyError" in text
    assert "destination" not in text.split("(")[0], text
    assert isinstance(info.value.original, BaseException)


def test_debug_shows_the_frames_where_a_step_failed(server, tmp_path):
    (tmp_path / "dbsync.yaml").write_text(yaml.safe_dump(reference_config(server.base_url,
                                                                          performance={"processes": 0})))
    script = textwrap.dedent("""
        import sys
        from dbsync.source import convert
        def broken(self, records, page):
            raise KeyError("a field dbsync did not expect")
        convert.TableConverter.convert = broken
        from dbsync.cli.app import main
        main(sys.argv[1:])
    """)
    common = ["run", "--no-progress", "--pipelines-dir", str(tmp_path / "p"), "--destination", str(tmp_path / "w.duckdb")]
    plain = subprocess.run([sys.executable, "-c", script, *common], cwd=tmp_path, capture_output=True, text=True)
    assert plain.returncode == 14, plain.stderr
    assert "Traceback" not in plain.stderr and "the extract step failed" in plain.stderr
    debug = subprocess.run([sys.executable, "-c", script, *common, "--debug"], cwd=tmp_path, capture_output=True,
                           text=True)
    assert debug.returncode == 14
    assert "in broken" in debug.stderr, "the frame that raised"
    assert "dlt/extract" in debug.stderr, "dlt's own frames"


def test_a_time_field_loads_as_time(server, workspace):
    server.add_field("acme", "orders", "opens_at", "string", declared_type="time", default="10:30:00")
    server.update("acme", "orders", 3, {"opens_at": "not a time"})
    result = workspace.sync(reference_config(server.base_url))
    assert result.ok, [t.error for t in result.failed]
    assert workspace.columns("acme__orders")["opens_at"][0] == "TIME"
    rows = {r["id"]: r for r in workspace.rows("acme__orders")}
    assert str(rows[1]["opens_at"]) == "10:30:00"
    assert rows[3]["opens_at"] is None and rows[3]["opens_at__v_text"] == "not a time"
    assert_destination_equals_source(workspace, server, types={"opens_at": "string"},
                                     unchecked={("acme", "orders", k): ["opens_at"] for k in rows})
