"""The asyncio clients against the real broker, on a running event loop as in Jupyter."""
from __future__ import annotations

import asyncio

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
        first, ticks = await ac.heartbeat_while(ac.confluent_aio_roundtrip(bootstrap, topic, MESSAGES[:2]))
        second = await ac.aiokafka_roundtrip(bootstrap, topic, MESSAGES[2:])
        return first, ticks, second

    first, ticks, second = asyncio.run(both())
    assert first["read"] == MESSAGES[:2] and second["read"] == MESSAGES[2:]
    assert ticks >= 1  # the ticker task ran while Kafka was awaited


def test_run_works_inside_a_running_loop(bootstrap: str, topic: str) -> None:
    async def like_a_notebook_cell():
        # synchronous code called from inside a running loop, as a notebook cell would
        return ac.run(ac.aiokafka_roundtrip(bootstrap, topic, [b"x"]))

    assert asyncio.run(like_a_notebook_cell())["read"] == [b"x"]
    assert ac.run(ac.aiokafka_roundtrip(bootstrap, topic, [b"y"]))["read"] == [b"y"]
