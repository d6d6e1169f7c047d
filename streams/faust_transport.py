"""Faust's Kafka transport, with the fetch wait that keeps a live stream's latency low.

Faust builds its aiokafka consumer with `fetch_max_wait_ms=1500`, fixed in its driver. Under
a steady stream this held records back by a second and more: at 2,000 records/s the worker's
agent got them in bursts every ~1.6 s, ~1.4 s old on arrival (probe p50 1.1 s, p99 2 s),
while a bare aiokafka consumer of the same topic saw them 27 ms old. aiokafka sends one fetch
per broker at a time for the partitions that have nothing buffered; Faust pauses and resumes
partitions as its stream buffers fill and drain, and a partition that becomes fetchable while
the broker holds a fetch waits for that fetch to end. With 100 ms the same run gave probe p99
280 ms (`benchmarks/latency.py`, README). An idle worker sends ten fetches a second per
broker instead of one every 1.5 s.
"""

from __future__ import annotations

from typing import Any

import aiokafka
from faust.transport.drivers import aiokafka as faust_aiokafka

FETCH_MAX_WAIT_MS = 100


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        # Read by `AIOKafkaConsumer.start()` when it builds its fetcher; Faust passes no way in.
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return consumer


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(faust_aiokafka.Transport):
    """`kafka://` as Faust's own, with `FETCH_MAX_WAIT_MS` for the worker's consumer."""

    Consumer = _Consumer
