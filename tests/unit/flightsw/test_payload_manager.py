"""The payload manager's logic against real reference boards behind a test double of the
device port.

The boards are the installed plug-ins (the computesat_sdk.contract contract) in hwsim's own
slot objects, stepped here in mission time the way an hwsim slot steps them; their registers
and commands are hwsim's (``board_registers``, ``board_command``, the ICD command models) and
every request goes through hwsim's port handler and the real DevicePort client, msgpack and
ICD validation included. Only the budgets (battery, loops) are set by hand, as real ICD
models. So scheduling, redundancy, watchdog, latch-up and throttling are checked cycle by
cycle, deterministically, without processes or sockets, against the hardware's behaviour
rather than a copy of it.
"""

from __future__ import annotations

from typing import Any

import pytest
from computesat_sdk import kernels
from computesat_sdk.contract import ComputeBoard, UpsetKind
from computesat_sdk.registry import discover_boards

from flightsw.messages import TcDispatch
from flightsw.services.payload import Config, PayloadManager
from hwsim.boards.slots import PluginSlot, board_command, board_registers
from hwsim.model.devices import DeviceError
from hwsim.ports import PortServer, device_handler
from icd import dictionary as dic
from icd.device import DeviceReply, DeviceRequest
from icd.devices import (
    BackplaneRegisters,
    BackplaneSlot,
    BatteryRegisters,
    CommandArgsInvalid,
    LoopRegisters,
    PowerState,
)
from icd.devices.compute import BOARD_SLOT
from icd.dictionary import EventId, JobState, SubmitJob
from icd.errors import ErrorCode
from runtime.ports import DevicePort

_NS = 1_000_000_000
PLATE_K = 300.0
BUS_V = 120.0


class FakeClock:
    def __init__(self) -> None:
        self.ns = 1_000 * _NS

    def now_ns(self) -> int:
        return self.ns


class FakeHardware:
    """hwsim's plug-in slots with their boards, a battery and two loops: the device model
    hwsim's port handler serves (``device_ids``/``describe``/``read``/``command``)."""

    def __init__(self, clock: FakeClock, board_names: list[str]) -> None:
        registry = discover_boards()
        self.clock = clock
        self.slots: dict[str, PluginSlot] = {}
        for i, name in enumerate(board_names, start=1):
            board = registry.create(name, f"slot.{i:03d}", initial_temp_k=PLATE_K)
            self.slots[f"slot.{i:03d}"] = PluginSlot(
                i - 1, f"{i:03d}", name, board, thermal=board.thermal_model()
            )
        self.boards: dict[str, ComputeBoard] = {
            d: s.board for d, s in self.slots.items() if s.board is not None
        }
        self.soc = 0.9
        self.supply_k = 300.0
        self.flow_kg_s = 2.0
        self.commands: list[tuple[str, str, dict[str, Any]]] = []
        self.broken: set[str] = set()
        self.extra_power_w: dict[str, float] = {}

    def step(self, dt_s: float) -> None:
        for board in self.boards.values():
            board.step(dt_s, PLATE_K)
        self.clock.ns += round(dt_s * _NS)

    def device_ids(self) -> list[str]:
        return ["battery", "loop.L1", "loop.L2", *self.slots, "backplane"]

    def describe(self, device: str) -> Any:
        raise DeviceError("unknown_device", "describe is not part of this double")

    def _slot_registers(self, device: str):
        slot = self.slots[device]
        assert slot.board is not None
        return board_registers(
            slot,
            supply="on",
            power_w=slot.board.power_draw_w() + self.extra_power_w.get(device, 0.0),
            plate_temp_k=PLATE_K,
            inlet_temp_k=self.supply_k,
            bus_voltage_v=BUS_V,
            seu_count=0,
        )

    def read(self, device: str) -> dict[str, Any]:
        if device in self.broken:
            raise DeviceError("device_fault", "broken on purpose")
        if device == "backplane":
            slots = {d[5:]: BackplaneSlot.of(self._slot_registers(d)) for d in self.slots}
            return BackplaneRegisters(slots=slots).wire()
        if device in self.slots:
            return self._slot_registers(device).wire()
        if device == "battery":
            return BatteryRegisters(
                soc=self.soc,
                voltage_v=BUS_V,
                current_a=0.0,
                power_w=0.0,
                temp_k=293.0,
                cell_faults=0,
                capacity_wh=100_000.0,
            ).wire()
        if device.startswith("loop."):
            return LoopRegisters(
                flow_kg_s=self.flow_kg_s,
                pressure_kpa=200.0,
                delta_p_kpa=50.0,
                supply_temp_k=self.supply_k,
                return_temp_k=self.supply_k + 10.0,
                inventory_kg=50.0,
                heat_load_w=0.0,
            ).wire()
        raise DeviceError("unknown_device", device)

    def command(self, device: str, command: str, args: dict[str, Any]) -> dict[str, Any]:
        self.commands.append((device, command, args))
        if device not in self.slots:
            raise DeviceError("unknown_device", device)
        if command not in BOARD_SLOT.commands:
            raise DeviceError("unknown_command", command)
        try:
            parsed = BOARD_SLOT.parse_args(device, command, args)
        except CommandArgsInvalid as exc:
            raise DeviceError("bad_argument", str(exc)) from None
        return board_command(self.slots[device], command, parsed)


