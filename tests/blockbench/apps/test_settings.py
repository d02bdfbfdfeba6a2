"""Configuration from the environment: defaults, derived pool sizes, clear errors."""

from __future__ import annotations

import pytest

from blockbench.apps.settings import (
    FANOUT_POOL_FACTOR,
    UNBOUNDED_UPSTREAM_POOL,
    AppSettings,
    SettingsError,
)


def test_defaults_work_locally() -> None:
    settings = AppSettings.from_env({})
    assert settings.upstream_url == "http://127.0.0.1:8900"
    assert settings.database_url is None
    assert settings.endpoint_style is None  # each app's own: Starlette async, Flask def
    assert settings.thread_tokens is None
    assert settings.a2wsgi_threads == 10  # a2wsgi's own default


def test_pools_follow_the_server_concurrency() -> None:
    settings = AppSettings.from_env({"CONCURRENCY": "32"})
    assert settings.db_pool_size == 32
    assert settings.upstream_pool_size == 32 * FANOUT_POOL_FACTOR
    explicit = AppSettings.from_env({"CONCURRENCY": "32", "DB_POOL_SIZE": "5"})
    assert explicit.db_pool_size == 5


def test_an_unbounded_process_gets_an_upstream_pool_no_profile_level_fills() -> None:
    # No CONCURRENCY: a bare event loop. 1,000 users x 4 fan-out calls must not queue on it.
    for settings in (AppSettings.from_env({}), AppSettings()):
        assert settings.upstream_pool_size == UNBOUNDED_UPSTREAM_POOL >= 1000 * FANOUT_POOL_FACTOR
        assert settings.db_pool_size == 100  # PostgreSQL's default max_connections


@pytest.mark.parametrize(
    ("env", "key"),
    [
        ({"CONCURRENCY": "many"}, "CONCURRENCY"),
        ({"CONCURRENCY": "0"}, "CONCURRENCY"),
        ({"DB_POOL_TIMEOUT": "-1"}, "DB_POOL_TIMEOUT"),
        ({"ENDPOINT_STYLE": "threads"}, "ENDPOINT_STYLE"),
        ({"THREAD_TOKENS": "x"}, "THREAD_TOKENS"),
        ({"A2WSGI_THREADS": "0"}, "A2WSGI_THREADS"),
        ({"BLOCKBENCH_CORES": "0"}, "BLOCKBENCH_CORES"),
    ],
)
def test_bad_values_name_the_key(env: dict[str, str], key: str) -> None:
    with pytest.raises(SettingsError, match=key):
        AppSettings.from_env(env)


def test_endpoint_style_and_a2wsgi_threads_are_read() -> None:
    settings = AppSettings.from_env({"ENDPOINT_STYLE": "def", "A2WSGI_THREADS": "25"})
    assert settings.endpoint_style == "def"
    assert settings.a2wsgi_threads == 25


def test_the_catalogue_identity_is_read_for_healthz() -> None:
    env = {"BLOCKBENCH_TARGET": "t", "BLOCKBENCH_MODE": "threads", "BLOCKBENCH_CORES": "2"}
    settings = AppSettings.from_env(env)
    assert (settings.target, settings.mode, settings.cores) == ("t", "threads", 2)
    # Started outside the catalogue: nothing to name.
    assert AppSettings.from_env({}).cores is None
