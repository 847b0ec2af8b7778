"""Plug-in boards in hwsim's compute slots: building them, stepping them, their device API.

`PluginSlots` holds the boards that the configuration names by entry-point name (see
`hwsim.config.SlotConfig.board`). The spacecraft model asks it, each physics step, for the
boards' electrical draw (`poll_draw_w`) and hands it the cold-plate temperatures
(`step`), getting back the heat each board delivered into its plate. Boards whose class is
array-steppable (every `BaseBoard` that does not override how it steps: the reference boards,
the example vendor board) are advanced together as numpy arrays by a
`computesat_sdk.arrays.BoardArrays`, their Python running only on events (command, boot and
job end, throttle or trip crossing, upset); any other board's `step` is called every step.
A slot whose plug-in is unknown or refused stays empty with a `fault_reason`; nothing a
plug-in does stops hwsim.

Job results are computed synchronously inside `step` unless `attach_executor` hands the
boards a `hwsim.boards.executor.SlotExecutor` (the serve process does: jobs then run off the
event loop). `gather` moves ready results into per-slot buffers and names the slots that have
some, for ``backplane.await_results``; a slot's ``take_results`` drains its buffer first.

`backplane_columns` serves the backplane read (every slot's `icd.devices.BackplaneSlot`
registers, hwsim's largest read, every mission second) without asking each board: what the
arrays step (die temperature, draw, utilisation, heartbeat) is taken from them as columns, and
what only a board's own Python changes (power state, throttle level, queue, counters, fault) is
kept per board from its last `health` until the arrays say that Python ran (`row_version`: a
command, upset or supply change touches the row, an event steps it per object), the arrays
hold a touched row that they have not taken yet, or the board has results pending (a worker
finishing changes that count without telling anyone but `health`). Boards stepped per object
and empty slots are asked every read. It equals the per-board entries
(`backplane_entry_values`) exactly; tests/unit/hwsim/test_backplane_columns.py checks both.

`board_registers` and `board_command` are the slot device API for a plug-in board (the
registers and commands are the ICD models of `icd.devices.compute`); they map the contract's
errors onto device errors: a `BoardStateError` becomes `device_off` (board off or still
booting) or `device_fault`; a `JobRejected` is a normal answer, `{"accepted": False, ...}`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from computesat_sdk.arrays import BoardArrays, array_steppable
from computesat_sdk.base import BaseBoard, JobExecutor
from computesat_sdk.contract import (
    BoardCapabilities,
    BoardStateError,
    ComputeBoard,
    JobLimits,
    JobRejected,
    JobResult,
    JobSpec,
    PowerState,
    ThermalElectricalModel,
)
from computesat_sdk.kernels import KERNELS
from computesat_sdk.registry import BoardPluginError, BoardRegistry, discover_boards
from pydantic import ValidationError

from hwsim.model.devices import DeviceError
from icd.devices import BackplaneSlot, BoardFault, BoardSlotRegisters, CommandArgs
from icd.devices.compute import (
    CancelJob,
    CancelResult,
    IdentityResult,
    SetThrottle,
    SubmitJob,
    SubmitResult,
    ThrottleResult,
)

__all__ = [
    "FillerShape",
    "PluginSlot",
    "PluginSlots",
    "board_command",
    "board_registers",
    "default_registry",
    "empty_slot_registers",
    "filler_job",
    "filler_shape",
]

_log = logging.getLogger(__name__)


@functools.cache
def default_registry() -> BoardRegistry:
    """The installed plug-ins, discovered once per process (discovery imports and probes)."""
    return discover_boards()


@dataclass
class PluginSlot:
    """One slot configured with a plug-in: its board, or why it is empty."""

    slot_index: int
    slot_id: str
    board_name: str
    board: ComputeBoard | None
    fault_reason: str = ""
    thermal: ThermalElectricalModel | None = None
    live_index: int = -1  # position in PluginSlots.boards, -1 if empty
    ready: list[JobResult] = field(default_factory=list)  # taken by gather, not yet drained


class PluginSlots:
    """The plug-in boards of a spacecraft, with per-board arrays for the physics step."""

    ARRAY_STEPPING = True
    """Step array-steppable boards as arrays (False: every board per object, as before; the
    tests compare the two)."""

    def __init__(
        self,
        slots: Sequence[tuple[int, str, str]],
        slot_plate: np.ndarray,
        plate_temp_k: np.ndarray,
        registry: BoardRegistry,
        power_on: Sequence[bool],
        mission_time_s: float = 0.0,
    ) -> None:
        """``slots``: (slot index, slot id, board name) for every slot naming a plug-in;
        ``mission_time_s``: the boards' clock at model time 0."""
        self.by_slot: dict[int, PluginSlot] = {}
        self.refused: list[dict[str, str]] = [
            {"name": r.name, "reason": r.reason} for r in registry.refused
        ]
        boards: list[ComputeBoard] = []
        live: list[int] = []
        for (i, sid, name), on in zip(slots, power_on, strict=True):
            board: ComputeBoard | None = None
            reason = ""
            thermal: ThermalElectricalModel | None = None
            try:
                board = registry.create(
                    name,
                    f"slot.{sid}",
                    mission_time_s=mission_time_s,
                    initial_temp_k=float(plate_temp_k[slot_plate[i]]),
                )
                thermal = board.thermal_model()
                if on:
                    board.power_on()
            except KeyError:
                refused = [r.reason for r in registry.refused if r.name == name]
                reason = (
                    f"plug-in {name} refused: {refused[0]}"
                    if refused
                    else f"plug-in {name} unknown: no such computesat.boards entry point"
                )
                board = None
            except Exception as exc:
                # A plug-in that cannot build a board here must not stop hwsim.
                detail = exc.reason if isinstance(exc, BoardPluginError) else repr(exc)
                reason = f"plug-in {name} refused: {detail}"
                board = None
            if board is None:
                thermal = None
                if not any(r["name"] == name for r in self.refused):
                    self.refused.append({"name": name, "reason": reason})
                _log.warning("slot.%s is empty: %s", sid, reason)
            slot = PluginSlot(i, sid, name, board, reason, thermal)
            if board is not None:
                slot.live_index = len(boards)
                boards.append(board)
                live.append(i)
            self.by_slot[i] = slot
        self.boards = boards
        self.live_slots = np.array(live, dtype=np.int64)
        self.plates = slot_plate[self.live_slots] if live else np.zeros(0, dtype=np.int64)
        n = len(boards)
        self.thermal_mass_j_per_k = np.array(
            [b.thermal_model().thermal_mass_j_per_k for b in boards], dtype=float
        )
        self.die_to_plate_k_per_w = np.array(
            [b.thermal_model().die_to_plate_k_per_w for b in boards], dtype=float
        )
        # what a board draws when its slot has supply and it is off (management), W: the
        # slot bills it when its supply comes back (the board draws 0 W until then)
        self.off_w = np.array([b.thermal_model().off_w for b in boards], dtype=float)
        self.draw_w = np.zeros(n)
        self.heat_w = np.zeros(n)
        # electrical energy the boards drew over the last step beyond draw × dt (a boot or job
        # ending inside it; BaseBoard.last_step_extra_energy_j), J: the slots bill it
        self.step_extra_energy_j = 0.0
        # board_overtemp on a plug-in: extra resistance R_x in series with the board's own
        # R_die, and extra dissipation Q_e in the die. The board owns its die, so the slot
        # sets the temperature the board sees at its plate interface: the massless node
        # between R_die and R_x, from the die temperature at the start of the step (not
        # from the last step's heat: that lagged feedback diverged for R_x >= 1.5 R_die).
        # Steady state exact (die = plate + (P + Q_e)(R_die + R_x)), stable for any step.
        # Written by set_overtemp only, which keeps overtemp_active (any non-zero).
        self.extra_r_k_per_w = np.zeros(n)
        self.extra_heat_w = np.zeros(n)
        self.overtemp_active = False
        fast = [k for k, b in enumerate(boards) if self.ARRAY_STEPPING and array_steppable(b)]
        self.arrays: BoardArrays | None = None
        if fast:
            self.arrays = BoardArrays([boards[k] for k in fast], mission_time_s)  # type: ignore[misc]
        self._fast = np.array(fast, dtype=np.int64)
        self._all_fast = len(fast) == n
        self._slow = [k for k in range(n) if k not in set(fast)]
        self._bind_slow()
        # Boards that said a result may be ready (indices into boards); boards that cannot
        # say so (not a BaseBoard) are asked on every gather instead.
        self._marked: set[int] = set()
        self._unhooked: list[int] = []
        self._notify: Callable[[], None] | None = None
        self._bp: _BackplaneCache | None = None  # backplane_columns' cache, built on first read

    def attach_executor(
        self, executor: JobExecutor | None, notify: Callable[[], None] | None = None
    ) -> None:
        """Compute the boards' results with ``executor`` (None: synchronously, in `step`).

        ``notify`` (thread-safe) is called whenever a board may have a result ready. Only
        `BaseBoard` boards can hand their work out; any other board computes in `step` and is
        polled by `gather`.
        """
        self._notify = notify
        self._unhooked = []
        hooked = []
        for k, board in enumerate(self.boards):
            if isinstance(board, BaseBoard):
                board.attach_executor(executor, functools.partial(self._mark, k))
                hooked.append(k)
            else:
                self._unhooked.append(k)
        # Boards restored from a snapshot may hold results already (a worker's result saved
        # as its outcome has no callback left to announce it): look at every board once.
        self._marked.update(hooked)
        if notify is not None and hooked:
            notify()

    def _mark(self, k: int) -> None:
        self._marked.add(k)  # set.add is atomic: this runs on worker threads too
        if self._notify is not None:
            self._notify()

    def gather(self) -> list[str]:
        """Take ready results into the slots' buffers; the slot ids (``slot.NNN``) that hold
        results, in slot order."""
        marked = list(self._marked)
        self._marked.difference_update(marked)
        for k in {*marked, *self._unhooked}:
            taken = self.boards[k].take_results()
            if taken:
                self.by_slot[int(self.live_slots[k])].ready.extend(taken)
        return [f"slot.{s.slot_id}" for _, s in sorted(self.by_slot.items()) if s.ready]

    def _bind_slow(self) -> None:
        # bound methods of the boards stepped per object, cached for the hot loop
        self._steps = [self.boards[k].step for k in self._slow]
        self._draws = [self.boards[k].power_draw_w for k in self._slow]

    def __getstate__(self) -> dict[str, Any]:
        # Snapshots (hwsim.snapshot) save the boards, not the bound methods cached from them.
        # Nor the backplane cache: a restored model reads every board once and caches anew.
        state = dict(self.__dict__)
        del state["_steps"], state["_draws"]
        state["_bp"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.__dict__.setdefault("_bp", None)
        self._bind_slow()

    def set_overtemp(self, k: int, extra_r_k_per_w: float, extra_heat_w: float) -> None:
        """board_overtemp on board ``k`` (0, 0: cleared)."""
        self.extra_r_k_per_w[k] = extra_r_k_per_w
        self.extra_heat_w[k] = extra_heat_w
        self.overtemp_active = bool(
            np.count_nonzero(self.extra_r_k_per_w) or np.count_nonzero(self.extra_heat_w)
        )

    @property
    def empty(self) -> dict[int, str]:
        """Slot index -> fault reason of every empty slot."""
        return {i: s.fault_reason for i, s in self.by_slot.items() if s.board is None}

    def poll_draw_w(self) -> bool:
        """Refresh the boards' electrical draw; True if any changed since the last poll."""
        arrays = self.arrays
        if self._all_fast:
            assert arrays is not None
            arrays.refresh()
            if not arrays.power_changed:
                return False
            arrays.power_changed = False
            new = arrays.power_w.copy()
            if np.array_equal(new, self.draw_w):
                return False
            self.draw_w = new
            return True
        new = self.draw_w.copy()
        if arrays is not None:
            arrays.refresh()
            new[self._fast] = arrays.power_w
            arrays.power_changed = False
        for k, draw in zip(self._slow, self._draws, strict=True):
            new[k] = draw()
        if np.array_equal(new, self.draw_w):
            return False
        self.draw_w = new
        return True

    def step(self, dt_s: float, plate_temp_k: np.ndarray) -> np.ndarray:
        """Step every board with its plate temperature; heat into each plate, W."""
        seen = plate_temp_k.take(self.plates)
        if self.overtemp_active:
            # node = a·die + (1 - a)·plate, a = R_x / (R_die + R_x); the board's die equation
            # C·dT = P - (T - seen)/R_die equals the true one with Q_e for seen = node + Q_e·R_die
            r_die = self.die_to_plate_k_per_w
            a = self.extra_r_k_per_w / (r_die + self.extra_r_k_per_w)
            seen = a * self.die_temp_k() + (1.0 - a) * seen + self.extra_heat_w * r_die
        arrays = self.arrays
        if self._all_fast:
            assert arrays is not None
            heat = arrays.step(dt_s, seen, owned=True)
            self.step_extra_energy_j = arrays.step_extra_energy_j
        else:
            heat = np.zeros(len(self.boards))
            extra = [0.0] * len(self.boards)
            if arrays is not None:
                heat[self._fast] = arrays.step(dt_s, seen[self._fast])
                for row, e in arrays.step_extra_rows:
                    extra[int(self._fast[row])] = e
            temps = seen.tolist()
            for k, step in zip(self._slow, self._steps, strict=True):
                heat[k] = step(dt_s, temps[k])
                extra[k] = getattr(self.boards[k], "last_step_extra_energy_j", 0.0)
            extra_j = 0.0
            for e in extra:  # in board order, as the arrays sum theirs
                extra_j += e
            self.step_extra_energy_j = extra_j
        self.heat_w = heat
        return heat

    def die_temp_k(self) -> np.ndarray:
        """Every board's die temperature, K (the arrays' rows, no health() per board)."""
        temps = np.zeros(len(self.boards))
        if self.arrays is not None:
            temps[self._fast] = self.arrays.die_temp_k
        for k in self._slow:
            temps[k] = self.boards[k].health().die_temp_k
        return temps

    def stored_energy_j(self) -> float:
        """Heat held in the boards' dies, sum of C·T (for the energy balance)."""
        temps = self.die_temp_k()
        return float(np.dot(self.thermal_mass_j_per_k, temps)) if len(temps) else 0.0

    def backplane_columns(
        self,
        supplied: np.ndarray,
        extra_w: np.ndarray,
        entry: Callable[[int], dict[str, Any]],
    ) -> dict[str, list[Any]]:
        """The backplane registers on the wire (``slot``, then one column per
        `icd.devices.BackplaneSlot` register, slots in index order), equal to asking
        ``entry(i)`` for every slot (`backplane_entry_values`) but asking it only for the slots
        that need it (see the module doc). ``supplied``, ``extra_w``: per slot index of the
        host (supply "on"; a board_overtemp's extra heat, W), read here for the board rows."""
        arrays = self.arrays
        if arrays is None or _ENTRY_REST:
            return _columns_of(
                [s.slot_id for _, s in sorted(self.by_slot.items())],
                [entry(i) for i in sorted(self.by_slot)],
            )
        bp = self._bp
        if bp is None or bp.arrays is not arrays:
            bp = self._bp = _BackplaneCache(self, arrays)
        return bp.read(arrays, supplied, extra_w, entry)


# --------------------------------------------------------------------------------- device API


def _empty_reason(slot: PluginSlot) -> BoardFault:
    unknown = slot.fault_reason.startswith(f"plug-in {slot.board_name} unknown")
    return BoardFault.PLUGIN_UNKNOWN if unknown else BoardFault.PLUGIN_REFUSED


def empty_slot_registers(
    slot: PluginSlot,
    plate_temp_k: float,
    inlet_temp_k: float,
    supply: str = "on",
    loop_id: str = "",
) -> BoardSlotRegisters:
    """Registers of a slot whose plug-in is unknown or refused."""
    return BoardSlotRegisters(
        **empty_slot_values(slot, plate_temp_k, inlet_temp_k, supply, loop_id)
    )


def empty_slot_values(
    slot: PluginSlot,
    plate_temp_k: float,
    inlet_temp_k: float,
    supply: str = "on",
    loop_id: str = "",
) -> dict[str, Any]:
    """:func:`empty_slot_registers` as the wire map, without building the model."""
    return {
        "board": slot.board_name,
        "present": False,
        "kind": "",
        "vendor": "",
        "part_number": "",
        "firmware_version": "",
        "power_state": PowerState.OFF.value,
        "supply": supply,
        "powered": False,
        "die_temp_k": plate_temp_k,
        "memory_temp_k": plate_temp_k,
        "plate_temp_k": plate_temp_k,
        "inlet_temp_k": inlet_temp_k,
        "max_die_temp_k": 0.0,
        "overtemp": False,
        "power_w": 0.0,
        "current_a": 0.0,
        "utilisation": 0.0,
        "correctable_errors": 0,
        "uncorrectable_errors": 0,
        "seu_count": 0,
        "throttle_level": 0,
        "commanded_throttle_level": 0,
        "heartbeat": 0,
        "jobs_queued": 0,
        "jobs_running": 0,
        "active_job_id": -1,
        "jobs_completed": 0,
        "jobs_failed": 0,
        "results_pending": 0,
        "boot_count": 0,
        "latchup": False,
        "fault_reason": _empty_reason(slot).value,
        "fault_detail": slot.fault_reason,
        "loop_id": loop_id,
    }


def _job_id_int(job_id: str | None) -> int:
    if job_id is None:
        return -1
    try:
        return int(job_id)
    except ValueError:
        return -1


def _fault(reason: str | None) -> tuple[BoardFault, str]:
    """The contract's free-text fault reason as the ICD enum, with the text as detail."""
    if not reason:
        return BoardFault.NONE, ""
    try:
        fault = BoardFault(reason)
    except ValueError:
        return BoardFault.OTHER, reason
    if fault in (BoardFault.LATCH_UP, BoardFault.OVER_TEMPERATURE):
        return fault, ""
    return BoardFault.OTHER, reason


def board_registers(
    slot: PluginSlot,
    *,
    supply: str,
    power_w: float,
    plate_temp_k: float,
    inlet_temp_k: float,
    bus_voltage_v: float,
    seu_count: int,
    loop_id: str = "",
) -> BoardSlotRegisters:
    """The slot registers of a plug-in board (``icd.devices.BoardSlotRegisters``);
    ``loop_id``: the coolant loop of the slot's cold plate."""
    return BoardSlotRegisters(
        **board_register_values(
            slot,
            supply=supply,
            power_w=power_w,
            plate_temp_k=plate_temp_k,
            inlet_temp_k=inlet_temp_k,
            bus_voltage_v=bus_voltage_v,
            seu_count=seu_count,
            loop_id=loop_id,
        )
    )


def board_register_values(
    slot: PluginSlot,
    *,
    supply: str,
    power_w: float | None,
    plate_temp_k: float,
    inlet_temp_k: float,
    bus_voltage_v: float,
    seu_count: int,
    extra_w: float = 0.0,
    loop_id: str = "",
) -> dict[str, Any]:
    """:func:`board_registers` as the wire map (enums as their values), without building the
    model: the backplane takes its columns from these (hwsim serves it every second for 160
    slots); the device-ICD tests check that the two agree. ``power_w`` None: the board's own
    draw in its health (plus ``extra_w``) while its supply is on, else 0 (one call of the
    board fewer)."""
    board = slot.board
    if board is None:
        return empty_slot_values(slot, plate_temp_k, inlet_temp_k, supply, loop_id)
    h = board.health()
    if power_w is None:
        power_w = float(h.power_w + extra_w) if supply == "on" else 0.0
    ident = board.identity
    thermal = slot.thermal
    assert thermal is not None
    fault, detail = _fault(h.fault_reason)
    die_k = float(h.die_temp_k)
    return {
        "board": slot.board_name,
        "present": True,
        "kind": ident.kind.value,
        "vendor": ident.vendor,
        "part_number": ident.part_number,
        "firmware_version": ident.firmware_version,
        "power_state": h.power_state.value,
        "supply": supply,
        "powered": power_w > 0.0,
        "die_temp_k": die_k,
        "memory_temp_k": float(h.memory_temp_k),
        "plate_temp_k": plate_temp_k,
        "inlet_temp_k": inlet_temp_k,
        "max_die_temp_k": float(thermal.max_die_temp_k),
        "overtemp": bool(die_k > thermal.max_die_temp_k),
        "power_w": power_w,
        "current_a": power_w / max(bus_voltage_v, 1.0),
        "utilisation": float(h.utilisation),
        "correctable_errors": int(h.correctable_errors),
        "uncorrectable_errors": int(h.uncorrectable_errors),
        "seu_count": seu_count,
        "throttle_level": int(h.throttle_level),
        "commanded_throttle_level": int(h.commanded_throttle_level),
        "heartbeat": int(h.heartbeat),
        "jobs_queued": int(h.queued_jobs),
        "jobs_running": 0 if h.active_job_id is None else 1,
        "active_job_id": _job_id_int(h.active_job_id),
        "jobs_completed": int(h.jobs_completed),
        "jobs_failed": int(h.jobs_failed),
        "results_pending": int(h.results_pending),
        "boot_count": int(h.boot_count),
        "latchup": fault is BoardFault.LATCH_UP,
        "fault_reason": fault.value,
        "fault_detail": detail,
        "loop_id": loop_id,
    }


_ENTRY_FAST = (
    "board",
    "power_state",
    "die_temp_k",
    "power_w",
    "utilisation",
    "throttle_level",
    "heartbeat",
    "jobs_queued",
    "jobs_running",
    "results_pending",
    "correctable_errors",
    "uncorrectable_errors",
    "boot_count",
    "fault_reason",
    "loop_id",
)


def backplane_entry_values(
    slot: PluginSlot,
    *,
    supply: str,
    extra_w: float,
    plate_temp_k: float,
    inlet_temp_k: float,
    bus_voltage_v: float,
    seu_count: int,
    loop_id: str = "",
) -> dict[str, Any]:
    """The slot's backplane entry (``icd.devices.BackplaneSlot`` registers, wire values): the
    ones it shares with :func:`board_register_values` computed alone from the board's
    health (hwsim serves 160 of them every mission second); an entry register this does not
    know yet is taken from the full register values."""
    board = slot.board
    if board is None or _ENTRY_REST:
        full = board_register_values(
            slot,
            supply=supply,
            power_w=None,
            extra_w=extra_w,
            plate_temp_k=plate_temp_k,
            inlet_temp_k=inlet_temp_k,
            bus_voltage_v=bus_voltage_v,
            seu_count=seu_count,
            loop_id=loop_id,
        )
        return {name: full[name] for name in BackplaneSlot.model_fields}
    h = board.health()
    return {
        "board": slot.board_name,
        "power_state": h.power_state.value,
        "die_temp_k": float(h.die_temp_k),
        "power_w": float(h.power_w + extra_w) if supply == "on" else 0.0,
        "utilisation": float(h.utilisation),
        "throttle_level": int(h.throttle_level),
        "heartbeat": int(h.heartbeat),
        "jobs_queued": int(h.queued_jobs),
        "jobs_running": 0 if h.active_job_id is None else 1,
        "results_pending": int(h.results_pending),
        "correctable_errors": int(h.correctable_errors),
        "uncorrectable_errors": int(h.uncorrectable_errors),
        "boot_count": int(h.boot_count),
        "fault_reason": _fault(h.fault_reason)[0].value,
        "loop_id": loop_id,
    }


# BackplaneSlot registers backplane_entry_values does not compute itself (none today)
_ENTRY_REST = frozenset(BackplaneSlot.model_fields) - frozenset(_ENTRY_FAST)

# The entry registers backplane_columns takes from the arrays (stepped every step: die,
# heartbeat; and the draw and utilisation, which the arrays hold for the board anyway) ...
_ENTRY_STEPPED = ("die_temp_k", "power_w", "utilisation", "heartbeat")
# ... and those only the board's own Python changes (kept per board between its events).
_ENTRY_EVENT = tuple(n for n in _ENTRY_FAST if n not in _ENTRY_STEPPED)
_ENTRY_NAMES = tuple(BackplaneSlot.model_fields)


def _columns_of(ids: list[str], rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """The backplane's columns from per-slot entries (the per-board path)."""
    out: dict[str, list[Any]] = {"slot": ids}
    for name in _ENTRY_NAMES:
        out[name] = [row[name] for row in rows]
    return out


class _BackplaneCache:
    """`PluginSlots.backplane_columns`: the slots' layout against the arrays' rows, and per
    slot the event registers of its board's last entry with the arrays' row version then.

    Positions are the slots in index order (the backplane's order). A board the arrays step
    has its row; any other slot (a board stepped per object or with its own ``health``, an
    empty slot) is asked every read."""

    def __init__(self, plug: PluginSlots, arrays: BoardArrays) -> None:
        order = sorted(plug.by_slot)
        self.arrays = arrays
        self.slots = np.array(order, dtype=np.int64)  # slot index of each position
        self.ids = [plug.by_slot[i].slot_id for i in order]
        # A board whose class reports its own health (an override the arrays do not know)
        # is asked every read, as a board stepped per object is.
        row_of_board = {
            k: r
            for r, k in enumerate(plug._fast.tolist())
            if type(plug.boards[k]).health is BaseBoard.health
        }
        rows = np.array(
            [row_of_board.get(plug.by_slot[i].live_index, -1) for i in order], dtype=np.int64
        )
        self.n = len(order)
        self.fast_pos = np.flatnonzero(rows >= 0)
        self.fast_rows = rows[self.fast_pos]
        self.fast_slots = self.slots[self.fast_pos]
        self.pos_of_row = {r: p for p, r in enumerate(rows.tolist()) if r >= 0}
        self.other_pos = np.flatnonzero(rows < 0).tolist()
        # every slot a row, in row order: the arrays' columns are the backplane's as they are
        self.identity = self.n == len(arrays.boards) and bool(
            np.array_equal(self.fast_rows, np.arange(self.n))
        )
        # ... and the slots are the host's first ones (with as many host slots, its per-slot
        # arrays are in position order)
        self.first_slots = self.identity and bool(np.array_equal(self.slots, np.arange(self.n)))
        # row version each fast position's cached registers are for (-1: none yet)
        self.version = np.full(len(self.fast_pos), -1, dtype=np.int64)
        self.cached: dict[str, list[Any]] = {name: [None] * self.n for name in _ENTRY_EVENT}
        self.pending: set[int] = set()  # positions whose board had results pending

    def read(
        self,
        arrays: BoardArrays,
        supplied: np.ndarray,
        extra_w: np.ndarray,
        entry: Callable[[int], dict[str, Any]],
    ) -> dict[str, list[Any]]:
        identity = self.identity
        row_version = arrays.row_version
        versions = row_version if identity else row_version[self.fast_rows]
        ask = set(self.other_pos)
        changed = versions != self.version
        if np.count_nonzero(changed):  # (a C call; most reads nothing changed)
            stale = np.flatnonzero(changed)
            ask.update(stale.tolist() if identity else self.fast_pos[stale].tolist())
            # the versions before asking: a board touched while asked is asked again next read
            self.version[stale] = versions[stale]
        # a worker that finished since makes the board's health deliver it (the count drops)
        ask |= self.pending
        touched = arrays.touched
        if touched:
            # the arrays' draw and utilisation of these rows are stale until the next step
            # (a row without a position here is asked every read anyway)
            pos_of_row = self.pos_of_row
            ask.update(pos_of_row[r] for r in touched if r in pos_of_row)
        cached = self.cached
        asked: list[tuple[int, dict[str, Any]]] = []
        for p in sorted(ask):
            values = entry(int(self.slots[p]))
            for name in _ENTRY_EVENT:
                cached[name][p] = values[name]
            if values["results_pending"]:
                self.pending.add(p)
            else:
                self.pending.discard(p)
            asked.append((p, values))
        if identity:
            if not (self.first_slots and len(supplied) == self.n):
                supplied = supplied[self.fast_slots]
                extra_w = extra_w[self.fast_slots]
            stepped = {
                "die_temp_k": arrays.die_temp_k.tolist(),
                "power_w": np.where(supplied, arrays.power_w + extra_w, 0.0).tolist(),
                "utilisation": arrays.utilisation.tolist(),
                "heartbeat": arrays.heartbeat.tolist(),
            }
        else:
            stepped = self._scattered(arrays, supplied, extra_w)
        out: dict[str, list[Any]] = {"slot": list(self.ids)}
        for name in _ENTRY_NAMES:
            column = stepped.get(name)
            out[name] = list(cached[name]) if column is None else column
        for p, values in asked:
            for name in _ENTRY_STEPPED:
                out[name][p] = values[name]
        return out

    def _scattered(
        self, arrays: BoardArrays, supplied: np.ndarray, extra_w: np.ndarray
    ) -> dict[str, list[Any]]:
        """The stepped columns when not every slot is an arrays row in row order (the other
        positions are placeholders, overwritten by their entries)."""
        rows, pos, slots = self.fast_rows, self.fast_pos, self.fast_slots
        power = np.where(supplied[slots], arrays.power_w[rows] + extra_w[slots], 0.0)
        out: dict[str, list[Any]] = {}
        for name, values in (
            ("die_temp_k", arrays.die_temp_k[rows]),
            ("power_w", power),
            ("utilisation", arrays.utilisation[rows]),
            ("heartbeat", arrays.heartbeat[rows]),
        ):
            column = np.zeros(self.n, dtype=values.dtype)
            column[pos] = values
            out[name] = column.tolist()
        return out


def _state_error(where: str, exc: BoardStateError) -> DeviceError:
    # The board is not up (off, or still booting): "device_off"; anything else it refuses
    # (latched up, hot, busy...) is a fault of the board.
    code = "device_off" if exc.state in (PowerState.OFF, PowerState.BOOTING) else "device_fault"
    return DeviceError(code, f"{where}: {exc}")


def board_command(slot: PluginSlot, command: str, args: CommandArgs) -> dict[str, Any]:
    """Execute a slot command on a plug-in board; returns the command's result dict.

    ``args`` is the validated ICD command model (``icd.devices.BOARD_SLOT.parse_args``); the
    caller has checked the slot's supply.
    """
    where = f"slot.{slot.slot_id}.{command}"
    board = slot.board
    if board is None:
        raise DeviceError("device_fault", f"slot.{slot.slot_id} is empty: {slot.fault_reason}")
    try:
        if command == "power_on":
            if board.state is not PowerState.OFF:
                raise DeviceError(
                    "device_fault", f"{where}: board is already powered ({board.state.value})"
                )
            board.power_on()
            return {}
        if command == "power_off":
            board.power_off()
            return {}
        if command == "power_cycle":
            board.power_cycle()
            return {}
        if command == "reset":
            board.reset()
            return {}
        if command == "self_test":
            return board.self_test().model_dump(mode="json")
        if command == "identity":
            return IdentityResult(
                identity=board.identity,
                capabilities=board.capabilities(),
                thermal=board.thermal_model(),
                limits=board.job_limits(),
            ).model_dump(mode="json")
        if isinstance(args, SubmitJob):
            return _submit(board, args, where)
        if isinstance(args, CancelJob):
            return CancelResult(cancelled=bool(board.cancel(str(args.job_id)))).model_dump()
        if command == "take_results":
            results = [*slot.ready, *board.take_results()]
            slot.ready.clear()
            return {"results": [r.model_dump(mode="json") for r in results]}
        if isinstance(args, SetThrottle):
            try:
                board.set_throttle(args.level)
            except ValueError as exc:
                raise DeviceError("bad_argument", f"{where}: level: {exc}") from None
            return ThrottleResult(throttle_level=int(board.health().throttle_level)).model_dump()
    except BoardStateError as exc:
        raise _state_error(where, exc) from None
    raise DeviceError("unknown_command", f"{where}: no such command")


def _submit(board: ComputeBoard, args: SubmitJob, where: str) -> dict[str, Any]:
    try:
        job = JobSpec(
            job_id=str(args.job_id),
            kernel=args.kernel.value,
            size=args.size,
            seed=args.seed,
            iterations=args.iterations,
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        raise DeviceError("bad_argument", f"{where}: {field}: {err['msg']}") from None
    state = board.state
    if state in (PowerState.OFF, PowerState.BOOTING):
        raise DeviceError("device_off", f"{where}: board is {state.value}, not up")
    if state is PowerState.FAULT:
        raise DeviceError("device_fault", f"{where}: board is in fault")
    try:
        board.submit(job)
    except JobRejected as exc:
        refused = SubmitResult(accepted=False, reject_code=int(exc.code), reason=exc.reason)
        return refused.model_dump()
    return SubmitResult(accepted=True).model_dump(exclude_none=True)


# ----------------------------------------------------------------------- filler jobs (what-if runs)


class FillerShape(NamedTuple):
    """A filler job's shape (see `filler_shape`)."""

    kernel: str
    size: int
    iterations: int
    duration_s: float  # at full speed


# filler kernels in order of preference, and the size a filler starts from
_FILLER_KERNELS = ("mlp_inference", "matmul")
_FILLER_MIN_SIZE = 64


def filler_shape(
    capabilities: BoardCapabilities, limits: JobLimits, duration_s: float
) -> FillerShape | None:
    """The shape of a job that keeps a board busy for about ``duration_s`` at full speed, as a
    user makes a long job within the board's limits: per filler kernel the board runs, its
    size doubled from 64 (up to ``limits.max_size``) until the iterations are within
    ``limits.max_iterations``. The first filler kernel whose job lasts ``duration_s``; if
    none does, the longest of them (the largest size at the most iterations). None if the
    board runs no filler kernel."""
    longest: FillerShape | None = None
    for kernel in _FILLER_KERNELS:
        rate = capabilities.kernel_flops_per_s.get(kernel)
        largest = limits.max_size.get(kernel)
        if rate is None or largest is None:
            continue
        size = min(_FILLER_MIN_SIZE, largest)
        while True:
            flops = KERNELS[kernel].flops(size)
            iterations = max(1, int(rate * duration_s / flops))
            if iterations <= limits.max_iterations or size >= largest:
                break
            size = min(2 * size, largest)
        if iterations <= limits.max_iterations:
            return FillerShape(kernel, size, iterations, iterations * flops / rate)
        iterations = limits.max_iterations
        shape = FillerShape(kernel, size, iterations, iterations * flops / rate)
        if longest is None or shape.duration_s > longest.duration_s:
            longest = shape
    return longest


def filler_job(board: ComputeBoard, job_id: str, duration_s: float = 600.0) -> JobSpec | None:
    """A job that keeps ``board`` busy for about ``duration_s`` at full speed, within its
    limits (`filler_shape`); None if it runs no filler kernel."""
    shape = filler_shape(board.capabilities(), board.job_limits(), duration_s)
    if shape is None:
        return None
    return JobSpec(
        job_id=job_id,
        kernel=shape.kernel,
        size=shape.size,
        seed=1,
        iterations=shape.iterations,
    )
