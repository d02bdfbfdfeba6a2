"""The endpoint contract on its own: parsing, bounds, error bodies, rendering."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from blockbench.apps import contract


def test_parses_valid_parameters_and_applies_defaults() -> None:
    assert contract.parse_query(contract.IO_FANOUT, b"n=3&ms=100&mode=par") == {
        "n": 3,
        "ms": 100,
        "mode": "par",
    }
    assert contract.parse_query(contract.CPU, "work=10") == {"work": 10, "offload": "none"}


def test_cpu_then_sleep_takes_work_and_ms_both_required() -> None:
    assert contract.parse_query(contract.CPU_THEN_SLEEP, "ms=20&work=25000") == {
        "work": 25000,
        "ms": 20,
    }
    # Unlike /cpu, no offload: the work is always the handler's own.
    for query, missing in (("work=1", "ms"), ("ms=1", "work")):
        with pytest.raises(contract.InvalidParameter) as caught:
            contract.parse_query(contract.CPU_THEN_SLEEP, query)
        assert (caught.value.param.name, caught.value.problem) == (missing, "missing")
    with pytest.raises(contract.UnknownParameter):
        contract.parse_query(contract.CPU_THEN_SLEEP, "work=1&ms=1&offload=none")


@pytest.mark.parametrize(
    ("query", "problem"),
    [("id=0&ms=0", "out_of_range"), ("id=10001&ms=0", "out_of_range"), ("ms=0", "missing")],
)
def test_a_row_id_is_one_of_the_seeded_rows(query: str, problem: str) -> None:
    assert contract.DB_ROWS == 10_000
    assert contract.parse_query(contract.IO_DB_ROW, "id=1&ms=0") == {"id": 1, "ms": 0}
    assert contract.parse_query(contract.IO_DB_ROW, "ms=5&id=10000") == {"id": 10000, "ms": 5}
    with pytest.raises(contract.InvalidParameter) as caught:
        contract.parse_query(contract.IO_DB_ROW, query)
    body = caught.value.body()
    assert (body["parameter"], body["problem"]) == ("id", problem)
    assert body["allowed"] == {"type": "integer", "minimum": 1, "maximum": 10000}


@pytest.mark.parametrize("raw", ["0", "60000", "00042"])
def test_accepts_the_whole_range(raw: str) -> None:
    assert contract.parse_query(contract.IO_SLEEP, f"ms={raw}") == {"ms": int(raw)}


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("", "missing"),
        ("ms=", "not_an_integer"),
        ("ms=1.0", "not_an_integer"),
        ("ms=%E0%A5%A7", "not_an_integer"),  # DEVANAGARI DIGIT ONE
        ("ms=-1", "out_of_range"),
        ("ms=60001", "out_of_range"),
        ("ms=1&ms=1", "repeated"),
    ],
)
def test_invalid_values_name_the_problem(query: str, problem: str) -> None:
    with pytest.raises(contract.InvalidParameter) as caught:
        contract.parse_query(contract.IO_SLEEP, query)
    body = caught.value.body()
    assert caught.value.status == 400
    assert body["problem"] == problem
    assert body["parameter"] == "ms"
    assert body["message"].startswith("ms must be an integer from 0 to 60000")


def test_unknown_parameters_are_refused_with_the_known_ones_listed() -> None:
    with pytest.raises(contract.UnknownParameter) as caught:
        contract.parse_query(contract.IO_FANOUT, "n=1&ms=1&mode=seq&mss=2")
    assert caught.value.body()["allowed"] == ["n", "ms", "mode"]


def test_echoed_values_are_truncated() -> None:
    with pytest.raises(contract.InvalidParameter) as caught:
        contract.parse_query(contract.IO_SLEEP, "ms=" + "9" * 5000)
    assert len(caught.value.body()["message"]) < 200


@given(st.text(max_size=200))
def test_any_query_string_is_a_result_or_a_contract_error(query: str) -> None:
    for endpoint in contract.ENDPOINTS:
        try:
            params = contract.parse_query(endpoint, query)
        except contract.ContractError as error:
            assert error.status == 400
            json.loads(contract.render(error.body()))
        else:
            assert set(params) == {param.name for param in endpoint.params}


def test_render_is_canonical() -> None:
    assert contract.render({"b": 1, "a": "é"}) == b'{"a":"\\u00e9","b":1}'


def test_every_path_is_unique_and_findable() -> None:
    paths = [endpoint.path for endpoint in contract.ENDPOINTS]
    assert len(paths) == len(set(paths))
    assert all(contract.find(path) is not None for path in paths)
    assert contract.find("/nope") is None


def test_dependent_endpoints_document_their_503() -> None:
    assert contract.IO_DB.dependency == contract.IO_DB_ROW.dependency == "database"
    assert contract.CPU_THEN_SLEEP.dependency is None
    assert contract.IO_UPSTREAM.dependency == contract.IO_FANOUT.dependency == "upstream"
    assert contract.Unavailable("database").body()["error"] == "database_unavailable"