class HardwarePort(DevicePort):
    """The real DevicePort client with its transport replaced by hwsim's port server."""

    def __init__(self, clock: FakeClock, hardware: FakeHardware) -> None:
        super().__init__(None, "inproc://payload-test", clock)  # type: ignore[arg-type]
        handler = device_handler(hardware, clock)  # type: ignore[arg-type]
        self._server = PortServer(None, self.endpoint, clock, handler, "test")  # type: ignore[arg-type]

    async def _exchange(self, request: DeviceRequest) -> DeviceReply:
        return DeviceReply.unpack(self._server.answer(request.pack()).pack())


class Recorder:
    """The ServiceContext surface the manager uses, recording what it publishes."""

    def __init__(self, clock: FakeClock, devices: DevicePort) -> None:
        self.clock = clock
        self.devices = devices
        self.events: list[tuple[int, str]] = []
        self.tms: list[tuple[int, int, bytes, bytes | None]] = []
        self.params: dict[str, float | None] = {}  # None = declared invalid
        self.progress_reports: list[tuple[bytes, str, int]] = []

    def event(self, event_id: int, message: str) -> None:
        self.events.append((int(event_id), message))

    def parameter_map(self, values: dict[str, float], invalid: tuple[str, ...] = ()) -> None:
        self.params.update(values)
        self.params.update(dict.fromkeys(invalid))

    def tm(self, apid, service, subservice, data=b"", reply_to=None) -> None:
        assert apid == dic.Apid.PAYLOAD and service == 140
        self.tms.append((service, subservice, data, reply_to))

    def progress(self, request_id, apid, stage, error_code=0) -> None:
        self.progress_reports.append((request_id, stage, int(error_code)))

    def event_ids(self) -> list[int]:
        return [e for e, _ in self.events]

    def reports(self) -> list[dic.JobReport]:
        return [dic.JobReport.unpack(d) for _, sub, d, _ in self.tms if sub == 5]


class Rig:
    def __init__(self, boards: list[str], **config: Any) -> None:
        self.clock = FakeClock()
        self.hw = FakeHardware(self.clock, boards)
        self.out = Recorder(self.clock, HardwarePort(self.clock, self.hw))
        settings = {"stagger_s": 0.0, "recovery_holdoff_s": 2.0, **config}
        self.manager = PayloadManager(self.out, Config(**settings))

    async def run(self, mission_s: float, dt_s: float = 1.0) -> None:
        for _ in range(round(mission_s / dt_s)):
            self.hw.step(dt_s)
            await self.manager.cycle()

    async def until(self, predicate, timeout_s: float = 600.0) -> None:
        for _ in range(round(timeout_s)):
            if predicate():
                return
            await self.run(1.0)
        raise AssertionError("condition not met in mission time")

    async def boot(self) -> None:
        await self.until(
            lambda: (
                all(b.state in ("idle", "throttled") for b in self.manager.boards.values())
                and len(self.manager.boards) == len(self.hw.boards)
                and all(b.tested_boot >= 1 for b in self.manager.boards.values())
            )
        )

    def submit(self, job: SubmitJob) -> ErrorCode | None:
        return self.manager.submit(job)

    def report(self, job_id: int) -> dic.JobReport | None:
        return next((r for r in self.out.reports() if r.job_id == job_id), None)


