"""The asyncio clients against the real broker, on a running event loop as in Jupyter."""
from __future__ import annotations

import asyncio
import time

from helpers import asyncio_clients as ac

MESSAGES = [b"a", b"b", b"c", b"d"]


def test_confluent_aio_roundtrip(bootstrap: str, topic: str) -> None:
    out = asyncio.run(ac.confluent_aio_roundtrip(bootstrap, topic, MESSAGES))
    assert out["offsets"] == [0, 1, 2, 3] and out["read"] == MESSAGES


def test_aiokafka_roundtrip(bootstrap: str, topic: str) -> None:
    out = asyncio.run(ac.aiokafka_roundtrip(bootstrap, topic, MESSAGES))
    assert out["offsets"] == [0, 1, 2, 3] and out["read"] == MESSAGES


def test_both_share_one_loop_and_leave_it_free(bootstrap: str, topic: str) -> None:
    async def both():
        first, beat1 = await ac.heartbeat_while(ac.confluent_aio_roundtrip(bootstrap, topic, MESSAGES[:2]))
        second, beat2 = await ac.heartbeat_while(ac.aiokafka_roundtrip(bootstrap, topic, MESSAGES[2:]))
        return first, beat1, second, beat2

    first, beat1, second, beat2 = asyncio.run(both())
    assert first["read"] == MESSAGES[:2] and second["read"] == MESSAGES[2:]
    # the loop was never blocked for long: far below the 1 s a blocking call shows (generous for a noisy machine)
    assert beat1.longest_stall_ms < 300, beat1
    assert beat2.longest_stall_ms < 300, beat2


def test_a_synchronous_poll_on_the_loop_stalls_it(bootstrap: str, topic: str) -> None:
    got, beat = asyncio.run(ac.heartbeat_while(ac.blocking_poll(bootstrap, topic, timeout=1.0)))
    assert got == 0 and beat.longest_stall_ms >= 900, beat


def test_heartbeat_sees_a_blocking_call() -> None:
    async def blocking() -> str:
        time.sleep(1)              # what a synchronous poll(1.0) would do to the loop
        return "done"

    async def polite() -> str:
        await asyncio.sleep(1)
        return "done"

    result, beat = asyncio.run(ac.heartbeat_while(blocking()))
    assert result == "done" and beat.longest_stall_ms >= 900, beat
    result, beat = asyncio.run(ac.heartbeat_while(polite()))
    assert result == "done" and beat.longest_stall_ms < 300 and beat.ticks >= 5, beat


def test_run_works_inside_a_running_loop(bootstrap: str, topic: str) -> None:
    async def like_a_notebook_cell():
        # synchronous code called from inside a running loop, as a notebook cell would
        return ac.run(ac.aiokafka_roundtrip(bootstrap, topic, [b"x"]))

    assert asyncio.run(like_a_notebook_cell())["read"] == [b"x"]
    assert ac.run(ac.aiokafka_roundtrip(bootstrap, topic, [b"y"]))["read"] == [b"y"]
