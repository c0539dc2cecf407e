"""Calls that need the same read at once share one; a caller's leaving does not stop it."""

from __future__ import annotations

import asyncio

from core.single_flight import single_flight


class Reads:
    """A read that counts how often it runs and waits until the test lets it answer."""

    def __init__(self) -> None:
        self.count = 0
        self.answer = asyncio.Event()
        self.failure: Exception | None = None

    async def __call__(self) -> int:
        self.count += 1
        await self.answer.wait()
        if self.failure is not None:
            raise self.failure
        return self.count


async def _callers(reads: Reads, how_many: int) -> list[asyncio.Task]:
    tasks = [asyncio.create_task(single_flight("version", reads)) for _ in range(how_many)]
    await asyncio.sleep(0)  # every caller has asked before the read answers
    return tasks


def test_calls_asking_at_once_share_one_read():
    async def scenario():
        reads = Reads()
        tasks = await _callers(reads, 50)
        reads.answer.set()
        results = await asyncio.gather(*tasks)
        return reads.count, results

    count, results = asyncio.run(scenario())

    assert count == 1
    assert results == [1] * 50


def test_a_call_after_the_read_landed_reads_again():
    async def scenario():
        reads = Reads()
        reads.answer.set()
        first = await single_flight("version", reads)
        return first, await single_flight("version", reads)

    assert asyncio.run(scenario()) == (1, 2)


def test_a_cancelled_caller_leaves_the_others_their_read():
    async def scenario():
        reads = Reads()
        leaving, *staying = await _callers(reads, 3)
        leaving.cancel()
        await asyncio.sleep(0)
        reads.answer.set()
        return leaving.cancelled(), await asyncio.gather(*staying)

    assert asyncio.run(scenario()) == (True, [1, 1])


def test_a_failed_read_fails_every_caller_and_the_next_call_reads_again():
    async def scenario():
        reads = Reads()
        reads.failure = ConnectionError("down")
        tasks = await _callers(reads, 3)
        reads.answer.set()
        failures = await asyncio.gather(*tasks, return_exceptions=True)
        reads.failure = None
        return failures, await single_flight("version", reads)

    failures, after = asyncio.run(scenario())

    assert [type(f) for f in failures] == [ConnectionError] * 3
    assert after == 2


def test_different_keys_are_read_apart():
    async def scenario():
        reads = Reads()
        reads.answer.set()
        return await asyncio.gather(single_flight("a", reads), single_flight("b", reads))

    assert sorted(asyncio.run(scenario())) == [1, 2]