def _long(job_id: int, redundancy: int = 1, priority: int = 0, seed: int = 7) -> SubmitJob:
    # matmul 1024 costs 2.1e9 FLOP: 1e6 iterations keep a 45 TFLOP/s GPU busy ~48 mission s,
    # long enough to be hit by an upset mid-run, and are within every reference board's
    # iteration limit (the CPU's 1 571 606 is the least), as a real user's long job must be.
    return SubmitJob(job_id, "matmul", 1024, seed, 1_000_000, redundancy, priority)


async def test_boards_power_on_self_test_then_a_job_completes_with_a_verifiable_digest():
    rig = Rig(["ref-gpu", "ref-cpu"])
    await rig.boot()
    powered = [d for d, c, _ in rig.hw.commands if c == "power_on"]
    assert sorted(powered) == ["slot.001", "slot.002"]
    assert {d for d, c, _ in rig.hw.commands if c == "self_test"} == {"slot.001", "slot.002"}
    job = SubmitJob(11, "matmul", 96, 1234)
    assert rig.submit(job) is None
    await rig.until(lambda: rig.report(11) is not None)
    report = rig.report(11)
    assert report is not None and report.state == JobState.COMPLETED
    assert report.slots == (1,)  # the GPU is the fastest matmul board
    assert kernels.verify(job.spec(), report.digest)
    assert report.summary and report.end_s >= report.start_s > 0
    assert EventId.JOB_COMPLETED in rig.out.event_ids()
    assert rig.out.params["payload.jobs_completed"] == 1
    assert rig.out.params["payload.boards_powered"] == 2


async def test_priority_then_fifo_on_one_board():
    rig = Rig(["ref-cpu"])
    await rig.boot()
    for job in (
        # matmul 128 x 156 250 = 6.6e11 FLOP: ~0.26 s each on the 2.5 TFLOP/s CPU
        SubmitJob(1, "matmul", 128, 1, 156_250),
        SubmitJob(2, "matmul", 128, 2, 156_250),
        SubmitJob(3, "matmul", 128, 3, 156_250, priority=9),
    ):
        assert rig.submit(job) is None
    states = {e.job_id: e.state for e in rig.manager.job_list()}
    assert set(states.values()) == {JobState.QUEUED}
    await rig.until(lambda: len(rig.out.reports()) == 3)
    assert [r.job_id for r in rig.out.reports()] == [3, 1, 2]
    assert all(r.state == JobState.COMPLETED for r in rig.out.reports())


async def test_redundant_job_with_a_bit_flip_is_retried_on_other_boards():
    rig = Rig(["ref-gpu", "ref-gpu", "ref-gpu", "ref-gpu"])
    await rig.boot()
    job = _long(21, redundancy=2)
    assert rig.submit(job) is None
    await rig.run(3)
    entry = rig.manager.job_list()[0]
    assert entry.state == JobState.RUNNING and entry.slots == (1, 2)
    rig.hw.boards["slot.002"].inject_upset(UpsetKind.BIT_FLIP_RESULT)
    await rig.until(lambda: rig.report(21) is not None)
    report = rig.report(21)
    assert report is not None and report.state == JobState.COMPLETED
    assert report.retries == 1 and set(report.slots) == {3, 4}  # the pair was not reused
    assert kernels.verify(job.spec(), report.digest)
    assert EventId.RESULT_MISMATCH in rig.out.event_ids()
    assert rig.out.params["payload.mismatches"] == 1
    assert rig.out.params["payload.retries"] == 1


