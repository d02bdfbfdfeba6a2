"""Locust's distributed mode seen from the harness: addresses, the master's and the workers'
command lines, and the pool `blockbench worker` keeps joined. No master runs here: the
loopback runs are in tests/loadtests/test_distributed.py."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from blockbench.load import distributed
from blockbench.load.distributed import Address, Swarm


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10.0.0.5", Address("10.0.0.5", 5557)),
        ("10.0.0.5:6000", Address("10.0.0.5", 6000)),
        (" master.example.org:1 ", Address("master.example.org", 1)),
        ("0.0.0.0:65535", Address("0.0.0.0", 65535)),
        ("[::1]", Address("::1", 5557)),
        ("[fd00::5]:7000", Address("fd00::5", 7000)),
    ],
)
def test_an_address_is_host_and_port_with_locusts_port_by_default(
    text: str, expected: Address
) -> None:
    assert distributed.parse_address(text, "--master") == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "--master: expected HOST[:PORT]"),
        ("10.0.0.5:", "the port must be a number from 1 to 65535"),
        ("10.0.0.5:0", "the port must be a number from 1 to 65535"),
        ("10.0.0.5:65536", "the port must be a number from 1 to 65535"),
        ("10.0.0.5:http", "the port must be a number"),
        ("http://10.0.0.5:5557", "expected HOST[:PORT]"),
        ("a host", "expected HOST[:PORT]"),
        ("::1", "expected HOST[:PORT]"),  # IPv6 without brackets: which colon ends the host?
        ("[::1", "expected HOST[:PORT]"),
        ("[::1]5557", "expected HOST[:PORT]"),
        ("[example.org]:5557", "expected HOST[:PORT]"),
    ],
)
def test_a_bad_address_names_the_option_and_what_it_takes(text: str, message: str) -> None:
    with pytest.raises(distributed.DistributedError, match="^--master: ") as error:
        distributed.parse_address(text, "--master")
    assert message in str(error.value)


def test_addresses_print_as_they_are_given() -> None:
    assert str(Address("10.0.0.5", 5557)) == "10.0.0.5:5557"
    assert str(Address("::1", 5557)) == "[::1]:5557"
    assert distributed.parse_address(str(Address("::1", 9)), "x") == Address("::1", 9)


@pytest.mark.parametrize(
    ("swarm", "message"),
    [
        (lambda: Swarm(0), "at least one worker"),
        (lambda: Swarm(-1, 2, Address("0.0.0.0", 1)), "cannot be negative"),
        (lambda: Swarm(1, 2), "remote workers need an address to reach the master"),
        (lambda: Swarm(1, join_timeout_s=0), "at least 1 s"),
    ],
)
def test_a_swarm_that_cannot_run_is_refused(swarm: object, message: str) -> None:
    with pytest.raises(distributed.DistributedError, match=message):
        swarm()  # type: ignore[operator]


def test_a_swarm_counts_and_describes_its_workers() -> None:
    assert Swarm(2).workers == 2
    assert Swarm(2).describe() == "a Locust master on loopback with 2 local worker(s)"
    remote = Swarm(1, 3, Address("0.0.0.0", 5557))
    assert remote.workers == 4
    assert remote.describe() == (
        "a Locust master listening on 0.0.0.0:5557 with 1 local and 3 remote worker(s)"
    )


def test_the_master_waits_for_every_worker_then_gives_up() -> None:
    command = distributed.master_command(
        ["a.py", "b.py"], "http://127.0.0.1:8001", "IoSleep", Address("0.0.0.0", 6000),
        "/tmp/x/master", workers=3, join_timeout_s=45,
    )  # fmt: skip
    assert command[:3] == [sys.executable, "-m", "locust"]
    joined = " ".join(command)
    for part in (
        "-f a.py,b.py --master --headless",
        "--master-bind-host 0.0.0.0 --master-bind-port 6000",
        "--expect-workers 3 --expect-workers-max-wait 45",
        "--host http://127.0.0.1:8001 --csv /tmp/x/master --csv-full-history",
    ):
        assert part in joined
    assert command[-1] == "IoSleep"


def test_a_worker_takes_its_workload_and_target_from_the_master() -> None:
    command = distributed.worker_command(["a.py"], Address("10.0.0.5", 6000))
    joined = " ".join(command)
    assert "--worker --master-host 10.0.0.5 --master-port 6000" in joined
    assert "--host" not in command and "IoSleep" not in command


def test_workers_beside_a_master_bound_everywhere_join_it_on_loopback() -> None:
    assert distributed.reachable(Address("0.0.0.0", 6000)) == Address("127.0.0.1", 6000)
    assert distributed.reachable(Address("::", 6000)) == Address("127.0.0.1", 6000)
    assert distributed.reachable(Address("10.0.0.5", 6000)) == Address("10.0.0.5", 6000)


def test_a_remote_worker_loads_every_workload_and_the_sweep() -> None:
    root = Path(__file__).resolve().parents[3]
    for name in distributed.WORKER_LOCUSTFILES:
        assert (root / name).is_file(), name
    assert distributed.WORKER_LOCUSTFILES[-1] == "loadtests/sweep.py"


def test_workers_are_counted_by_the_host_in_their_locust_id() -> None:
    ids = [f"bench-2_{'a' * 32}", f"bench-2_{'b' * 32}", f"vm_{'c' * 32}", "odd"]
    assert distributed.joined_hosts(ids) == {"bench-2": 2, "odd": 1, "vm": 1}
    assert distributed.joined_hosts([]) == {}


def test_a_worker_pool_needs_the_projects_locustfiles(tmp_path: Path) -> None:
    with pytest.raises(distributed.DistributedError, match="from a checkout of the repository"):
        distributed.serve_workers(Address("127.0.0.1", 5557), 1, root=tmp_path)


def test_a_worker_that_fails_as_it_starts_stops_the_pool(tmp_path: Path) -> None:
    # A locustfile that cannot load: Locust exits with an error at once.
    (tmp_path / "broken.py").write_text("raise SystemExit(3)\n")
    said: list[str] = []
    with pytest.raises(distributed.DistributedError, match="worker 0 exited with code 3 as it"):
        distributed.serve_workers(
            Address("127.0.0.1", 1), 1, root=tmp_path, locustfiles=["broken.py"],
            announce=said.append,
        )  # fmt: skip
    assert said == ["worker 0: joins the master at 127.0.0.1:1"]
