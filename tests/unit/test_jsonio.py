"""JSON in and out without losing integers beyond 64 bits (orjson alone turns them into floats)."""

from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import given, strategies as st

from dbsync import jsonio


@pytest.mark.parametrize("number", [2 ** 70, -(2 ** 63) - 1, 2 ** 64, -(10 ** 30), 10 ** 40 + 7])
def test_integers_beyond_64_bits_keep_every_digit(number):
    body = b'{"data": [{"id": 1, "n": ' + str(number).encode() + b"}]}"
    assert isinstance(orjson.loads(body)["data"][0]["n"], float)  # why this module exists
    assert jsonio.loads(body)["data"][0]["n"] == number
    assert jsonio.loads(jsonio.dumps({"n": number})) == {"n": number}


@pytest.mark.parametrize("number", [10 ** 18, 1217805069171299538, 2 ** 63, 2 ** 64 - 1, 10 ** 19 - 1,
                                    -(2 ** 63), -(10 ** 18)])
def test_integers_that_fit_take_orjsons_path_and_stay_exact(number, monkeypatch):
    body = b'{"data": [{"id": 1, "n": ' + str(number).encode() + b"}, " + str(number).encode() + b"]}"
    doc = jsonio.loads(body)
    assert doc["data"][0]["n"] == number and doc["data"][1] == number
    assert type(doc["data"][0]["n"]) is int
    if len(str(abs(number))) < 20 and number > 0:  # no minus sign, fewer than 20 digits: orjson parses it
        monkeypatch.setattr(jsonio.json, "loads", lambda *a, **k: pytest.fail("standard library used"))
        assert jsonio.loads(body) == doc


def test_digits_inside_strings_do_not_change_the_result():
    body = b'{"phone": "12345678901234567890123", "n": 5}'
    assert jsonio.loads(body) == {"phone": "12345678901234567890123", "n": 5}


def test_invalid_json_raises_a_value_error():
    with pytest.raises(jsonio.JSONDecodeError):
        jsonio.loads(b'{"data": [1, 2')
    with pytest.raises(ValueError):
        jsonio.loads(b'{"data": [' + b"1" * 25 + b", ")


@given(st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.text(),
                              st.floats(allow_nan=False, allow_infinity=False)),
                    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(), inner, max_size=4)),
                    max_leaves=15))
def test_round_trip_equals_the_standard_library(value):
    assert jsonio.loads(jsonio.dumps(value)) == json.loads(json.dumps(value))


def test_a_body_cut_inside_a_multibyte_character_is_invalid_json():
    body = '{"data": [{"name": "東京"}]}'.encode()
    with pytest.raises(jsonio.JSONDecodeError):
        jsonio.loads(body[:body.index("京".encode()) + 1])