async def test_a_mismatch_every_time_fails_the_job_after_max_retries():
    rig = Rig(["ref-cpu", "ref-cpu"], max_retries=1)
    await rig.boot()
    job = SubmitJob(22, "matmul", 256, 5, 195_312, redundancy=2)  # 6.6e12 FLOP: ~2.6 s
    assert rig.submit(job) is None
    for _ in range(60):  # slot 1 is in every pair and corrupts every result
        rig.hw.boards["slot.001"].inject_upset(UpsetKind.BIT_FLIP_RESULT)
        await rig.run(1)
        if rig.report(22):
            break
    report = rig.report(22)
    assert report is not None and report.state == JobState.FAILED
    assert "mismatch" in report.reason and report.digest == ""
    assert EventId.JOB_FAILED in rig.out.event_ids()


async def test_hung_board_is_power_cycled_by_the_watchdog_and_the_job_completes():
    rig = Rig(["ref-gpu", "ref-gpu"], watchdog_s=5.0)
    await rig.boot()
    job = _long(31)
    assert rig.submit(job) is None
    await rig.run(2)
    rig.hw.boards["slot.001"].inject_upset(UpsetKind.HANG)
    await rig.until(lambda: rig.report(31) is not None)
    report = rig.report(31)
    assert report is not None and report.state == JobState.COMPLETED
    assert report.slots == (2,) and report.retries == 1
    assert kernels.verify(job.spec(), report.digest)
    assert EventId.BOARD_HUNG in rig.out.event_ids()
    assert ("slot.001", "power_cycle", {}) in rig.hw.commands
    assert rig.out.params["payload.watchdog_cycles"] == 1
    # The hung board came back (boots, self-tests) and is in service again.
    await rig.until(lambda: rig.manager.boards[1].state in ("idle", "throttled"))


async def test_latch_up_is_power_cycled_and_the_job_rerun():
    rig = Rig(["ref-gpu"])
    await rig.boot()
    assert rig.submit(_long(41)) is None
    await rig.run(2)
    rig.hw.boards["slot.001"].inject_upset(UpsetKind.LATCH_UP)
    await rig.run(2)
    assert EventId.BOARD_LATCHUP in rig.out.event_ids()
    assert EventId.BOARD_POWER_CYCLED in rig.out.event_ids()
    assert rig.out.params["payload.latchup_recoveries"] == 1
    await rig.until(lambda: rig.report(41) is not None)
    assert rig.report(41).state == JobState.COMPLETED  # type: ignore[union-attr]


async def test_power_above_the_envelope_counts_as_latch_up():
    rig = Rig(["ref-cpu"])
    await rig.boot()
    rig.hw.extra_power_w["slot.001"] = 400.0  # a current step with no fault reported
    await rig.run(1)
    assert EventId.BOARD_LATCHUP in rig.out.event_ids()
    rig.hw.extra_power_w.clear()


async def test_memory_ue_fails_the_execution_which_is_resubmitted():
    rig = Rig(["ref-gpu"])
    await rig.boot()
    assert rig.submit(_long(42)) is None
    await rig.run(2)
    rig.hw.boards["slot.001"].inject_upset(UpsetKind.MEMORY_UE)
    await rig.until(lambda: rig.report(42) is not None)
    report = rig.report(42)
    assert report is not None and report.state == JobState.COMPLETED and report.retries == 1


