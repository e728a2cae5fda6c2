"""Which waiting request runs next: a shared pool of module slots, fair between routes.

Every route may use the pool, but no route may take its last ``reserve`` slots:
those stay free for the other routes, so a route whose modules sleep or spin
cannot starve the rest. When a slot frees up and requests wait, the routes take
turns (round robin), so a quick route waits for at most one slot however long
another route's queue is. Runs on the event loop's thread; no locks.
"""
from __future__ import annotations

import asyncio
import collections
from typing import Deque, Dict, Hashable


class QueueFull(Exception):
    """Too many requests are waiting already."""


class Closed(QueueFull):
    """The server is stopping: nothing more starts."""


class RouteScheduler:
    def __init__(self, slots: int, max_waiting: int, reserve: int = 0):
        if slots < 1:
            raise ValueError("slots must be at least 1")
        self.slots = slots
        #: The most slots one route may hold (all of them when there is only one slot).
        self.per_route = max(1, slots - max(0, reserve))
        self.max_waiting = max_waiting
        self.running: Dict[Hashable, int] = collections.Counter()
        self.busy = 0
        self._queues: "collections.OrderedDict[Hashable, Deque[asyncio.Future]]" = collections.OrderedDict()
        self.waiting = 0
        self.closed = False
        #: New requests are refused, those already waiting still get their turn (a graceful stop).
        self.draining = False

    def _may_start(self, route: Hashable) -> bool:
        return self.busy < self.slots and self.running[route] < self.per_route

    @property
    def accepting(self) -> bool:
        """New requests may start (the server is not stopping)."""
        return not (self.closed or self.draining)

    async def acquire(self, route: Hashable) -> None:
        """Wait for a slot for ``route``; raises :class:`QueueFull` when the queue is full."""
        if self.closed or self.draining:
            raise Closed()
        if self._may_start(route) and not self._queues.get(route):
            self._take(route)
            return
        if self.waiting >= self.max_waiting:
            raise QueueFull()
        future = asyncio.get_running_loop().create_future()
        self._queues.setdefault(route, collections.deque()).append(future)
        self.waiting += 1
        try:
            await future  # the slot is taken for us by _wake
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release(route)  # woken and cancelled at once: give the slot back
            else:
                self._forget(route, future)
            raise

    def release(self, route: Hashable) -> None:
        self.busy -= 1
        self.running[route] -= 1
        if not self.running[route]:
            del self.running[route]
        self._wake()

    def drain(self) -> None:
        """Take no new request (:class:`Closed`), but run those waiting already as slots free up,
        as nginx's graceful stop finishes what it accepted."""
        self.draining = True

    def close(self) -> None:
        """Start nothing more: every waiting request gets :class:`Closed`."""
        self.closed = True
        for queue in self._queues.values():
            for future in queue:
                if not future.done():
                    future.set_exception(Closed())
        self._queues.clear()
        self.waiting = 0

    def _take(self, route: Hashable) -> None:
        self.busy += 1
        self.running[route] += 1

    def _forget(self, route: Hashable, future: asyncio.Future) -> None:
        queue = self._queues.get(route)
        if queue and future in queue:
            queue.remove(future)
            self.waiting -= 1
            if not queue:
                del self._queues[route]

    def _wake(self) -> None:
        """Start waiting requests while slots are free, one route after another."""
        while self.busy < self.slots and self._queues and not self.closed:
            for route in list(self._queues):
                if self.running[route] >= self.per_route:
                    continue
                queue = self._queues.pop(route)  # re-inserted at the end: the next route goes first
                future = queue.popleft()
                self.waiting -= 1
                if queue:
                    self._queues[route] = queue
                if future.done():  # its request was cancelled before it was woken
                    break
                self._take(route)
                future.set_result(None)
                break
            else:
                return  # every waiting route is at its share
