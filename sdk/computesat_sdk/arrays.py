"""`BoardArrays`: many array-stepped boards advanced as numpy arrays, their Python only on events.

A host with many boards (hwsim's compute slots) cannot afford each board's Python `step` every
physics step. For boards whose class is ``ARRAY_STEPPING`` (every `BaseBoard` that does not
override how it steps), `BoardArrays` holds one row per board (`computesat_sdk.contract.ArrayRow`)
and advances all rows at once, operation for operation as `BaseBoard.step` would:

- the die: exact exponential step toward plate + P·R (`_thermal.die_temp_after_k_array`), and
  the heat delivered into the plate (`_thermal.heat_to_plate_j_array`);
- the heartbeat (+1 while alive), boot time left (-dt while booting), the running job's FLOPs
  (+rate·dt), the thermal-throttle timers (dwell above throttle_temp_k, recovery below the
  hysteresis band).

A board's own Python runs only on events: when its boot or job ends inside the step, when its
throttle level would change or its die crosses the shutdown temperature (array comparisons
find these), the whole step of that board is taken per object (`BaseBoard.step_event`) from
its pre-step row, so the event happens at the exact modelled time; the energy such a board
drew beyond its step-start draw × dt is summed in `step_extra_energy_j` (a host billing the
draw at the step's start bills that too). Commands, upsets and reads
go to the board object, which takes its row back first and, if it changed, tells the arrays
(`touch`); the arrays take its new row before the next step (`refresh`). Every figure is the
same IEEE operation on the same operands as the per-object step, so a run is bit-identical to
the same run stepped per object (tests/unit/sdk/test_sdk_arrays.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from computesat_sdk._thermal import die_decay, die_temp_after_k_array, heat_to_plate_j_array
from computesat_sdk.base import BaseBoard
from computesat_sdk.contract import ArrayRow, ComputeBoard

__all__ = ["BoardArrays", "array_steppable"]


def array_steppable(board: ComputeBoard) -> bool:
    """True if ``board`` can be stepped by `BoardArrays` (its class declares ARRAY_STEPPING
    and implements the host hooks, as `BaseBoard` does)."""
    return isinstance(board, BaseBoard) and bool(type(board).ARRAY_STEPPING)


# row(): how many rows of one state it indexes element by element before it turns the arrays
# into lists (17 arrays of 160 boards cost about as much as indexing 8 rows alone).
_ROWS_INDEXED_ALONE = 8

# The arrays of an ArrayRow, in the order row() reads them.
_ROW_ARRAYS = (
    "die_temp_k",
    "plate_temp_k",
    "heartbeat",
    "boot_remaining_s",
    "flops_done",
    "hot_timer_s",
    "cool_timer_s",
    "was_hot",
    "power_w",
    "utilisation",
    "flops_total",
    "flops_rate_per_s",
    "booting",
    "alive",
    "up",
    "powered",
    "thermal_level",
)


class BoardArrays:
    """The rows of array-stepped boards sharing one mission clock (an `ArrayHost`).

    ``boards`` must all be array-steppable and at ``mission_time_s``; they are bound to this
    host until `unbind`. `step` advances them all; `power_w` is their draw until their next
    event, refreshed by `refresh` (which `step` calls first). `row_version` counts, per row,
    the times the board's own Python changed it (a `touch`, an event stepped per object), for
    a host that keeps what only that Python changes (hwsim's backplane read); `touched` are
    the rows whose draw and flags here wait for `refresh`.
    """

    def __init__(self, boards: Sequence[BaseBoard], mission_time_s: float) -> None:
        self.boards = list(boards)
        self.epoch = 0
        self.time_s = float(mission_time_s)
        n = len(self.boards)
        models = [b.THERMAL for b in self.boards]
        self.thermal_mass_j_per_k = np.array([m.thermal_mass_j_per_k for m in models])
        self.die_to_plate_k_per_w = np.array([m.die_to_plate_k_per_w for m in models])
        self.throttle_temp_k = np.array([m.throttle_temp_k for m in models])
        # the same subtraction as BaseBoard._update_thermal_throttle
        self.recover_below_k = np.array(
            [m.throttle_temp_k - m.throttle_hysteresis_k for m in models]
        )
        self.shutdown_temp_k = np.array([m.shutdown_temp_k for m in models])
        self.throttle_step_s = np.array([m.throttle_step_s for m in models])
        self.die_temp_k = np.zeros(n)
        self.plate_temp_k = np.zeros(n)
        self.heartbeat = np.zeros(n, dtype=np.int64)
        self.boot_remaining_s = np.zeros(n)
        self.flops_done = np.zeros(n)
        self.hot_timer_s = np.zeros(n)
        self.cool_timer_s = np.zeros(n)
        self.was_hot = np.zeros(n, dtype=bool)
        self.power_w = np.zeros(n)
        self.power_r_k = np.zeros(n)  # P·R, K
        self.utilisation = np.zeros(n)
        self.flops_total = np.full(n, math.inf)
        self.flops_rate_per_s = np.zeros(n)
        self.booting = np.zeros(n, dtype=bool)
        self.alive = np.zeros(n, dtype=np.int64)  # 0/1, added to the heartbeat
        self.up = np.zeros(n, dtype=bool)
        self.powered = np.zeros(n, dtype=bool)
        self.thermal_level = np.zeros(n, dtype=np.int64)
        # A die above its watch temperature may change the throttle or trip: the recovery
        # temperature while up, the shutdown temperature while booting, never when unpowered.
        self.watch_k = np.full(n, math.inf)
        self.power_changed = True
        # electrical energy drawn over the last step beyond power_w × dt (boards whose draw
        # changed inside it: BaseBoard.last_step_extra_energy_j of the event rows), J
        self.step_extra_energy_j = 0.0
        self.step_extra_rows: list[tuple[int, float]] = []  # (row, J) of those rows
        # Per row, how many times the board's own Python changed it (a `touch`, a `step_event`):
        # a reader that caches what only that Python changes (hwsim's backplane: power state,
        # queue, error counters...) keeps a row's entry while its count is unchanged.
        self.row_version = np.zeros(n, dtype=np.int64)
        self._dirty: set[int] = set()
        self._columns: list[list[Any]] | None = None  # row(): the arrays as lists, see there
        self._rows_indexed = 0  # rows row() indexed alone since the arrays last changed
        self._dt_s = math.nan
        self._decay = np.zeros(n)
        self._power_dt_j: np.ndarray | None = None  # P·dt for the cached dt
        self._rate_dt: np.ndarray | None = None  # flops rate·dt for the cached dt
        self._any_booting = False
        self._any_busy = False
        self._throttling = False
        for k, board in enumerate(self.boards):
            if not array_steppable(board):
                raise TypeError(f"{board.board_id}: {type(board).__name__} is not array-steppable")
            if board.health().mission_time_s != self.time_s:
                raise ValueError(
                    f"{board.board_id} is at mission time {board.health().mission_time_s} s, "
                    f"the arrays at {self.time_s} s"
                )
            board.bind_array_host(self, k)
            self._load(k, board.array_row())
        self._flags()

    # --- ArrayHost ------------------------------------------------------------------------

    def row(self, index: int) -> ArrayRow:
        """Board ``index`` as the arrays hold it now."""
        # A host reading every board after a step (160 a mission second) asks every row: the
        # arrays are then turned into lists once per state (``_columns``, dropped whenever an
        # array changes), not indexed element by element as numpy scalars per board. A host
        # asking a few (a command, hwsim's backplane asking the boards whose Python ran)
        # would pay every list for one row: the first rows of a state are indexed alone.
        columns = self._columns
        if columns is None:
            if self._rows_indexed < _ROWS_INDEXED_ALONE:
                self._rows_indexed += 1
                return self._row_alone(index)
            columns = self._columns = [getattr(self, name).tolist() for name in _ROW_ARRAYS]
        k = index
        return ArrayRow(
            die_temp_k=float(columns[0][k]),
            plate_temp_k=float(columns[1][k]),
            heartbeat=int(columns[2][k]),
            boot_remaining_s=float(columns[3][k]),
            flops_done=float(columns[4][k]),
            hot_timer_s=float(columns[5][k]),
            cool_timer_s=float(columns[6][k]),
            was_hot=bool(columns[7][k]),
            power_w=float(columns[8][k]),
            utilisation=float(columns[9][k]),
            flops_total=float(columns[10][k]),
            flops_rate_per_s=float(columns[11][k]),
            booting=bool(columns[12][k]),
            alive=bool(columns[13][k]),
            up=bool(columns[14][k]),
            powered=bool(columns[15][k]),
            thermal_level=int(columns[16][k]),
        )

    def _row_alone(self, k: int) -> ArrayRow:
        """`row` indexed element by element (the same values: a float64 or int64 element
        converts to the Python number its list holds)."""
        return ArrayRow(
            die_temp_k=float(self.die_temp_k[k]),
            plate_temp_k=float(self.plate_temp_k[k]),
            heartbeat=int(self.heartbeat[k]),
            boot_remaining_s=float(self.boot_remaining_s[k]),
            flops_done=float(self.flops_done[k]),
            hot_timer_s=float(self.hot_timer_s[k]),
            cool_timer_s=float(self.cool_timer_s[k]),
            was_hot=bool(self.was_hot[k]),
            power_w=float(self.power_w[k]),
            utilisation=float(self.utilisation[k]),
            flops_total=float(self.flops_total[k]),
            flops_rate_per_s=float(self.flops_rate_per_s[k]),
            booting=bool(self.booting[k]),
            alive=bool(self.alive[k]),
            up=bool(self.up[k]),
            powered=bool(self.powered[k]),
            thermal_level=int(self.thermal_level[k]),
        )

    def _drop_columns(self) -> None:
        """An array changed: `row`'s lists are stale, and its next rows indexed alone."""
        self._columns = None
        self._rows_indexed = 0

    def touch(self, index: int) -> None:
        """Board ``index`` changed: take its row before the next step."""
        self._dirty.add(index)
        self.row_version[index] += 1

    # --- host side ------------------------------------------------------------------------

    @property
    def touched(self) -> frozenset[int]:
        """Rows touched since the arrays last took them (`refresh`): their draw, utilisation
        and flags here are stale until the next step; ask the board."""
        return frozenset(self._dirty)

    def __setstate__(self, state: dict[str, Any]) -> None:
        # hwsim snapshots pickle the arrays; one written before row_version existed loads
        # with every row at version 0 (the readers' caches are not saved: they start empty).
        self.__dict__.update(state)
        self.__dict__.setdefault("_rows_indexed", 0)
        if "row_version" not in state:
            self.row_version = np.zeros(len(self.boards), dtype=np.int64)

    def refresh(self) -> None:
        """Take the rows of the boards that changed since the last step (commands, upsets)."""
        if not self._dirty:
            return
        dirty = sorted(self._dirty)
        self._dirty.clear()
        for k in dirty:
            self._load(k, self.boards[k].array_row())
        self._flags()

    def unbind(self) -> None:
        """Hand every board its state back and let it step per object again."""
        self.refresh()
        for board in self.boards:
            board.bind_array_host(None)

    def stored_energy_j(self) -> float:
        """Heat held in the dies, sum of C·T, J."""
        return float(np.dot(self.thermal_mass_j_per_k, self.die_temp_k))

    def step(self, dt_s: float, plate_temp_k: np.ndarray, *, owned: bool = False) -> np.ndarray:
        """Advance every board ``dt_s`` with its plate at ``plate_temp_k`` (one per board,
        held over the step; ``owned``: a float array the caller hands over, kept as the
        boards' plate temperatures instead of a copy). Returns the mean heat flow of each
        board into its plate over the step, W."""
        if not (math.isfinite(dt_s) and dt_s >= 0.0):
            raise ValueError(f"dt_s must be finite and >= 0, got {dt_s}")
        self._drop_columns()
        if self._dirty:
            self.refresh()
        if not owned:
            plate_temp_k = np.array(plate_temp_k, dtype=float)
        die = self.die_temp_k
        self.step_extra_energy_j = 0.0
        self.step_extra_rows = []
        if dt_s == 0.0:
            self.plate_temp_k = plate_temp_k
            self._drop_columns()
            return (die - plate_temp_k) / self.die_to_plate_k_per_w
        if dt_s != self._dt_s:
            self._decay = die_decay(dt_s, self.thermal_mass_j_per_k, self.die_to_plate_k_per_w)
            self._dt_s = dt_s
            self._power_dt_j = None
            self._rate_dt = None
        if self._power_dt_j is None:
            self._power_dt_j = self.power_w * dt_s
        new = die_temp_after_k_array(die, plate_temp_k, self.power_r_k, self._decay)
        heat = heat_to_plate_j_array(self._power_dt_j, die, new, self.thermal_mass_j_per_k)
        heat /= dt_s
        events: np.ndarray | None = None
        rate_dt = None
        if self._any_busy:
            # as BaseBoard: the job ends in this step when what is left <= rate·dt (rate·dt
            # cached like P·dt: the rates change only on events, in _load)
            rate_dt = self._rate_dt
            if rate_dt is None:
                rate_dt = self._rate_dt = self.flops_rate_per_s * dt_s
            events = np.less_equal(np.subtract(self.flops_total, self.flops_done), rate_dt)
        if self._any_booting:
            booted = self.booting & (self.boot_remaining_s <= dt_s)
            events = booted if events is None else events | booted
        throttle = None
        # (count_nonzero: a C call, several times cheaper than ndarray.any on a few hundred)
        if self._throttling or np.count_nonzero(np.greater(new, self.watch_k)):
            throttle = self._throttle(new, dt_s)
            events = throttle[3] if events is None else events | throttle[3]
        # (busy boards make an events array every step; mostly all False: count first)
        event_ks = (
            np.flatnonzero(events).tolist()
            if events is not None and np.count_nonzero(events)
            else []
        )
        # Boards with an event take the whole step per object, from their pre-step row.
        event_heat = [self.boards[k].step_event(dt_s, float(plate_temp_k[k])) for k in event_ks]
        if event_ks:
            # in row order, as a host stepping every board per object would sum them
            rows = [(k, self.boards[k].last_step_extra_energy_j) for k in event_ks]
            extra_j = 0.0
            for _, e in rows:
                extra_j += e
            self.step_extra_energy_j = extra_j
            self.step_extra_rows = rows
        self.die_temp_k = new
        self.plate_temp_k = plate_temp_k
        self.heartbeat += self.alive
        if self._any_booting:
            self.boot_remaining_s -= self.booting * dt_s
        if rate_dt is not None:
            self.flops_done += rate_dt
        if throttle is not None:
            self.hot_timer_s, self.cool_timer_s, self.was_hot = throttle[:3]
        self.time_s += dt_s
        self.epoch += 1
        self._drop_columns()  # the rows asked for during the step are the pre-step ones
        for k, h in zip(event_ks, event_heat, strict=True):
            heat[k] = h
            self._load(k, self.boards[k].array_row())
            self.row_version[k] += 1
        if event_ks or throttle is not None:
            self._flags()
        return heat

    # --- internals ------------------------------------------------------------------------

    def _throttle(
        self, new_k: np.ndarray, dt_s: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """BaseBoard._update_thermal_throttle (and the trip) for every row: the new timers and
        hot flags, and the rows whose level changes or that trip (events)."""
        up = self.up
        hot = up & (new_k > self.throttle_temp_k)
        cold = up & (new_k < self.recover_below_k)
        was = self.was_hot
        staying_hot = hot & was
        hot_timer = self.hot_timer_s + dt_s
        recovering = cold & (self.thermal_level > 0)
        cool_timer = self.cool_timer_s + dt_s
        events = hot & ~was  # first crossing: one level at once
        events |= staying_hot & (hot_timer >= self.throttle_step_s)
        events |= recovering & (cool_timer >= self.throttle_step_s)
        events |= self.powered & (new_k > self.shutdown_temp_k)
        hot_timer = np.where(up, np.where(staying_hot, hot_timer, 0.0), self.hot_timer_s)
        cool_timer = np.where(up, np.where(recovering, cool_timer, 0.0), self.cool_timer_s)
        return hot_timer, cool_timer, np.where(up, hot, was), events

    def _load(self, k: int, row: ArrayRow) -> None:
        self._drop_columns()
        if row.power_w != self.power_w[k]:
            self.power_changed = True
            self._power_dt_j = None
        if row.flops_rate_per_s != self.flops_rate_per_s[k]:
            self._rate_dt = None
        self.die_temp_k[k] = row.die_temp_k
        self.plate_temp_k[k] = row.plate_temp_k
        self.heartbeat[k] = row.heartbeat
        self.boot_remaining_s[k] = row.boot_remaining_s
        self.flops_done[k] = row.flops_done
        self.hot_timer_s[k] = row.hot_timer_s
        self.cool_timer_s[k] = row.cool_timer_s
        self.was_hot[k] = row.was_hot
        self.power_w[k] = row.power_w
        self.power_r_k[k] = row.power_w * float(self.die_to_plate_k_per_w[k])
        self.utilisation[k] = row.utilisation
        self.flops_total[k] = row.flops_total
        self.flops_rate_per_s[k] = row.flops_rate_per_s
        self.booting[k] = row.booting
        self.alive[k] = row.alive
        self.up[k] = row.up
        self.powered[k] = row.powered
        self.thermal_level[k] = row.thermal_level
        if row.up:
            self.watch_k[k] = self.recover_below_k[k]
        elif row.powered:
            self.watch_k[k] = self.shutdown_temp_k[k]
        else:
            self.watch_k[k] = math.inf

    def _flags(self) -> None:
        self._any_booting = bool(self.booting.any())
        self._any_busy = bool((self.flops_rate_per_s > 0.0).any())
        self._throttling = bool(
            (self.thermal_level > 0).any()
            or self.was_hot.any()
            or self.hot_timer_s.any()
            or self.cool_timer_s.any()
        )