async def test_throttle_follows_the_power_and_thermal_budget_with_hysteresis():
    rig = Rig(["ref-cpu", "ref-cpu"])
    await rig.boot()
    assert rig.out.params["payload.throttle_level"] == 0
    rig.hw.soc = 0.45  # below 0.6 and 0.5
    await rig.run(1)
    assert rig.manager.level == 2
    assert all(b.health().commanded_throttle_level == 2 for b in rig.hw.boards.values())
    assert EventId.THROTTLE_CHANGED in rig.out.event_ids()
    assert rig.out.params["payload.power_budget_w"] < Config().payload_power_limit_w
    rig.hw.soc = 0.51  # above 0.5 but inside the hysteresis band: holds
    await rig.run(1)
    assert rig.manager.level == 2
    rig.hw.soc = 0.53
    await rig.run(1)
    assert rig.manager.level == 1
    rig.hw.supply_k = 331.0  # past three coolant thresholds
    await rig.run(1)
    assert rig.manager.level == 3
    rig.hw.flow_kg_s = 0.0  # cooling lost: deepest level, no new jobs
    await rig.run(1)
    assert rig.manager.dry_loops == {"L1", "L2"}
    assert all(b.health().commanded_throttle_level == 3 for b in rig.hw.boards.values())
    assert rig.submit(SubmitJob(51, "matmul", 16, 1)) is None
    await rig.run(3)
    assert rig.manager.job_list()[0].state == JobState.QUEUED
    rig.hw.flow_kg_s, rig.hw.supply_k, rig.hw.soc = 2.0, 300.0, 0.9
    await rig.run(1)
    assert rig.manager.level == 0
    assert all(b.health().commanded_throttle_level == 0 for b in rig.hw.boards.values())
    await rig.until(lambda: rig.report(51) is not None)


async def test_throttle_is_recommanded_after_a_reboot():
    rig = Rig(["ref-npu"])
    await rig.boot()
    rig.hw.soc = 0.55
    await rig.run(1)
    board = rig.hw.boards["slot.001"]
    assert board.health().commanded_throttle_level == 1
    board.inject_upset(UpsetKind.LATCH_UP)
    await rig.until(
        lambda: (
            board.health().boot_count == 2 and rig.manager.boards[1].state in ("idle", "throttled")
        ),
        120,
    )
    await rig.run(1)
    assert board.health().commanded_throttle_level == 1


async def test_telecommands_submit_cancel_list_and_refusals():
    rig = Rig(["ref-npu", "ref-cpu"])

    async def tc(subservice: int, data: bytes = b"") -> list[tuple[str, int]]:
        request_id = bytes([subservice, len(rig.out.progress_reports), 0, 0])
        await rig.manager.handle(
            TcDispatch(
                request_id=request_id,
                apid=2,
                service=140,
                subservice=subservice,
                source_id=0,
                app_data=data,
            )
        )
        return [(s, c) for r, s, c in rig.out.progress_reports if r == request_id]

    no_boards_yet = await tc(1, SubmitJob(60, "matmul", 8, 1).pack())
    assert no_boards_yet == [("start_failed", ErrorCode.BUSY)]
    await rig.boot()
    assert await tc(1, _long(61).pack()) == [("started", 0), ("completed", 0)]
    duplicate = await tc(1, _long(61).pack())
    assert duplicate == [("start_failed", ErrorCode.INVALID_APP_DATA)]
    # The NPU does not run FFT, so only one board takes it: redundancy 2 cannot be met.
    fft2 = await tc(1, SubmitJob(62, "fft", 1024, 1, redundancy=2).pack())
    assert fft2 == [("start_failed", ErrorCode.INVALID_APP_DATA)]
    too_big = await tc(1, SubmitJob(63, "matmul", 4096, 1).pack())  # 400 MB > NPU 256 MiB
    assert too_big == [("started", 0), ("completed", 0)]  # the CPU has the memory
    await rig.run(2)
    assert await tc(3) == [("started", 0), ("completed", 0)]
    _, sub, data, reply_to = rig.out.tms[-1]
    assert sub == 4 and reply_to is not None
    listed = {e.job_id: e for e in dic.unpack_job_list(data)}
    assert listed[61].state == JobState.RUNNING and listed[61].kernel == "matmul"
    assert await tc(2, dic.pack_job_id(61)) == [("started", 0), ("completed", 0)]
    assert rig.report(61).state == JobState.CANCELLED  # type: ignore[union-attr]
    assert await tc(2, dic.pack_job_id(61)) == [("started", 0), ("failed", ErrorCode.NOT_FOUND)]
    assert await tc(2, dic.pack_job_id(999)) == [
        ("started", 0),
        ("failed", ErrorCode.NOT_FOUND),
    ]
    assert await tc(6) == [("started", 0), ("completed", 0)]
    _, sub, data, _ = rig.out.tms[-1]
    boards = dic.unpack_board_report(data)
    assert [(b.slot, b.board) for b in boards] == [(1, "ref-npu"), (2, "ref-cpu")]
    assert boards[0].vendor and boards[0].state in (dic.BoardState.IDLE, dic.BoardState.BUSY)
    await rig.run(1)
    assert rig.out.params["payload.jobs_cancelled"] == 1


