"""Board jobs off hwsim's event loop: a worker pool for results, a watch for job ends.

Why: a job's *mission-time* duration is the board's model (FLOP / rate), but its *result* is
real numpy work on the emulator host. Computed inside the physics step (the SDK default, what
the conformance kit and what-if runs use), one 4096×4096 matmul held the serving event loop
for seconds: no device-port or simulation-control reply went out meanwhile.

`SlotExecutor` is the `computesat_sdk.base.JobExecutor` that hwsim's serve process attaches
to every `BaseBoard` in a slot (`PluginSlots.attach_executor`). A board hands it the job when
the job starts; the result is delivered at the job's modelled end or when the worker finishes,
whichever is later (until then the board counts it in ``results_pending``). Workers:

- processes (default) for boards whose class can be pickled by reference: the kernels hold
  the GIL in places (input generation, digest), so only a process keeps the loop free. A
  worker builds its own instance of the board class and calls `BaseBoard.compute`; only the
  job goes in and only the digest and summary come back (never the result array). Workers
  run at a lower scheduling priority (``nice``) so that, on a busy host, the serving loop
  gets the CPU first. The spawn start method: forking a process that holds ZeroMQ sockets and
  an event loop is not safe.
- threads for a board class that cannot be pickled (defined in a function, say).

``wait_at_end=True`` makes a board wait for its worker at the modelled end: results (and
everything that depends on them) are then exactly those of the synchronous default, which is
what a stepped run needs to stay deterministic for a seed.

`ResultsNotComputed` is the executor for runs whose job results nobody reads (the what-if
controller's filler jobs): a job's timing, power and heat follow the board's model as always,
but its result is not computed (digest `NOT_COMPUTED_DIGEST`, empty summary). The conformance
kit and the serve process never attach it, so they exercise the real path.

`ResultWatch` answers ``backplane.await_results``: a device-port request that flight software
leaves open and that hwsim answers as soon as any slot has results ready (or after a
mission-time timeout), so results reach the payload manager when a job ends rather than once
per control period.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import logging
import math
import multiprocessing
import os
import pickle
import signal
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool as BrokenExecutor
from typing import Any

from computesat_sdk import kernels
from computesat_sdk.base import BaseBoard, ComputedJob
from computesat_sdk.contract import JobSpec

from runtime.clock import Clock

__all__ = [
    "NOT_COMPUTED_DIGEST",
    "BlasThreadTuner",
    "ResultWatch",
    "ResultsNotComputed",
    "SlotExecutor",
    "blas_threads_here",
]

NOT_COMPUTED_DIGEST = "ff" * 32
"""The digest of a job result that `ResultsNotComputed` did not compute: hex of a digest's
length (32 bytes, as the ICD's TM 140,5 carries it), all ones, which no SHA-256 of a real
result is expected to be; flight software packs it as it packs any digest."""


class ResultsNotComputed:
    """A `computesat_sdk.base.JobExecutor` that computes nothing: every job's result is ready
    at its modelled end with digest `NOT_COMPUTED_DIGEST` and an empty summary (for runs
    whose results nobody reads: deterministic, and the host's cores stay with the physics)."""

    wait_at_end = True

    def submit(self, board: BaseBoard, job: JobSpec, corrupt: bool) -> Future[ComputedJob]:
        future: Future[ComputedJob] = Future()
        future.set_result(ComputedJob(digest=NOT_COMPUTED_DIGEST, summary={}))
        return future


_NS = 1_000_000_000

log = logging.getLogger(__name__)


_PR_SET_PDEATHSIG = 1


def _limit_blas_threads(threads: int) -> None:
    """Cap the worker's BLAS (OpenBLAS, MKL) thread pool at ``threads``.

    Why: numpy's OpenBLAS starts one thread per core in every process, and its threads spin
    for a while after each call before they sleep. Two workers of two threads each, beside
    hwsim, flight software and the ground on a 2-core host, ran a 768 matmul at ~300 ms
    instead of ~35 ms: the spinning threads of one worker took the cores from the other.
    numpy is imported already when this runs (the initializer's own module needs it), so
    the environment variables (OPENBLAS_NUM_THREADS, ...) would come too late: threadpoolctl
    sets the loaded libraries' limit. Without threadpoolctl the workers keep the default.
    """
    try:
        import threadpoolctl
    except ImportError:
        return
    with contextlib.suppress(Exception):  # an unknown BLAS build: keep its default
        threadpoolctl.threadpool_limits(limits=threads, user_api="blas")


def _init_worker(nice: int, parent_pid: int, blas_threads: int = 0) -> None:
    """Runs first in every worker process.

    A worker must not outlive hwsim nor hold its output: spawned workers inherit hwsim's
    stdout/stderr, and a supervisor (``computesat satellite``) learns that a SIGKILLed hwsim
    is gone when those pipes close, so a worker left holding them hid the death and the
    restart never came. Its output goes to /dev/null (a job's error comes back through its
    future), and Linux kills it when hwsim dies.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # not Linux: the supervisor's process-group kill still reaches the worker
    if os.getppid() != parent_pid:
        os._exit(1)  # hwsim died while this worker started
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    if nice > 0:
        os.nice(nice)
    if blas_threads > 0:
        _limit_blas_threads(blas_threads)


@functools.cache
def _worker_board(board_class: type[BaseBoard]) -> BaseBoard:
    return board_class("worker")


# The BLAS limit this worker process runs at now (0: as `_init_worker` left it).
_worker_blas_threads = 0


def _compute_in_worker(
    board_class: type[BaseBoard], job: JobSpec, corrupt: bool, blas_threads: int = 0
) -> ComputedJob:
    """Runs in a worker process: the board class's own `compute` on a board of its own,
    with BLAS limited to ``blas_threads`` (0: leave the limit as it is)."""
    global _worker_blas_threads
    if blas_threads > 0 and blas_threads != _worker_blas_threads:
        _limit_blas_threads(blas_threads)
        _worker_blas_threads = blas_threads
    return _worker_board(board_class).compute(job, corrupt)


def _warm() -> int:
    return os.getpid()


def blas_threads_here() -> int | None:
    """The BLAS thread limit of the calling process (None: unknown, no threadpoolctl).
    Submitted to a worker, it tells what `_init_worker` left there."""
    try:
        import threadpoolctl
    except ImportError:
        return None
    blas = [
        lib["num_threads"] for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas"
    ]
    return max(blas, default=None)


class BlasThreadTuner:
    """How many BLAS threads a big job computing alone runs at: measured here, not assumed.

    The options are one thread and every core. Each is tried once (FLOP/s of a whole job,
    worker round trip included), then the one with the higher median of its recent figures
    is used, and the other is tried again every ``explore_every``-th job, because what is
    faster changes with what else the host runs.
    """

    MIN_FLOPS = 1e8  # smaller jobs (~10 ms) gain nothing from threads, and time poorly

    def __init__(self, cores: int, recent: int = 5, explore_every: int = 16) -> None:
        # Every core first: the common case (an idle host) and, for the ports, the worst one.
        self.options = sorted({1, max(1, cores)}, reverse=True)
        self.rates: dict[int, deque[float]] = {t: deque(maxlen=recent) for t in self.options}
        self.explore_every = explore_every
        self.chosen = 0
        self._lock = threading.Lock()

    def best(self) -> int:
        with self._lock:
            return max(self.options, key=lambda t: statistics.median(self.rates[t] or [0.0]))

    def choose(self) -> int:
        if len(self.options) == 1:
            return self.options[0]
        with self._lock:
            self.chosen += 1
            untried = [t for t in self.options if not self.rates[t]]
            chosen = self.chosen
        if untried:
            return untried[0]
        best = self.best()
        if chosen % self.explore_every == 0:
            return next(t for t in self.options if t != best)
        return best

    def record(self, threads: int, flops_per_s: float) -> None:
        with self._lock:
            if threads in self.rates:
                self.rates[threads].append(flops_per_s)


class SlotExecutor:
    """Where hwsim's slot boards compute their results (see the module docstring)."""

    def __init__(
        self,
        *,
        workers: int | None = None,
        processes: bool = True,
        wait_at_end: bool = False,
        nice: int = 0,
        blas_threads: int | None = None,
    ) -> None:
        self.workers = workers or max(1, os.cpu_count() or 1)
        self.cores = max(1, os.cpu_count() or 1)
        # BLAS threads per worker process at start: the cores shared out among the workers
        # (one each on a 2-core host with two workers); 0 keeps the library's default.
        self.blas_threads = (
            max(1, self.cores // self.workers) if blas_threads is None else blas_threads
        )
        # None: BLAS threads chosen per job (`blas_threads_for_next_job`); a number: fixed.
        self.dynamic_blas = blas_threads is None
        self.tuner = BlasThreadTuner(self.cores)
        # Called (from a pool thread) whenever a job's computation ends: hwsim wakes its
        # physics loop with it, so the job's modelled end is seen now (hwsim.app).
        self.on_computed: Callable[[], None] | None = None
        self._computing: set[Future[ComputedJob]] = set()
        self.wait_at_end = wait_at_end
        self._nice = nice
        self._use_processes = processes
        self._processes: ProcessPoolExecutor | None = None
        self._threads: ThreadPoolExecutor | None = None
        self._picklable: dict[type, bool] = {}
        self._lock = threading.Lock()
        self.submitted = 0

    def _process_pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._processes is None:
                self._processes = ProcessPoolExecutor(
                    self.workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_init_worker,
                    initargs=(self._nice, os.getpid(), self.blas_threads),
                )
            return self._processes

    def _thread_pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._threads is None:
                self._threads = ThreadPoolExecutor(self.workers, thread_name_prefix="board-job")
            return self._threads

    def warm(self) -> None:
        """Start the worker processes now (spawning them costs ~0.5 s each), not on the
        first job."""
        if self._use_processes:
            pool = self._process_pool()
            for future in [pool.submit(_warm) for _ in range(self.workers)]:
                future.result()

    def _by_process(self, board: BaseBoard) -> bool:
        if not self._use_processes:
            return False
        cls = type(board)
        known = self._picklable.get(cls)
        if known is None:
            try:
                known = pickle.loads(pickle.dumps(cls)) is cls
            except Exception:
                known = False
            self._picklable[cls] = known
        return known

    def blas_threads_for_next_job(self, flops: float = math.inf) -> tuple[int, bool]:
        """BLAS threads for a job of ``flops`` starting now (0: leave the worker's limit as
        it is), and whether its time should be measured for the tuner.

        Jobs side by side share the cores out (two on two cores: one thread each; a thread
        per core in each oversubscribed the host, OpenBLAS threads spinning after each
        call). A big job computing alone runs at what the tuner measured to be faster here:
        every core on an idle host (one thread made a sequential job run at half numpy's
        direct speed), one thread on a host whose cores are busy with other work (two threads
        there ran ~1.7x slower than one: each waits for the other at every barrier).
        """
        if not self.dynamic_blas:
            return 0, False
        with self._lock:
            computing = sum(not f.done() for f in self._computing)
        if computing or flops < BlasThreadTuner.MIN_FLOPS:
            return max(1, self.cores // (computing + 1)), False
        return self.tuner.choose(), True

    def _measure(self, future: Future[ComputedJob], threads: int, flops: float) -> None:
        """Tell the tuner how fast the job ran, if it computed alone from start to end."""
        started = time.perf_counter()
        submitted = self.submitted

        def done(f: Future[ComputedJob]) -> None:
            if f.cancelled() or f.exception() is not None or self.submitted != submitted:
                return  # failed, or shared the cores with a later job: not a clean figure
            self.tuner.record(threads, flops / max(1e-9, time.perf_counter() - started))

        future.add_done_callback(done)

    def submit(self, board: BaseBoard, job: JobSpec, corrupt: bool) -> Future[ComputedJob]:
        self.submitted += 1
        pool: Executor
        if self._by_process(board):
            flops = kernels.job_flops(job)
            threads, measure = self.blas_threads_for_next_job(flops)
            try:
                future = self._process_pool().submit(
                    _compute_in_worker, type(board), job, corrupt, threads
                )
            except BrokenExecutor:
                # A worker died (killed, out of memory): its jobs fail with that reason;
                # a new pool takes the next ones. This runs inside the physics step, which
                # must not raise.
                log.warning("job worker pool broken; starting a new one")
                self._discard_processes()
                future = self._process_pool().submit(
                    _compute_in_worker, type(board), job, corrupt, threads
                )
            if measure:
                self._measure(future, threads, flops)
            return self._track(future)
        pool = self._thread_pool()
        return self._track(pool.submit(board.compute, job, corrupt))

    def _track(self, future: Future[ComputedJob]) -> Future[ComputedJob]:
        with self._lock:
            self._computing = {f for f in self._computing if not f.done()}
            self._computing.add(future)
        if self.on_computed is not None:
            listener = self.on_computed
            future.add_done_callback(lambda _: listener())
        return future

    def _discard_processes(self) -> None:
        with self._lock:
            pool, self._processes = self._processes, None
        if pool is not None:
            # A running kernel cannot be interrupted politely, and shutting down would wait
            # for it (seconds for a big matmul): the workers are terminated.
            for process in list(getattr(pool, "_processes", {}).values()):
                process.terminate()
            pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Stop the workers; jobs not started are cancelled, running ones are abandoned."""
        self._discard_processes()
        with self._lock:
            threads, self._threads = self._threads, None
        if threads is not None:
            threads.shutdown(wait=False, cancel_futures=True)


class ResultWatch:
    """Waits, on the serving event loop, for plug-in slots to have job results ready.

    ``gather`` is the model's `PluginSlots.gather` (slot indices with results ready, taking
    them into the slots' buffers); ``registers`` reads one slot's registers. `notify` may be
    called from any thread (a worker's done-callback): it wakes every waiter.
    """

    def __init__(
        self,
        clock: Clock,
        gather: Callable[[], list[str]],
        registers: Callable[[str], dict[str, Any]],
        max_timeout_s: float = 60.0,
    ) -> None:
        self._clock = clock
        self._gather = gather
        self._registers = registers
        self._loop = asyncio.get_running_loop()
        self._waiters: set[asyncio.Event] = set()
        self.max_timeout_s = max_timeout_s
        self.answered = 0

    def notify(self) -> None:
        """Something may be ready: wake the waiters (thread-safe)."""
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting
            self._loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        for event in self._waiters:
            event.set()

    def _ready(self) -> dict[str, Any] | None:
        devices = self._gather()
        if not devices:
            return None
        return {"slots": {device: self._registers(device) for device in devices}}

    async def wait(self, timeout_s: float) -> dict[str, Any]:
        """``{"slots": {device: registers}}`` for every slot with results ready, as soon as
        there is one; ``{"slots": {}}`` after ``timeout_s`` mission seconds without."""
        timeout_s = min(max(0.0, float(timeout_s)), self.max_timeout_s)
        deadline_ns = self._clock.now_ns() + round(timeout_s * _NS)
        event = asyncio.Event()
        self._waiters.add(event)
        try:
            while True:
                event.clear()
                ready = self._ready()
                if ready is not None:
                    self.answered += 1
                    return ready
                if self._clock.now_ns() >= deadline_ns:
                    return {"slots": {}}
                await self._clock.sleep_until_ns_or(deadline_ns, event)
        finally:
            self._waiters.discard(event)