async def test_queue_full_is_busy():
    rig = Rig(["ref-cpu"], max_queue=2)
    await rig.boot()
    assert rig.submit(_long(71)) is None
    assert rig.submit(_long(72)) is None
    assert rig.submit(_long(73)) == ErrorCode.BUSY


async def test_device_errors_are_counted_and_evented_once_and_never_stop_the_cycle():
    rig = Rig(["ref-cpu"])
    await rig.boot()
    rig.hw.broken.add("backplane")
    await rig.run(3)
    assert rig.out.params["payload.device_errors"] == 3
    assert rig.out.event_ids().count(EventId.DEVICE_ERROR) == 1
    # What only the backplane can tell is invalid, not repeated; our own counts stay valid.
    stale = {k for k, v in rig.out.params.items() if v is None}
    assert stale == {
        "payload.boards_powered",
        "payload.boards_idle",
        "payload.boards_throttled",
        "payload.boards_fault",
        "payload.power_w",
        "payload.power_budget_w",
        "payload.max_die_temp_k",
    }, stale
    assert rig.out.params["payload.jobs_queued"] == 0
    rig.hw.broken.clear()
    await rig.run(1)
    assert rig.out.params["payload.power_w"] is not None and rig.out.params["payload.power_w"] > 0
    assert rig.submit(SubmitJob(81, "matmul", 16, 1)) is None
    await rig.until(lambda: rig.report(81) is not None)


async def test_replies_off_the_icd_are_device_errors_naming_the_field_never_defaults():
    rig = Rig(["ref-gpu", "ref-cpu"])
    real_read, real_command = rig.hw.read, rig.hw.command
    corrupt = {"backplane": True, "identity": True, "self_test": True}

    def read(device: str) -> dict[str, Any]:
        registers = real_read(device)
        if device == "backplane" and corrupt["backplane"]:
            registers["slot.002.fault_reason"] = "latched, probably"  # not a BoardFault
        return registers

    def command(device: str, command: str, args: dict[str, Any]) -> dict[str, Any]:
        result = real_command(device, command, args)
        if device == "slot.001" and command in corrupt and corrupt[command]:
            if command == "identity":
                del result["thermal"]["peak_w"]
            else:
                del result["passed"]  # once read as "passed" by default
        return result

    rig.hw.read, rig.hw.command = read, command  # type: ignore[method-assign]
    await rig.run(2)
    messages = [m for e, m in rig.out.events if e == EventId.DEVICE_ERROR]
    assert any("slot.002.fault_reason" in m and "invalid_reply" in m for m in messages), messages
    assert rig.manager.boards == {}, "nothing is built on a backplane read that did not validate"
    corrupt["backplane"] = False
    await rig.run(3)
    messages = [m for e, m in rig.out.events if e == EventId.DEVICE_ERROR]
    assert any("identity result invalid: thermal.peak_w: missing" in m for m in messages), messages
    gpu, cpu = rig.manager.boards[1], rig.manager.boards[2]
    assert not gpu.identified and gpu.thermal is None and cpu.identified
    corrupt["identity"] = False
    await rig.until(lambda: gpu.identified and gpu.state is PowerState.IDLE, timeout_s=120)
    await rig.run(3)
    messages = [m for e, m in rig.out.events if e == EventId.DEVICE_ERROR]
    assert any("self_test result invalid: passed: missing" in m for m in messages), messages
    assert gpu.tested_boot == -1, "a self-test result without 'passed' is no pass"
    corrupt["self_test"] = False
    await rig.until(lambda: gpu.tested_boot >= 1)
    assert rig.submit(SubmitJob(82, "matmul", 16, 1)) is None
    await rig.until(lambda: rig.report(82) is not None)


@pytest.mark.parametrize("redundancy", [1, 2])
async def test_hk_counts_follow_job_states(redundancy: int):
    rig = Rig(["ref-gpu", "ref-gpu"])
    await rig.boot()
    assert rig.submit(_long(91, redundancy=redundancy)) is None
    assert rig.submit(_long(92, redundancy=redundancy)) is None
    await rig.run(2)
    params = rig.out.params
    assert params["payload.jobs_running"] == 1 + (redundancy == 1)
    assert params["payload.jobs_queued"] == (redundancy == 2)
    assert params["payload.boards_busy"] == 2
    assert params["payload.power_w"] > 2 * 180


async def test_a_board_is_not_throttled_before_its_throttle_range_is_known():
    """Boards already up when the manager starts, cooling lost: a board not identified yet
    has no known throttle range, so it must not be commanded the manager's deepest level
    (refused as bad_argument, again every cycle), only its own once identified."""
    rig = Rig(["ref-cpu"] * 4, setup_per_cycle=1, self_test=False)
    for board in rig.hw.boards.values():
        board.power_on()
    rig.hw.step(60.0)  # booted: idle before the manager's first cycle
    rig.hw.flow_kg_s = 0.0
    await rig.run(8)
    assert rig.manager.dry_loops == {"L1", "L2"}
    assert rig.out.params["payload.device_errors"] == 0, "a throttle level was refused"
    deepest = {b.max_level() for b in rig.manager.boards.values()}
    levels = {b.health().commanded_throttle_level for b in rig.hw.boards.values()}
    assert levels == deepest and max(deepest) < Config().max_level, (levels, deepest)


async def test_a_level_the_previous_flight_software_commanded_is_not_a_self_throttle():
    """After a flight software restart the boards keep the level the previous run commanded;
    the new manager does not know it yet (commanded_level None) and must not take it for a
    board throttling itself (a false BOARD_OVERTEMP), while still catching a real one."""
    rig = Rig(["ref-cpu", "ref-cpu"])
    await rig.boot()
    rig.hw.soc = 0.45  # the previous run commands level 2
    await rig.run(2)
    assert {b.health().commanded_throttle_level for b in rig.hw.boards.values()} == {2}
    thermal = rig.manager.boards[1].thermal
    assert thermal is not None
    alarming = (thermal.throttle_temp_k + thermal.max_die_temp_k) / 2.0
    plain = rig.hw._slot_registers
    forced: dict[str, Any] = {"die_temp_k": alarming + 1.0}  # hot, below its rating

    def registers(device: str) -> Any:
        values = plain(device)
        return values.model_copy(update=forced) if device == "slot.001" else values

    rig.hw._slot_registers = registers  # type: ignore[method-assign]
    rig.hw.soc = 0.9
    restarted = Recorder(rig.clock, HardwarePort(rig.clock, rig.hw))
    rig.out, rig.manager = restarted, PayloadManager(restarted, rig.manager.config)
    await rig.run(3)
    assert EventId.BOARD_OVERTEMP not in restarted.event_ids(), restarted.events
    assert {b.health().commanded_throttle_level for b in rig.hw.boards.values()} == {0}
    forced["throttle_level"] = 3  # now it does throttle itself past what we commanded (0)
    await rig.run(1)
    assert restarted.event_ids().count(EventId.BOARD_OVERTEMP) == 1, restarted.events


async def test_a_board_whose_cooling_degraded_is_evented_and_throttled_stepwise():
    """hwsim board_overtemp (a fouled plate interface: resistance x3) on one of four GPUs
    running jobs: the board throttles itself at its throttle temperature, short of the
    half-way alarm. Its die is far hotter than its power explains next to its loop's other
    boards: BOARD_OVERTEMP once, and the manager takes its throttle over (stepwise); the
    healthy boards, as hot in power, are left alone."""
    rig = Rig(["ref-gpu"] * 4)
    hw = rig.hw
    fouled = hw.boards["slot.001"]
    r_k_per_w = fouled.thermal_model().die_to_plate_k_per_w

    def step(dt_s: float) -> None:
        for board in hw.boards.values():
            extra_k = 2.0 * r_k_per_w * board.power_draw_w() if board is fouled else 0.0
            board.step(dt_s, PLATE_K + extra_k)  # (factor - 1) x R in series: a hotter plate
        hw.clock.ns += round(dt_s * 1e9)

    hw.step = step  # type: ignore[method-assign]
    await rig.boot()
    for job_id in range(71, 91):  # ~48 s each: the four boards busy all along
        assert rig.submit(_long(job_id, seed=job_id)) is None
    await rig.run(240)
    overtemp = [m for e, m in rig.out.events if e == EventId.BOARD_OVERTEMP]
    assert len(overtemp) == 1 and overtemp[0].startswith("slot.001"), overtemp
    assert "cooling degraded" in overtemp[0], overtemp
    levels = {d: b.health().commanded_throttle_level for d, b in hw.boards.items()}
    assert levels["slot.001"] > 0, levels  # taken over: commanded at the level it needs
    assert {levels[d] for d in ("slot.002", "slot.003", "slot.004")} == {0}, levels
    assert fouled.health().die_temp_k < fouled.thermal_model().max_die_temp_k


async def test_a_spot_checked_single_job_catches_a_flipped_result_onboard():
    """spot_check_every=2: every second job of redundancy 1 runs on two boards. A bit flip in
    one of its results (invisible on a single run but to the ground's own check) is a
    RESULT_MISMATCH naming the boards; the job runs again elsewhere and completes right."""
    rig = Rig(["ref-gpu"] * 4, spot_check_every=2)
    await rig.boot()
    assert rig.submit(SubmitJob(81, "matmul", 96, 1)) is None  # the first: one run
    checked = _long(82, seed=82)
    assert rig.submit(checked) is None  # the second: two runs, compared
    await rig.until(lambda: rig.report(81) is not None)
    assert rig.report(81).slots == (1,)  # type: ignore[union-attr]
    await rig.until(lambda: len(rig.manager.jobs[82].runs) == 2)
    slot = min(rig.manager.jobs[82].runs)
    rig.hw.boards[f"slot.{slot:03d}"].inject_upset(UpsetKind.BIT_FLIP_RESULT)
    await rig.until(lambda: rig.report(82) is not None)
    report = rig.report(82)
    assert report is not None and report.state == JobState.COMPLETED and report.retries >= 1
    assert report.redundancy == 1 and len(report.slots) == 2 and slot not in report.slots
    assert kernels.verify(checked.spec(), report.digest)
    mismatch = [m for e, m in rig.out.events if e == EventId.RESULT_MISMATCH]
    assert len(mismatch) == 1 and f"slot.{slot:03d}" in mismatch[0], mismatch


async def test_a_latch_up_powered_off_by_a_compute_limit_is_still_reported():
    # Found by a 24 h what-if: a board latched up in the cycle a compute limit turned it
    # off; supervision leaves boards off on purpose alone, so nothing said so (the power-off
    # cleared the latch silently).
    from flightsw.messages import ComputeLimit

    rig = Rig(["ref-gpu", "ref-gpu"])
    await rig.boot()
    rig.hw.boards["slot.001"].inject_upset(UpsetKind.LATCH_UP)
    assert rig.manager.receive_limit(
        ComputeLimit(source="power", power_limit_w=0.0, reason="eclipse")
    )
    await rig.run(2)
    latch = [m for i, m in rig.out.events if i == EventId.BOARD_LATCHUP]
    assert len(latch) == 1 and latch[0].startswith("slot.001"), rig.out.events
    assert rig.out.params["payload.latchup_recoveries"] == 1
    assert rig.hw.boards["slot.001"].health().power_state == "off"
