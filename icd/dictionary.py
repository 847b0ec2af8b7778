"""The telecommand/telemetry dictionary: what both ends of the RF link agree on.

It names the APIDs the satellite owns, the PUS services and subservices on board with their
application-data layouts, the housekeeping structures (SID → typed parameters with units),
the events and the service 1 error codes. ``export_json()`` writes it as a versioned JSON
dictionary for third-party ground tools; the Python ground station decodes with it directly.

Application-data layouts (big-endian):
- 1,1 / 1,3 / 1,7: request id (4 bytes). 1,2 / 1,4 / 1,8: request id + error code (u16).
- 3,5 / 3,6 / 3,27 (enable / disable / one-shot): N (u8) then N SIDs (u16).
- 3,31 (set interval): N (u8) then N × (SID u16, interval u32 in mission milliseconds).
- 3,25 (report): SID (u16), a validity bitmap of ceil(N/8) bytes for the structure's N
  parameters (bit i set = parameter i valid; parameter 0 is the most significant bit of the
  first byte; unused trailing bits 0), then the N parameters in order, each in its format. An
  invalid parameter (never acquired, or its device stopped answering) is packed as 0 and must
  not be used: ``unpack_hk_report`` gives ``None`` for it.
- 5,1..5,4 (event by severity): event id (u16) then a UTF-8 message.
- 5,5 / 5,6 (enable / disable events): N (u8) then N event ids (u16).
- 8,1 (device function): device id length (u8), device id (ASCII), command length (u8),
  command (ASCII), then the arguments as a UTF-8 JSON object (may be empty = no arguments).
- 17,1 → 17,2: no data.
- 140,1 (submit job, APID 2): job id u32 (≠ 0), redundancy u8 (1 or 2), priority u8 (higher
  first), kernel name length u8 + ASCII (a reference kernel), size u32 (the kernel's size
  rule), seed u32, iterations u32 (≥ 1).
- 140,2 (cancel job): job id u32.   140,3 (list jobs) / 140,6 (list boards): no data.
- 140,4 (job list, reply to 140,3): N u16, then N × (job id u32, state u8, redundancy u8,
  priority u8, retries u8, M u8 + M × slot u16, kernel length u8 + ASCII, size u32).
- 140,5 (job result): job id u32, final state u8, redundancy u8, retries u8, M u8 + M × slot
  u16, digest 32 bytes (zeros unless completed), start f64 and end f64 (mission seconds since
  the CUC epoch), kernel length u8 + ASCII, K u8 + K × (name length u8 + ASCII, value f64),
  reason length u8 + UTF-8 (empty when completed).
- 140,7 (board report, reply to 140,6): N u16, then N × (slot u16, board length u8 + ASCII,
  vendor length u8 + UTF-8, state u8, die temperature f32 K, throttle level u8, power f32 W,
  job id u32 (0 = none)).
Job states: 0 queued, 1 running, 2 verifying, 3 completed, 4 failed, 5 cancelled.
Board states: 0 off, 1 booting, 2 idle, 3 busy, 4 throttled, 5 fault, 255 unknown.
- 130,1 (request mode, APID 1): mode u8 (Mode: 0 BOOT, 1 SAFE, 2 NOMINAL, 3 ECLIPSE,
  4 SURVIVAL), reason length u8 + ASCII (may be empty). A transition the mode manager's table
  does not allow from the mode in force, or whose guard fails, completes with TM(1,8)
  MODE_DENIED and a MODE_DENIED event naming the reason. 130,2 (report mode): no data.
- 130,3 (mode report, reply to 130,2): mode u8, previous u8, since f64 (mission seconds since
  the CUC epoch), transitions u32, reason length u8 + ASCII (icd.modes).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from functools import cache
from typing import Any

from computesat_sdk import kernels
from pydantic import BaseModel, ConfigDict, Field, computed_field

from icd._reader import Reader as _Reader
from icd.devices import device_tables
from icd.errors import ERROR_CODE_DESCRIPTIONS, DecodeError, ErrorCode

__all__ = [
    "APIDS",
    "DICTIONARY_VERSION",
    "DIGEST_BYTES",
    "EVENTS",
    "HK_STRUCTURES",
    "ID_CHECKS",
    "SERVICES",
    "SUPERVISED_SERVICES",
    "Apid",
    "BoardEntry",
    "BoardState",
    "EventDef",
    "EventId",
    "HkParameter",
    "HkStructure",
    "JobListEntry",
    "JobReport",
    "JobState",
    "Mode",
    "ServiceState",
    "Severity",
    "SubmitJob",
    "check_app_data",
    "check_tc",
    "export_json",
    "hk_structure",
    "known_parameter",
    "pack_board_report",
    "pack_device_function",
    "pack_event",
    "pack_hk_report",
    "pack_id_list",
    "pack_intervals",
    "pack_job_id",
    "pack_job_list",
    "service_def",
    "tc_subservices",
    "unpack_board_report",
    "unpack_device_function",
    "unpack_event",
    "unpack_hk_report",
    "unpack_id_list",
    "unpack_intervals",
    "unpack_job_id",
    "unpack_job_list",
]

# 5.0: onboard autonomy (issue 9): services 12, 19, 130, 131, 132 and 140,8..11; SIDs 5
#      (thermal control), 6 (power control), 7 (FDIR); SID 1 gains the states of the new
#      services and mode.*; SID 3 payload.power_limit_w / boards_off_by_limit; events 30-97.
# 4.0: platform SID 1 gains the supervisor's failed count and per-service states.
# 3.1: device tables (icd.devices) in the export.
# 3.0: HK 3,25 carries a validity bitmap after the SID (a layout change: major).
# 2.0: SID 2 extended (loop 2, loops), SID 4 power.
DICTIONARY_VERSION = "5.0.0"


class Apid(IntEnum):
    PLATFORM = 1
    PAYLOAD = 2


APIDS: dict[int, str] = {
    Apid.PLATFORM: "platform computer: time, housekeeping, events, devices",
    Apid.PAYLOAD: "compute payload manager",
}


class Mode(IntEnum):
    """Spacecraft modes (the mode manager, service 130). BOOT until the platform is up; SAFE:
    compute off, thermal and power on their safe settings, waiting for the ground or for
    autonomy to return; NOMINAL: compute as power and heat allow; ECLIPSE: nominal with the
    eclipse power budget; SURVIVAL: battery critical, only what keeps the satellite alive."""

    BOOT = 0
    SAFE = 1
    NOMINAL = 2
    ECLIPSE = 3
    SURVIVAL = 4


class Severity(IntEnum):
    """Event severity = the service 5 subservice that reports it."""

    INFO = 1
    LOW = 2
    MEDIUM = 3
    HIGH = 4


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class ServiceDef(_Frozen):
    service: int
    name: str
    subservices: dict[int, str] = Field(description="subservice → what it is (TC or TM).")
    apids: tuple[int, ...] = Field(description="APIDs on which the service answers.")


SERVICES: tuple[ServiceDef, ...] = (
    ServiceDef(
        service=1,
        name="request verification",
        apids=tuple(APIDS),
        subservices={
            1: "TM acceptance success",
            2: "TM acceptance failure",
            3: "TM start success",
            4: "TM start failure",
            7: "TM completion success",
            8: "TM completion failure",
        },
    ),
    ServiceDef(
        service=3,
        name="housekeeping",
        apids=(Apid.PLATFORM,),
        subservices={
            5: "TC enable periodic reports",
            6: "TC disable periodic reports",
            25: "TM housekeeping report",
            27: "TC one-shot report",
            31: "TC set collection interval",
        },
    ),
    ServiceDef(
        service=5,
        name="event reporting",
        apids=(Apid.PLATFORM,),
        subservices={
            1: "TM informative event",
            2: "TM low-severity anomaly",
            3: "TM medium-severity anomaly",
            4: "TM high-severity anomaly",
            5: "TC enable event ids",
            6: "TC disable event ids",
        },
    ),
    ServiceDef(
        service=8,
        name="function management",
        apids=(Apid.PLATFORM,),
        subservices={1: "TC perform a device function"},
    ),
    ServiceDef(
        service=17,
        name="test",
        apids=tuple(APIDS),
        subservices={1: "TC are-you-alive", 2: "TM are-you-alive report"},
    ),
    ServiceDef(
        service=140,
        name="compute jobs (mission-specific)",
        apids=(Apid.PAYLOAD,),
        subservices={
            1: "TC submit a compute job",
            2: "TC cancel a job",
            3: "TC list jobs",
            4: "TM job list report",
            5: "TM job result",
            6: "TC list boards",
            7: "TM board report",
        },
    ),
)


def service_def(service: int) -> ServiceDef | None:
    return next((s for s in SERVICES if s.service == service), None)


def tc_subservices(service: ServiceDef) -> list[int]:
    """The subservices of ``service`` that are telecommands (the ground may send them)."""
    return [sub for sub, what in service.subservices.items() if what.startswith("TC")]


def _no_data(data: bytes) -> None:
    if data:
        raise DecodeError("app_data", expected="no application data", got=f"{len(data)} bytes")


# Layout checks run at acceptance: a TC whose application data does not decode is refused
# with TM(1,2) INVALID_APP_DATA before any service sees it.
APP_DATA_CHECKS: dict[tuple[int, int], Callable[[bytes], object]] = {
    (3, 5): lambda d: unpack_id_list(d),
    (3, 6): lambda d: unpack_id_list(d),
    (3, 27): lambda d: unpack_id_list(d),
    (3, 31): lambda d: unpack_intervals(d),
    (5, 5): lambda d: unpack_id_list(d),
    (5, 6): lambda d: unpack_id_list(d),
    (8, 1): lambda d: unpack_device_function(d),
    (17, 1): _no_data,
    (140, 1): lambda d: SubmitJob.unpack(d),
    (140, 2): lambda d: unpack_job_id(d),
    (140, 3): _no_data,
    (140, 6): _no_data,
}


def check_app_data(service: int, subservice: int, data: bytes) -> None:
    """Raise DecodeError if ``data`` does not fit the TC's documented layout."""
    check = APP_DATA_CHECKS.get((service, subservice))
    if check is not None:
        check(data)


# --- events -------------------------------------------------------------------------------


class EventId(IntEnum):
    BOOT = 1
    SHUTDOWN = 2
    SERVICE_RESTARTED = 3
    BAD_DATAGRAM = 4
    TC_REJECTED = 5
    TC_FAILED = 6
    DEVICE_TIMEOUT = 7
    DEVICE_ERROR = 8
    TIME_SYNCED = 9
    HK_CHANGED = 10
    BUS_MESSAGE_REJECTED = 11
    JOB_COMPLETED = 12
    JOB_FAILED = 13
    RESULT_MISMATCH = 14
    BOARD_HUNG = 15
    BOARD_POWER_CYCLED = 16
    BOARD_LATCHUP = 17
    THROTTLE_CHANGED = 18
    BOARD_FAULT = 19
    SERVICE_FAILED = 20
    FLIGHTSW_RESTARTED = 21
    HARDWARE_GAP = 22
    DEVICES_RECOVERED = 23
    JOB_REFUSED = 25
    MODE_CHANGED = 30
    MODE_DENIED = 31
    # --- payload manager, issue 9 (90-99) ---
    COMPUTE_LIMITED = 90
    COMPUTE_LIMIT_LIFTED = 91
    BOARD_OVERTEMP = 92
    SEU_BURST = 93
    BOARD_UPSET = 94
    BOARD_COMMANDED = 95
    BOARD_COMMAND_REFUSED = 96
    JOBS_SUSPENDED = 97
    # fdir: PUS 12 on-board monitoring and PUS 19 event-action (70..89)
    MONITORING_CHANGED = 70
    PARAMETER_BELOW_LOW = 71
    PARAMETER_ABOVE_HIGH = 72
    PARAMETER_UNEXPECTED = 73
    EVENT_ACTION_CHANGED = 74
    EVENT_ACTION_TRIGGERED = 75
    FDIR_ESCALATED = 76
    FDIR_TABLE_ENTRY_SKIPPED = 77
    FDIR_REQUEST_REFUSED = 78
    PUMP_STALLED = 79
    COOLANT_FLOW_LOW = 80
    COOLANT_LEAK = 81
    SENSOR_OUT_OF_RANGE = 82
    SENSOR_NOISY = 83
    ARRAY_OFF_POINTING = 84
    ARRAY_OFF_MPP = 85
    BATTERY_CELL_LOST = 86
    PDU_SWITCH_TRIPPED = 87
    PAYLOAD_UPSET_BURST = 88
    EVENT_ACTION_FAILED = 89
    # 40-54: thermal control (icd.thermal.ThermalEvent), 55-69: power control
    # (icd.power.PowerEvent): in the dictionary's events all the same; 32-39: autonomy
    # events added when those were full (32 POWER_COMMAND_REFUSED, 33 thermal's
    # PUMP_STANDBY_UNAVAILABLE, 34 thermal's PUMP_TEST_RUN)


class EventDef(_Frozen):
    id: int
    name: str
    severity: Severity
    description: str


EVENTS: dict[int, EventDef] = {
    e.id: e
    for e in (
        EventDef(
            id=EventId.BOOT,
            name="BOOT",
            severity=Severity.INFO,
            description="Flight software started; the message names the version.",
        ),
        EventDef(
            id=EventId.SHUTDOWN,
            name="SHUTDOWN",
            severity=Severity.INFO,
            description="Flight software is stopping on request.",
        ),
        EventDef(
            id=EventId.SERVICE_RESTARTED,
            name="SERVICE_RESTARTED",
            severity=Severity.MEDIUM,
            description="A service crashed and the supervisor restarted it.",
        ),
        EventDef(
            id=EventId.BAD_DATAGRAM,
            name="BAD_DATAGRAM",
            severity=Severity.LOW,
            description="An uplinked datagram was not a valid telecommand.",
        ),
        EventDef(
            id=EventId.TC_REJECTED,
            name="TC_REJECTED",
            severity=Severity.LOW,
            description="A telecommand failed acceptance (see its TM(1,2)).",
        ),
        EventDef(
            id=EventId.TC_FAILED,
            name="TC_FAILED",
            severity=Severity.MEDIUM,
            description="A telecommand failed to start or complete.",
        ),
        EventDef(
            id=EventId.DEVICE_TIMEOUT,
            name="DEVICE_TIMEOUT",
            severity=Severity.MEDIUM,
            description="A device port did not answer in time.",
        ),
        EventDef(
            id=EventId.DEVICE_ERROR,
            name="DEVICE_ERROR",
            severity=Severity.MEDIUM,
            description="A device port answered with an error.",
        ),
        EventDef(
            id=EventId.TIME_SYNCED,
            name="TIME_SYNCED",
            severity=Severity.INFO,
            description="Onboard time was set from the hardware time reference.",
        ),
        EventDef(
            id=EventId.HK_CHANGED,
            name="HK_CHANGED",
            severity=Severity.INFO,
            description="Housekeeping generation was enabled, disabled or retimed.",
        ),
        EventDef(
            id=EventId.BUS_MESSAGE_REJECTED,
            name="BUS_MESSAGE_REJECTED",
            severity=Severity.LOW,
            description="A software-bus message failed schema validation and was dropped.",
        ),
        EventDef(
            id=EventId.JOB_COMPLETED,
            name="JOB_COMPLETED",
            severity=Severity.INFO,
            description="A compute job completed (redundant jobs: both digests agreed).",
        ),
        EventDef(
            id=EventId.JOB_FAILED,
            name="JOB_FAILED",
            severity=Severity.MEDIUM,
            description="A compute job failed for good (retries exhausted or no board can run it).",
        ),
        EventDef(
            id=EventId.RESULT_MISMATCH,
            name="RESULT_MISMATCH",
            severity=Severity.MEDIUM,
            description="The two executions of a redundant job disagreed; it is retried.",
        ),
        EventDef(
            id=EventId.BOARD_HUNG,
            name="BOARD_HUNG",
            severity=Severity.MEDIUM,
            description="A board's heartbeat froze while it ran a job (watchdog).",
        ),
        EventDef(
            id=EventId.BOARD_POWER_CYCLED,
            name="BOARD_POWER_CYCLED",
            severity=Severity.LOW,
            description="The payload manager power-cycled or reset a board; the message says why.",
        ),
        EventDef(
            id=EventId.BOARD_LATCHUP,
            name="BOARD_LATCHUP",
            severity=Severity.HIGH,
            description="A board latched up (fault state or power above its envelope).",
        ),
        EventDef(
            id=EventId.THROTTLE_CHANGED,
            name="THROTTLE_CHANGED",
            severity=Severity.INFO,
            description="The payload throttle level changed with the power or thermal budget.",
        ),
        EventDef(
            id=EventId.BOARD_FAULT,
            name="BOARD_FAULT",
            severity=Severity.MEDIUM,
            description="A board reported a fault other than latch-up, or failed its self-test.",
        ),
        EventDef(
            id=EventId.SERVICE_FAILED,
            name="SERVICE_FAILED",
            severity=Severity.HIGH,
            description=(
                "A service crashed past its restart budget (or is not restartable) and stays "
                "down: FAILED; the message names it, its restarts and its last error."
            ),
        ),
        EventDef(
            id=EventId.DEVICES_RECOVERED,
            name="DEVICES_RECOVERED",
            severity=Severity.INFO,
            description=(
                "The device port answered again after being silent; the message says for how "
                "long and how many devices are valid again."
            ),
        ),
        EventDef(
            id=EventId.FLIGHTSW_RESTARTED,
            name="FLIGHTSW_RESTARTED",
            severity=Severity.HIGH,
            description="The flight-software process died and the process supervisor started "
            "it again; the message says how it died and the boot number. Raised when the "
            "first ground makes contact after the restart (at once if a push address is set). "
            "Telecommands in flight at the crash get no further reports.",
        ),
        EventDef(
            id=EventId.HARDWARE_GAP,
            name="HARDWARE_GAP",
            severity=Severity.HIGH,
            description="The hardware simulator's process died (device telemetry is invalid "
            "from then on) and, in a second event, is back: restarted by the process "
            "supervisor from its latest snapshot or fresh; the message says how long the gap "
            "was.",
        ),
        EventDef(
            id=EventId.JOB_REFUSED,
            name="JOB_REFUSED",
            severity=Severity.LOW,
            description="A 140,1 job is beyond the limits of every board that could run it "
            "(matrix size, iterations, memory: computesat_sdk.contract.JobLimits); the message "
            "names the limit, e.g. 'matmul n=8192 exceeds board limit 4096'. The TC fails "
            "with INVALID_APP_DATA.",
        ),
    )
}


def pack_event(event_id: int, message: str) -> bytes:
    return struct.pack(">H", event_id) + message.encode("utf-8", errors="replace")


def unpack_event(data: bytes) -> tuple[int, str]:
    if len(data) < 2:
        raise DecodeError("event", expected=">= 2 bytes", got=f"{len(data)} bytes")
    return struct.unpack_from(">H", data)[0], data[2:].decode("utf-8", errors="replace")


# --- housekeeping -------------------------------------------------------------------------

_FORMATS = {"u8": "B", "u16": "H", "u32": "I", "i32": "i", "f32": "f", "f64": "d"}


class HkParameter(_Frozen):
    name: str = Field(description="Pool name: 'device.register' or 'service.counter'.")
    fmt: str = Field(description="Wire format: u8, u16, u32, i32, f32 or f64.")
    unit: str = Field("", description="Engineering unit of the value.")
    description: str = ""


class HkStructure(_Frozen):
    sid: int
    name: str
    default_interval_s: float = Field(gt=0, description="Collection interval, mission seconds.")
    enabled_at_boot: bool = True
    parameters: tuple[HkParameter, ...]

    @computed_field(
        description="Bytes of the validity bitmap that follows the SID: ceil(parameters / 8)."
    )
    @property
    def validity_bytes(self) -> int:
        return -(-len(self.parameters) // 8)

    @computed_field(description="The 3,25 application data of this structure, field by field.")
    @property
    def layout(self) -> str:
        return (
            f"SID u16; validity bitmap {self.validity_bytes} bytes (bit i = parameter i valid, "
            "parameter 0 = most significant bit of the first byte, unused bits 0; an invalid "
            f"parameter is packed as 0); then the {len(self.parameters)} parameters in order, "
            "each in its format, big-endian"
        )

    @property
    def struct_format(self) -> str:
        """The whole report for ``struct``: SID, validity bitmap, parameters."""
        return f">H{self.validity_bytes}s" + "".join(_FORMATS[p.fmt] for p in self.parameters)


class ServiceState(IntEnum):
    """A supervised service's state (u8 ``supervisor.state.<name>`` in platform HK)."""

    STARTING = 0  # started, not ready yet
    RUNNING = 1  # ready
    RESTARTING = 2  # crashed, waiting out the back-off before its restart
    FAILED = 3  # crashed past its restart budget (or not restartable): stays down
    FINISHED = 4  # returned on its own
    STOPPED = 5  # stopped by the supervisor
    ABANDONED = 6  # did not finish within its stop grace and was left behind


# The flight-software services whose state platform HK carries, in start order.
SUPERVISED_SERVICES = (
    "events",
    "housekeeping",
    "time",
    "devices",
    "ping",
    "modes",
    "monitoring",
    "event_action",
    "thermal",
    "power",
    "payload",
    "restarts",
    "link",
)


def _p(name: str, fmt: str, unit: str, description: str) -> HkParameter:
    return HkParameter(name=name, fmt=fmt, unit=unit, description=description)


_COUNTER = "count"

HK_STRUCTURES: dict[int, HkStructure] = {
    s.sid: s
    for s in (
        HkStructure(
            sid=1,
            name="platform",
            default_interval_s=1.0,
            parameters=(
                _p("time.clock_speed", "f32", "x", "Mission seconds per wall second."),
                _p("time.synced", "u8", "bool", "Onboard time set from the hardware reference."),
                _p("link.tc_received", "u32", _COUNTER, "Datagrams received on the uplink."),
                _p("link.tc_accepted", "u32", _COUNTER, "Telecommands accepted (1,1 or silent)."),
                _p("link.tc_rejected", "u32", _COUNTER, "Telecommands failing acceptance."),
                _p("link.bad_truncated", "u32", _COUNTER, "Datagrams shorter than a header."),
                _p("link.bad_length", "u32", _COUNTER, "Length field mismatch or oversized."),
                _p("link.bad_crc", "u32", _COUNTER, "CRC mismatch."),
                _p("link.bad_header", "u32", _COUNTER, "Wrong version, type, flags or PUS."),
                _p("link.bad_apid", "u32", _COUNTER, "APID not owned by the satellite."),
                _p("link.bad_service", "u32", _COUNTER, "Unknown service or subservice."),
                _p("link.bad_app_data", "u32", _COUNTER, "Application data not decodable."),
                _p("link.tm_sent", "u32", _COUNTER, "Telemetry packets sent."),
                _p("tc.completed", "u32", _COUNTER, "Telecommands completed."),
                _p("tc.failed", "u32", _COUNTER, "Telecommands failing start or completion."),
                _p("events.generated", "u32", _COUNTER, "Events raised on board."),
                _p("supervisor.restarts", "u32", _COUNTER, "Service restarts since boot."),
                _p("bus.rejected", "u32", _COUNTER, "Bus messages dropped by validation."),
                _p("devices.timeouts", "u32", _COUNTER, "Device-port requests timed out."),
                _p("devices.errors", "u32", _COUNTER, "Device-port requests answered with error."),
                _p("flightsw.boot_count", "u32", _COUNTER, "Flight-software boots since launch."),
                _p("supervisor.failed", "u32", _COUNTER, "Services FAILED (past restart budget)."),
                *(
                    _p(f"supervisor.state.{name}", "u8", "state", f"Service {name} (ServiceState).")
                    for name in SUPERVISED_SERVICES
                ),
            ),
        ),
        HkStructure(
            sid=2,
            name="thermal",
            default_interval_s=2.0,
            parameters=(
                _p("pump.L1.A.speed_rpm", "f32", "rpm", "Loop 1 pump A shaft speed."),
                _p("pump.L1.A.flow_kg_s", "f32", "kg/s", "Loop 1 pump A coolant flow."),
                _p("pump.L1.A.outlet_pressure_kpa", "f32", "kPa", "Loop 1 pump A outlet."),
                _p("pump.L1.A.power_w", "f32", "W", "Loop 1 pump A electrical power."),
                _p("pump.L1.B.speed_rpm", "f32", "rpm", "Loop 1 pump B shaft speed."),
                _p("pump.L1.B.flow_kg_s", "f32", "kg/s", "Loop 1 pump B coolant flow."),
                _p("radsensor.P01.S1.temp_k", "f32", "K", "Radiator panel 1 sensor 1."),
                _p("radsensor.P01.S2.temp_k", "f32", "K", "Radiator panel 1 sensor 2."),
                _p("pump.L2.A.speed_rpm", "f32", "rpm", "Loop 2 pump A shaft speed."),
                _p("pump.L2.A.flow_kg_s", "f32", "kg/s", "Loop 2 pump A coolant flow."),
                _p("pump.L2.B.speed_rpm", "f32", "rpm", "Loop 2 pump B shaft speed."),
                _p("pump.L2.B.flow_kg_s", "f32", "kg/s", "Loop 2 pump B coolant flow."),
                *(
                    _p(f"loop.{loop}.{register}", "f32", unit, f"Loop {loop[1]} {what}.")
                    for loop in ("L1", "L2")
                    for register, unit, what in (
                        ("flow_kg_s", "kg/s", "coolant flow"),
                        ("pressure_kpa", "kPa", "loop pressure"),
                        ("supply_temp_k", "K", "supply (cold-side) temperature"),
                        ("return_temp_k", "K", "return (hot-side) temperature"),
                        ("inventory_kg", "kg", "coolant inventory"),
                        ("heat_load_w", "W", "heat picked up from the cold plates"),
                    )
                ),
            ),
        ),
        HkStructure(
            sid=4,
            name="power",
            default_interval_s=2.0,
            parameters=(
                _p("battery.soc", "f32", "fraction", "Battery state of charge."),
                _p("battery.voltage_v", "f32", "V", "Battery voltage."),
                _p("battery.current_a", "f32", "A", "Battery current (+ discharge)."),
                _p("battery.power_w", "f32", "W", "Battery power (+ discharge)."),
                _p("battery.temp_k", "f32", "K", "Battery temperature."),
                _p("battery.cell_faults", "u8", "count", "Failed battery cells."),
                _p("pdu.bus_voltage_v", "f32", "V", "Main power bus voltage."),
                _p("pdu.array_power_w", "f32", "W", "Power delivered by the arrays."),
                _p("pdu.load_power_w", "f32", "W", "Power drawn by all loads."),
                _p("pdu.demand_power_w", "f32", "W", "Power the loads ask for."),
                *(
                    _p(f"wing.{wing}.{register}", fmt, unit, f"Wing {wing[1]} {what}.")
                    for wing in ("W1", "W2")
                    for register, fmt, unit, what in (
                        ("power_w", "f32", "W", "array power"),
                        ("incidence_cos", "f32", "cos", "sun incidence cosine"),
                        ("drive_angle_deg", "f32", "deg", "array drive angle"),
                        ("temp_k", "f32", "K", "array temperature"),
                    )
                ),
            ),
        ),
        HkStructure(
            sid=3,
            name="payload",
            default_interval_s=2.0,
            parameters=(
                _p("payload.jobs_queued", "u32", _COUNTER, "Jobs waiting for a board (now)."),
                _p("payload.jobs_running", "u32", _COUNTER, "Jobs running or verifying (now)."),
                _p("payload.jobs_completed", "u32", _COUNTER, "Jobs completed since boot."),
                _p("payload.jobs_failed", "u32", _COUNTER, "Jobs failed for good since boot."),
                _p("payload.jobs_cancelled", "u32", _COUNTER, "Jobs cancelled since boot."),
                _p("payload.mismatches", "u32", _COUNTER, "Redundant executions that disagreed."),
                _p("payload.retries", "u32", _COUNTER, "Job executions restarted."),
                _p("payload.watchdog_cycles", "u32", _COUNTER, "Hung boards power-cycled."),
                _p("payload.latchup_recoveries", "u32", _COUNTER, "Latched boards power-cycled."),
                _p("payload.boards_powered", "u16", _COUNTER, "Boards booting or up."),
                _p("payload.boards_idle", "u16", _COUNTER, "Boards up with no job."),
                _p("payload.boards_busy", "u16", _COUNTER, "Boards running a job."),
                _p("payload.boards_throttled", "u16", _COUNTER, "Boards at throttle level > 0."),
                _p("payload.boards_fault", "u16", _COUNTER, "Boards in fault or marked failed."),
                _p("payload.power_w", "f32", "W", "Electrical power of all boards."),
                _p("payload.power_budget_w", "f32", "W", "Power the payload may draw now."),
                _p("payload.max_die_temp_k", "f32", "K", "Hottest board die."),
                _p("payload.throttle_level", "u8", "level", "Commanded throttle level (0 = full)."),
                _p("payload.device_errors", "u32", _COUNTER, "Board requests answered with error."),
                _p("payload.device_timeouts", "u32", _COUNTER, "Board requests timed out."),
            ),
        ),
    )
}


def hk_structure(sid: int) -> HkStructure | None:
    return HK_STRUCTURES.get(sid)


def pack_hk_report(structure: HkStructure, pool: Mapping[str, float | None]) -> bytes:
    """Pack a 3,25 report. A parameter absent from ``pool`` (never acquired) or ``None`` in it
    (its source stopped answering) is invalid: its bit in the validity bitmap is clear and it
    is packed as 0."""
    # Several reports every mission second: the layout is made once per structure (its
    # format string, the names, which are floats), the bitmap is one integer.
    plan = _hk_plans.get(id(structure))
    if plan is None or plan.structure is not structure:
        plan = _hk_plans[id(structure)] = _HkPlan(structure)
    get = pool.get
    values: list[Any] = []
    append = values.append
    bits = 0
    for name, is_float in plan.fields:
        value = get(name)
        bits <<= 1
        if value is None:
            value = 0
        else:
            bits |= 1
        append(float(value) if is_float else int(value))
    bitmap = (bits << plan.pad_bits).to_bytes(plan.validity_bytes, "big")
    return plan.packer.pack(structure.sid, bitmap, *values)


class _HkPlan:
    """What packing a structure needs, made once (it is frozen)."""

    __slots__ = ("fields", "packer", "pad_bits", "structure", "validity_bytes")

    def __init__(self, structure: HkStructure) -> None:
        self.structure = structure  # kept: the plans are keyed by its id
        self.fields = tuple((p.name, p.fmt.startswith("f")) for p in structure.parameters)
        self.validity_bytes = structure.validity_bytes
        # parameter 0 is the most significant bit of the first byte; unused bits stay 0
        self.pad_bits = 8 * self.validity_bytes - len(self.fields)
        self.packer = struct.Struct(structure.struct_format)


_hk_plans: dict[int, _HkPlan] = {}


def unpack_hk_report(data: bytes) -> tuple[int, dict[str, float | int | None]]:
    """Decode a 3,25 report: SID and every parameter of its structure, ``None`` if invalid."""
    if len(data) < 2:
        raise DecodeError("hk_report", expected=">= 2 bytes", got=f"{len(data)} bytes")
    sid = struct.unpack_from(">H", data)[0]
    structure = hk_structure(sid)
    if structure is None:
        raise DecodeError("hk_sid", expected=sorted(HK_STRUCTURES), got=sid)
    expected_len = struct.calcsize(structure.struct_format)
    if len(data) != expected_len:
        raise DecodeError("hk_report_length", expected=expected_len, got=len(data))
    _, bitmap, *values = struct.unpack(structure.struct_format, data)
    return sid, {
        p.name: value if bitmap[i // 8] & (0x80 >> (i % 8)) else None
        for i, (p, value) in enumerate(zip(structure.parameters, values, strict=True))
    }


def pack_device_function(device: str, command: str, args: dict[str, Any] | None = None) -> bytes:
    device_raw, command_raw = device.encode("ascii"), command.encode("ascii")
    if len(device_raw) > 255 or len(command_raw) > 255:
        raise ValueError("device id and command must be at most 255 characters")
    body = json.dumps(args, separators=(",", ":")).encode() if args else b""
    return bytes([len(device_raw)]) + device_raw + bytes([len(command_raw)]) + command_raw + body


def unpack_device_function(data: bytes) -> tuple[str, str, dict[str, Any]]:
    layout = "u8 len, device id, u8 len, command, JSON object"
    try:
        device_end = 1 + data[0]
        device = data[1:device_end].decode("ascii")
        command_end = device_end + 1 + data[device_end]
        command = data[device_end + 1 : command_end].decode("ascii")
        if len(data) < command_end or not device or not command:
            raise ValueError("truncated")
        args = json.loads(data[command_end:]) if data[command_end:] else {}
    except (IndexError, ValueError) as exc:
        raise DecodeError("device_function", expected=layout, got=str(exc)) from exc
    if not isinstance(args, dict):
        raise DecodeError("device_function", expected="a JSON object", got=type(args).__name__)
    for name, value in args.items():
        # The device port carries msgpack: an integer beyond 64 bits cannot cross it.
        if isinstance(value, int) and not -(2**63) <= value < 2**64:
            raise DecodeError(
                "device_function",
                expected=f"argument {name}: an integer within 64 bits",
                got=f"{value.bit_length()}-bit integer",
            )
    return device, command, args


def pack_id_list(ids: list[int]) -> bytes:
    if len(ids) > 255:
        raise ValueError("at most 255 ids per request")
    return struct.pack(f">B{len(ids)}H", len(ids), *ids)


def unpack_id_list(data: bytes) -> list[int]:
    if not data:
        raise DecodeError("id_list", expected="N (u8) then N × u16", got="empty")
    count = data[0]
    if len(data) != 1 + 2 * count:
        raise DecodeError("id_list", expected=f"{1 + 2 * count} bytes", got=f"{len(data)} bytes")
    return list(struct.unpack_from(f">{count}H", data, 1))


def pack_intervals(intervals: dict[int, float]) -> bytes:
    body = b"".join(struct.pack(">HI", sid, round(s * 1000)) for sid, s in intervals.items())
    return bytes([len(intervals)]) + body


def unpack_intervals(data: bytes) -> dict[int, float]:
    if not data:
        raise DecodeError("intervals", expected="N (u8) then N × (u16, u32)", got="empty")
    count = data[0]
    if len(data) != 1 + 6 * count:
        raise DecodeError("intervals", expected=f"{1 + 6 * count} bytes", got=f"{len(data)} bytes")
    pairs = struct.iter_unpack(">HI", data[1:])
    return {sid: ms / 1000 for sid, ms in pairs}


# --- service 140: compute jobs --------------------------------------------------------------


class JobState(IntEnum):
    """A compute job's state on board (u8 in 140,4 and 140,5)."""

    QUEUED = 0
    RUNNING = 1
    VERIFYING = 2
    COMPLETED = 3
    FAILED = 4
    CANCELLED = 5

    @property
    def final(self) -> bool:
        return self >= JobState.COMPLETED


class BoardState(IntEnum):
    """A board's power state as the payload manager reports it (u8 in 140,7)."""

    OFF = 0
    BOOTING = 1
    IDLE = 2
    BUSY = 3
    THROTTLED = 4
    FAULT = 5
    UNKNOWN = 255

    @classmethod
    def from_name(cls, name: str) -> BoardState:
        return cls.__members__.get(name.upper(), cls.UNKNOWN)


MAX_JOB_ID = 0xFFFF_FFFF
DIGEST_BYTES = 32
_NO_DIGEST = bytes(DIGEST_BYTES)


def _text(value: str, encoding: str = "ascii") -> bytes:
    raw = value.encode(encoding, errors="replace")[:255]
    return bytes([len(raw)]) + raw


def _slots(slots: tuple[int, ...]) -> bytes:
    return struct.pack(f">B{len(slots)}H", len(slots), *slots)


def _read_slots(reader: _Reader) -> tuple[int, ...]:
    count = reader.take("slot_count", ">B")
    return tuple(reader.take("slot", ">H") for _ in range(count))


def _job_state(reader: _Reader) -> JobState:
    raw = reader.take("state", ">B")
    try:
        return JobState(raw)
    except ValueError:
        raise DecodeError(
            f"{reader.what}.state", expected=[int(s) for s in JobState], got=raw
        ) from None


@dataclass(frozen=True)
class SubmitJob:
    """TC 140,1: a compute job as uplinked. ``unpack`` also checks the documented ranges."""

    job_id: int
    kernel: str
    size: int
    seed: int
    iterations: int = 1
    redundancy: int = 1
    priority: int = 0

    def pack(self) -> bytes:
        return (
            struct.pack(">IBB", self.job_id, self.redundancy, self.priority)
            + _text(self.kernel)
            + struct.pack(">III", self.size, self.seed, self.iterations)
        )

    @classmethod
    def unpack(cls, data: bytes) -> SubmitJob:
        reader = _Reader("submit_job", data)
        job_id = reader.take("job_id", ">I")
        redundancy = reader.take("redundancy", ">B")
        priority = reader.take("priority", ">B")
        kernel = reader.text("kernel")
        size = reader.take("size", ">I")
        seed = reader.take("seed", ">I")
        iterations = reader.take("iterations", ">I")
        reader.end()
        if job_id == 0:
            raise DecodeError("submit_job.job_id", expected="1..4294967295", got=0)
        if redundancy not in (1, 2):
            raise DecodeError("submit_job.redundancy", expected="1 or 2", got=redundancy)
        if iterations < 1:
            raise DecodeError("submit_job.iterations", expected=">= 1", got=iterations)
        if kernel not in kernels.KERNELS:
            raise DecodeError("submit_job.kernel", expected=sorted(kernels.KERNELS), got=kernel)
        problem = kernels.KERNELS[kernel].check_size(size)
        if problem is not None:
            rule = kernels.KERNELS[kernel].size_rule
            raise DecodeError("submit_job.size", expected=f"{rule} for {kernel}", got=size)
        return cls(job_id, kernel, size, seed, iterations, redundancy, priority)

    def spec(self, attempt_id: str | None = None) -> kernels.JobSpec:
        """The kernel job this request defines (``attempt_id`` names one execution of it)."""
        return kernels.JobSpec(
            job_id=attempt_id or str(self.job_id),
            kernel=self.kernel,
            size=self.size,
            seed=self.seed,
            iterations=self.iterations,
        )


def pack_job_id(job_id: int) -> bytes:
    return struct.pack(">I", job_id)


def unpack_job_id(data: bytes) -> int:
    if len(data) != 4:
        raise DecodeError("job_id", expected="4 bytes (u32)", got=f"{len(data)} bytes")
    return int(struct.unpack(">I", data)[0])


@dataclass(frozen=True)
class JobListEntry:
    """One job in a 140,4 job list."""

    job_id: int
    state: JobState
    kernel: str
    size: int
    redundancy: int = 1
    priority: int = 0
    retries: int = 0
    slots: tuple[int, ...] = ()

    def pack(self) -> bytes:
        return (
            struct.pack(
                ">IBBBB",
                self.job_id,
                self.state,
                self.redundancy,
                self.priority,
                min(self.retries, 255),
            )
            + _slots(self.slots)
            + _text(self.kernel)
            + struct.pack(">I", self.size)
        )

    @classmethod
    def read(cls, reader: _Reader) -> JobListEntry:
        job_id = reader.take("job_id", ">I")
        state = _job_state(reader)
        redundancy = reader.take("redundancy", ">B")
        priority = reader.take("priority", ">B")
        retries = reader.take("retries", ">B")
        slots = _read_slots(reader)
        kernel = reader.text("kernel")
        size = reader.take("size", ">I")
        return cls(job_id, state, kernel, size, redundancy, priority, retries, slots)


def pack_job_list(entries: list[JobListEntry]) -> bytes:
    return struct.pack(">H", len(entries)) + b"".join(e.pack() for e in entries)


def unpack_job_list(data: bytes) -> list[JobListEntry]:
    reader = _Reader("job_list", data)
    count = reader.take("count", ">H")
    entries = [JobListEntry.read(reader) for _ in range(count)]
    reader.end()
    return entries


@dataclass(frozen=True)
class JobReport:
    """TM 140,5: the outcome of a job. ``digest`` is hex ("" unless completed)."""

    job_id: int
    state: JobState
    kernel: str
    digest: str = ""
    start_s: float = 0.0
    end_s: float = 0.0
    redundancy: int = 1
    retries: int = 0
    slots: tuple[int, ...] = ()
    summary: dict[str, float] = field(default_factory=dict)
    reason: str = ""

    def pack(self) -> bytes:
        digest = bytes.fromhex(self.digest) if self.digest else _NO_DIGEST
        if len(digest) != DIGEST_BYTES:
            raise ValueError(f"digest must be {DIGEST_BYTES} bytes, got {len(digest)}")
        summary = list(self.summary.items())[:255]
        return (
            struct.pack(">IBBB", self.job_id, self.state, self.redundancy, min(self.retries, 255))
            + _slots(self.slots)
            + digest
            + struct.pack(">dd", self.start_s, self.end_s)
            + _text(self.kernel)
            + bytes([len(summary)])
            + b"".join(_text(name) + struct.pack(">d", value) for name, value in summary)
            + _text(self.reason, "utf-8")
        )

    @classmethod
    def unpack(cls, data: bytes) -> JobReport:
        reader = _Reader("job_report", data)
        job_id = reader.take("job_id", ">I")
        state = _job_state(reader)
        redundancy = reader.take("redundancy", ">B")
        retries = reader.take("retries", ">B")
        slots = _read_slots(reader)
        digest = reader.raw("digest", DIGEST_BYTES)
        start_s = reader.take("start_s", ">d")
        end_s = reader.take("end_s", ">d")
        kernel = reader.text("kernel")
        summary = {}
        for _ in range(reader.take("summary_count", ">B")):
            name = reader.text("summary_name")
            summary[name] = reader.take("summary_value", ">d")
        reason = reader.text("reason", "utf-8")
        reader.end()
        return cls(
            job_id,
            state,
            kernel,
            "" if digest == _NO_DIGEST else digest.hex(),
            start_s,
            end_s,
            redundancy,
            retries,
            slots,
            summary,
            reason,
        )


@dataclass(frozen=True)
class BoardEntry:
    """One slot in a 140,7 board report."""

    slot: int
    board: str
    vendor: str
    state: BoardState
    die_temp_k: float = 0.0
    throttle_level: int = 0
    power_w: float = 0.0
    job_id: int = 0

    def pack(self) -> bytes:
        return (
            struct.pack(">H", self.slot)
            + _text(self.board)
            + _text(self.vendor, "utf-8")
            + struct.pack(
                ">BfBfI",
                self.state,
                self.die_temp_k,
                min(max(self.throttle_level, 0), 255),
                self.power_w,
                self.job_id,
            )
        )

    @classmethod
    def read(cls, reader: _Reader) -> BoardEntry:
        slot = reader.take("slot", ">H")
        board = reader.text("board")
        vendor = reader.text("vendor", "utf-8")
        raw_state = reader.take("state", ">B")
        state = BoardState(raw_state) if raw_state in BoardState._value2member_map_ else None
        if state is None:
            raise DecodeError(
                "board_report.state", expected=[int(s) for s in BoardState], got=raw_state
            )
        die_temp_k = reader.take("die_temp_k", ">f")
        throttle_level = reader.take("throttle_level", ">B")
        power_w = reader.take("power_w", ">f")
        job_id = reader.take("job_id", ">I")
        return cls(slot, board, vendor, state, die_temp_k, throttle_level, power_w, job_id)


def pack_board_report(entries: list[BoardEntry]) -> bytes:
    return struct.pack(">H", len(entries)) + b"".join(e.pack() for e in entries)


def unpack_board_report(data: bytes) -> list[BoardEntry]:
    reader = _Reader("board_report", data)
    count = reader.take("count", ">H")
    entries = [BoardEntry.read(reader) for _ in range(count)]
    reader.end()
    return entries


@cache
def _dictionary() -> dict[str, Any]:
    return {
        "name": "computesat",
        "version": DICTIONARY_VERSION,
        "link": {
            "packet": "CCSDS 133.0-B-2 space packet, one per UDP datagram",
            "pus": "ECSS-E-ST-70-41C (PUS-C)",
            "crc": "CRC-16/CCITT-FALSE over the whole packet, last two bytes",
            "time": "CUC, P-field 0x2E, 4 coarse + 2 fine octets, epoch 2000-01-01T00:00:00",
            "default_udp_port": 7301,
        },
        "apids": {str(k): v for k, v in APIDS.items()},
        "services": [s.model_dump(mode="json") for s in SERVICES],
        "housekeeping": [s.model_dump(mode="json") for s in HK_STRUCTURES.values()],
        "events": [e.model_dump(mode="json") for e in EVENTS.values()],
        "job_states": {s.name.lower(): s.value for s in JobState},
        "board_states": {s.name.lower(): s.value for s in BoardState},
        "service_states": {s.name.lower(): s.value for s in ServiceState},
        "error_codes": [
            {"code": c.value, "name": c.name, "description": ERROR_CODE_DESCRIPTIONS[c]}
            for c in ErrorCode
        ],
        # the device-port interface: kinds, registers, commands, fault enums (icd.devices)
        "devices": device_tables(),
    }


def export_json(indent: int | None = 2) -> str:
    """The whole dictionary as versioned JSON for ground tools."""
    return json.dumps(_dictionary(), indent=indent)


# --- service 130: mode management (the mode manager, flightsw.services.modes; icd.modes) ---
# Appended last: icd.modes imports Mode from this module, so it is read lazily here.
from icd import modes as _modes  # noqa: E402

SERVICES = (
    *SERVICES,
    ServiceDef(
        service=130,
        name="mode management (mission-specific)",
        apids=(Apid.PLATFORM,),
        subservices={
            1: "TC request a mode transition",
            2: "TC report the mode",
            3: "TM mode report",
        },
    ),
)
APP_DATA_CHECKS[(130, 1)] = lambda d: _modes.RequestMode.unpack(d)
APP_DATA_CHECKS[(130, 2)] = lambda d: _modes.unpack_no_data(d)
EVENTS[EventId.MODE_CHANGED] = EventDef(
    id=EventId.MODE_CHANGED,
    name="MODE_CHANGED",
    severity=Severity.MEDIUM,
    description="The spacecraft mode changed; the message says from what, to what and why, "
    "e.g. 'NOMINAL -> SAFE: service thermal FAILED' (by ground: the TC's reason; by "
    "autonomy: the requesting service and its reason).",
)
EVENTS[EventId.MODE_DENIED] = EventDef(
    id=EventId.MODE_DENIED,
    name="MODE_DENIED",
    severity=Severity.LOW,
    description="A mode transition asked by the ground (130,1, which then fails with "
    "MODE_DENIED) or by an onboard service was refused: not allowed from the mode in force, "
    "or its guard failed (battery, failed service, escalations); the message says which.",
)
HK_STRUCTURES[1] = HK_STRUCTURES[1].model_copy(
    update={
        "parameters": (
            *HK_STRUCTURES[1].parameters,
            _p("mode.current", "u8", "mode", "Spacecraft mode in force (Mode)."),
            _p("mode.transitions", "u32", _COUNTER, "Mode transitions since boot."),
            _p(
                "mode.escalations",
                "u16",
                _COUNTER,
                "FDIR escalations within the mode manager's window (past its budget: SAFE).",
            ),
        )
    }
)


# --- payload manager, issue 9: board commands 140,8..11, compute-limit events, HK ----------
# TC 140,8 power-cycle board / 140,9 reset board / 140,10 board off / 140,11 board on
# (APID 2): slot u16. Refused at execution with TM(1,8) and BOARD_COMMAND_REFUSED naming why:
# UNKNOWN_SLOT (no board in that slot), BOARD_LIMITED_OUT (a compute limit keeps it off),
# DEVICE_ERROR (the board refused it, e.g. a reset of a board that is off).

BOARD_COMMANDS: dict[int, str] = {
    8: "power_cycle",
    9: "reset",
    10: "power_off",
    11: "power_on",
}


def pack_slot(slot: int) -> bytes:
    return struct.pack(">H", slot)


def unpack_slot(data: bytes) -> int:
    if len(data) != 2:
        raise DecodeError("slot", expected="2 bytes (u16)", got=f"{len(data)} bytes")
    return int(struct.unpack(">H", data)[0])


SERVICES = tuple(
    s.model_copy(
        update={
            "subservices": {
                **s.subservices,
                8: "TC power-cycle a board (slot u16)",
                9: "TC reset a board (slot u16)",
                10: "TC power a board off (slot u16)",
                11: "TC power a board on (slot u16)",
            }
        }
    )
    if s.service == 140
    else s
    for s in SERVICES
)
APP_DATA_CHECKS.update({(140, sub): unpack_slot for sub in BOARD_COMMANDS})
EVENTS.update(
    {
        e.id: e
        for e in (
            EventDef(
                id=EventId.COMPUTE_LIMITED,
                name="COMPUTE_LIMITED",
                severity=Severity.LOW,
                description="A compute limit (ComputeLimit from power, thermal, mode or FDIR) is "
                "in force or changed: the message names source, scope ('all' or a loop), W and "
                "what the payload manager did (throttle level, boards powered off).",
            ),
            EventDef(
                id=EventId.COMPUTE_LIMIT_LIFTED,
                name="COMPUTE_LIMIT_LIFTED",
                severity=Severity.INFO,
                description="A source lifted its compute limit: the message names source and "
                "scope and what is restored (levels eased, boards powered back on, staggered).",
            ),
            EventDef(
                id=EventId.BOARD_OVERTEMP,
                name="BOARD_OVERTEMP",
                severity=Severity.MEDIUM,
                description="A board throttles itself for die temperature or tripped to an "
                "over_temperature fault (hwsim fault board_overtemp): the job is run elsewhere, "
                "the board is reset once below its throttle temperature.",
            ),
            EventDef(
                id=EventId.SEU_BURST,
                name="SEU_BURST",
                severity=Severity.MEDIUM,
                description="A board's memory error counters climb faster than the burst "
                "threshold (hwsim fault seu_burst): it takes no new job for the quarantine time "
                "(redundant jobs still verify each other).",
            ),
            EventDef(
                id=EventId.BOARD_UPSET,
                name="BOARD_UPSET",
                severity=Severity.LOW,
                description="A single radiation upset seen on a board (hwsim fault board_upset): "
                "a memory error count stepped or redundant results disagreed; hangs and latch-ups "
                "also raise BOARD_HUNG / BOARD_LATCHUP. The job concerned is run again.",
            ),
            EventDef(
                id=EventId.BOARD_COMMANDED,
                name="BOARD_COMMANDED",
                severity=Severity.INFO,
                description="A board power-cycled, reset, powered off or on by TC 140,8..11.",
            ),
            EventDef(
                id=EventId.BOARD_COMMAND_REFUSED,
                name="BOARD_COMMAND_REFUSED",
                severity=Severity.LOW,
                description="A TC 140,8..11 was refused (TM 1,8): unknown slot, the board is "
                "kept off by a compute limit, or the board refused the command.",
            ),
            EventDef(
                id=EventId.JOBS_SUSPENDED,
                name="JOBS_SUSPENDED",
                severity=Severity.LOW,
                description="No new job is admitted (mode SAFE or SURVIVAL; TC 140,1 fails with "
                "MODE_FORBIDS_JOBS), or admission resumes; the message names the mode.",
            ),
        )
    }
)
HK_STRUCTURES[3] = HK_STRUCTURES[3].model_copy(
    update={
        "parameters": (
            *HK_STRUCTURES[3].parameters,
            _p(
                "payload.power_limit_w",
                "f32",
                "W",
                "Most power the boards may draw under the compute limits in force "
                "(payload_power_limit_w when none).",
            ),
            _p("payload.boards_off_by_limit", "u16", _COUNTER, "Boards kept off by a limit."),
        )
    }
)


# --- fdir: PUS 12 on-board monitoring and PUS 19 event-action (icd.monitoring, icd.event_action)

from icd import event_action as _event_action  # noqa: E402  (they stand on this module's tables)
from icd import monitoring as _monitoring  # noqa: E402
from icd.pus import PusTc as _PusTc  # noqa: E402

SERVICES = (
    *SERVICES,
    ServiceDef(
        service=12,
        name="on-board monitoring",
        apids=(Apid.PLATFORM,),
        subservices={
            1: "TC enable parameter monitoring definitions",
            2: "TC disable parameter monitoring definitions",
            5: "TC add parameter monitoring definitions",
            6: "TC delete parameter monitoring definitions",
            7: "TC modify parameter monitoring definitions",
            8: "TC report parameter monitoring definitions",
            9: "TM parameter monitoring definition report",
            12: "TM check transition report",
            15: "TC enable the parameter monitoring function",
            16: "TC disable the parameter monitoring function",
        },
    ),
    ServiceDef(
        service=19,
        name="event-action",
        apids=(Apid.PLATFORM,),
        subservices={
            1: "TC add event-action definitions",
            2: "TC delete event-action definitions",
            4: "TC enable event-action definitions",
            5: "TC disable event-action definitions",
            8: "TC enable the event-action function",
            9: "TC disable the event-action function",
            10: "TC report event-action definitions",
            11: "TM event-action definition report",
        },
    ),
)


@cache
def known_parameter(name: str) -> bool:
    """A parameter the pool can hold: housekeeping, or a numeric/flag device register."""
    return _parameter_matcher()(name)


@cache
def _parameter_matcher() -> Callable[[str], bool]:
    names = {p.name for s in HK_STRUCTURES.values() for p in s.parameters}
    return _monitoring.parameter_matcher(names, device_tables()["kinds"])


def check_tc(tc: _PusTc) -> None:
    """The dictionary's acceptance of a decoded TC (APID, service, TC subservice, application
    data) as the link applies it; raises DecodeError. For stored telecommands (event-action)."""
    if tc.apid not in APIDS:
        raise DecodeError("apid", expected=sorted(APIDS), got=tc.apid)
    service = service_def(tc.service)
    if service is None or tc.apid not in service.apids:
        raise DecodeError(
            "service", expected=[s.service for s in SERVICES if tc.apid in s.apids], got=tc.service
        )
    if tc.subservice not in tc_subservices(service):
        raise DecodeError("subservice", expected=tc_subservices(service), got=tc.subservice)
    check_app_data(tc.service, tc.subservice, tc.app_data)


def _check_pmons(data: bytes) -> list[_monitoring.MonitoringDefinition]:
    definitions = _monitoring.unpack_definitions(data)
    for definition in definitions:
        _monitoring.validate(definition, known_parameter, EVENTS)
    return definitions


def _check_eas(data: bytes) -> list[_event_action.EventActionDefinition]:
    definitions = _event_action.unpack_definitions(data)
    for definition in definitions:
        _event_action.validate(definition, EVENTS, check_tc)
    return definitions


APP_DATA_CHECKS.update(
    {
        (12, 1): _monitoring.unpack_ids,
        (12, 2): _monitoring.unpack_ids,
        (12, 5): _check_pmons,
        (12, 6): _monitoring.unpack_ids,
        (12, 7): _check_pmons,
        (12, 8): lambda d: _monitoring.unpack_ids(d, allow_empty=True),
        (12, 15): _no_data,
        (12, 16): _no_data,
        (19, 1): _check_eas,
        (19, 2): lambda d: _event_action.unpack_ids(d, what="ea_ids"),
        (19, 4): lambda d: _event_action.unpack_ids(d, what="ea_ids"),
        (19, 5): lambda d: _event_action.unpack_ids(d, what="ea_ids"),
        (19, 8): _no_data,
        (19, 9): _no_data,
        (19, 10): lambda d: _event_action.unpack_ids(d, allow_empty=True, what="ea_ids"),
    }
)

# Acceptance checks against a service's objects in force (the ids its tables hold): the link
# keeps the ids each service last announced (flightsw.messages.AcceptanceState) and refuses
# with the check's RefusedError code. The owning service checks again when it starts.
ID_CHECKS: dict[int, Callable[[int, bytes, frozenset[int]], None]] = {
    12: _monitoring.check_ids_in_use,
    19: _event_action.check_ids_in_use,
}

_FDIR = (
    "Raised by a parameter monitoring definition (PUS 12) on a confirmed violation; the "
    "message names the PMON, the parameter, its value and the limit."
)
for _event in (
    EventDef(
        id=EventId.MONITORING_CHANGED,
        name="MONITORING_CHANGED",
        severity=Severity.INFO,
        description="Parameter monitoring definitions were added, modified, deleted, enabled "
        "or disabled, or the monitoring function was switched; the message says which.",
    ),
    EventDef(
        id=EventId.PARAMETER_BELOW_LOW,
        name="PARAMETER_BELOW_LOW",
        severity=Severity.MEDIUM,
        description="A monitored parameter (or its change per check, for a delta check) is "
        "below its low limit. " + _FDIR,
    ),
    EventDef(
        id=EventId.PARAMETER_ABOVE_HIGH,
        name="PARAMETER_ABOVE_HIGH",
        severity=Severity.MEDIUM,
        description="A monitored parameter (or its change per check) is above its high "
        "limit. " + _FDIR,
    ),
    EventDef(
        id=EventId.PARAMETER_UNEXPECTED,
        name="PARAMETER_UNEXPECTED",
        severity=Severity.MEDIUM,
        description="A monitored parameter does not have its expected value. " + _FDIR,
    ),
    EventDef(
        id=EventId.EVENT_ACTION_CHANGED,
        name="EVENT_ACTION_CHANGED",
        severity=Severity.INFO,
        description="Event-action definitions were added, deleted, enabled or disabled, or "
        "the event-action function was switched; the message says which.",
    ),
    EventDef(
        id=EventId.EVENT_ACTION_TRIGGERED,
        name="EVENT_ACTION_TRIGGERED",
        severity=Severity.LOW,
        description="An event fired an event-action definition: the message names the "
        "definition, the event that fired it and the telecommand sent (service, subservice).",
    ),
    EventDef(
        id=EventId.EVENT_ACTION_FAILED,
        name="EVENT_ACTION_FAILED",
        severity=Severity.HIGH,
        description="A telecommand sent by an event-action failed (its owner reported a start "
        "or completion failure) or was not started in time (no owner on board): the message "
        "names the definition, the TC and the error code; the mode manager is told "
        "(FdirEscalation).",
    ),
    EventDef(
        id=EventId.FDIR_ESCALATED,
        name="FDIR_ESCALATED",
        severity=Severity.HIGH,
        description="An event-action definition fired more often than its budget in its "
        "window: its response does not clear the fault; the mode manager is told "
        "(FdirEscalation).",
    ),
    EventDef(
        id=EventId.FDIR_TABLE_ENTRY_SKIPPED,
        name="FDIR_TABLE_ENTRY_SKIPPED",
        severity=Severity.LOW,
        description="A default monitoring or event-action table entry was not loaded: its "
        "event name or its telecommand is not in this dictionary; the message names it.",
    ),
    EventDef(
        id=EventId.FDIR_REQUEST_REFUSED,
        name="FDIR_REQUEST_REFUSED",
        severity=Severity.LOW,
        description="A service 12 or 19 request was refused when it started (the tables "
        "changed since acceptance); the message gives the reason. The tables are unchanged.",
    ),
    EventDef(
        id=EventId.PUMP_STALLED,
        name="PUMP_STALLED",
        severity=Severity.HIGH,
        description="A pump draws stall current (seized rotor). " + _FDIR,
    ),
    EventDef(
        id=EventId.COOLANT_FLOW_LOW,
        name="COOLANT_FLOW_LOW",
        severity=Severity.HIGH,
        description="A coolant loop's flow is below its floor (worn or failed pump). " + _FDIR,
    ),
    EventDef(
        id=EventId.COOLANT_LEAK,
        name="COOLANT_LEAK",
        severity=Severity.HIGH,
        description="A coolant loop is losing inventory (punctured radiator). " + _FDIR,
    ),
    EventDef(
        id=EventId.SENSOR_OUT_OF_RANGE,
        name="SENSOR_OUT_OF_RANGE",
        severity=Severity.MEDIUM,
        description="A radiator sensor reads outside the physical range (dead). " + _FDIR,
    ),
    EventDef(
        id=EventId.SENSOR_NOISY,
        name="SENSOR_NOISY",
        severity=Severity.MEDIUM,
        description="A radiator sensor jumps more per sample than a panel can. " + _FDIR,
    ),
    EventDef(
        id=EventId.ARRAY_OFF_POINTING,
        name="ARRAY_OFF_POINTING",
        severity=Severity.HIGH,
        description="A tracking wing's drive stopped turning (stuck). " + _FDIR,
    ),
    EventDef(
        id=EventId.ARRAY_OFF_MPP,
        name="ARRAY_OFF_MPP",
        severity=Severity.MEDIUM,
        description="A wing's voltage sits at the bus clamp, off its maximum power point "
        "(MPPT failed). " + _FDIR,
    ),
    EventDef(
        id=EventId.BATTERY_CELL_LOST,
        name="BATTERY_CELL_LOST",
        severity=Severity.HIGH,
        description="The battery reports failed cells. " + _FDIR,
    ),
    EventDef(
        id=EventId.PDU_SWITCH_TRIPPED,
        name="PDU_SWITCH_TRIPPED",
        severity=Severity.MEDIUM,
        description="A PDU switch tripped on overcurrent. " + _FDIR,
    ),
    EventDef(
        id=EventId.PAYLOAD_UPSET_BURST,
        name="PAYLOAD_UPSET_BURST",
        severity=Severity.HIGH,
        description="Redundant executions disagree in a burst (radiation). " + _FDIR,
    ),
):
    EVENTS[_event.id] = _event

HK_STRUCTURES[7] = HkStructure(
    sid=7,
    name="fdir",
    default_interval_s=5.0,
    parameters=(
        _p("monitoring.enabled", "u8", "bool", "Parameter monitoring function enabled."),
        _p("monitoring.definitions", "u16", _COUNTER, "Monitoring definitions in force."),
        _p("monitoring.definitions_enabled", "u16", _COUNTER, "Of them enabled."),
        _p("monitoring.violated", "u16", _COUNTER, "Definitions in a violated status now."),
        _p("monitoring.transitions", "u32", _COUNTER, "Check transitions since boot."),
        _p("monitoring.checks", "u32", _COUNTER, "Checks made since boot."),
        _p("event_action.enabled", "u8", "bool", "Event-action function enabled."),
        _p("event_action.definitions", "u16", _COUNTER, "Event-action definitions in force."),
        _p("event_action.definitions_enabled", "u16", _COUNTER, "Of them enabled."),
        _p("event_action.firings", "u32", _COUNTER, "Stored telecommands sent since boot."),
        _p("event_action.escalations", "u32", _COUNTER, "FDIR escalations since boot."),
        _p("fdir.skipped", "u16", _COUNTER, "Default table entries not loaded (unresolved)."),
    ),
)


# --- power control (PUS 132, SID 6, events 55-69): flightsw.services.power, codecs in icd.power
def _power_block() -> None:
    global SERVICES
    from icd import power

    SERVICES = (
        *SERVICES,
        ServiceDef(
            service=power.SERVICE,
            name="power control (mission-specific)",
            apids=(Apid.PLATFORM,),
            subservices={
                1: "TC shed load (PDU switch)",
                2: "TC restore load (PDU switch)",
                3: "TC sun tracking on/off (wing)",
                4: "TC MPPT on/off (wing; off then on = restart)",
                5: "TC battery limit (minimum state of charge, %)",
                6: "TC re-close a tripped switch (once)",
            },
        ),
    )
    APP_DATA_CHECKS.update(
        {
            (132, 1): power.SwitchRequest.unpack,
            (132, 2): power.SwitchRequest.unpack,
            (132, 3): power.WingRequest.unpack,
            (132, 4): power.WingRequest.unpack,
            (132, 5): power.BatteryLimit.unpack,
            (132, 6): power.SwitchRequest.unpack,
        }
    )
    e = power.PowerEvent
    for event_id, severity, description in (
        (
            e.COMPUTE_SHED_FOR_ECLIPSE,
            Severity.INFO,
            "The onboard orbit model predicts an eclipse: the compute budget is cut to what "
            "the battery can carry through it, ahead of the entry; the message gives the "
            "predicted entry (mission s), the eclipse length and the budget (W).",
        ),
        (
            e.COMPUTE_RESTORED,
            Severity.INFO,
            "After the predicted eclipse exit the arrays deliver again: the compute budget is "
            "back to the array power left after loads and battery charge (W in the message).",
        ),
        (
            e.ARRAY_DRIVE_STUCK,
            Severity.MEDIUM,
            "A solar array drive does not follow its target (or refuses commands): the power "
            "budget is re-balanced on the array power that remains.",
        ),
        (
            e.MPPT_RESTARTED,
            Severity.LOW,
            "A wing's array runs off its maximum power point with MPPT on: the MPPT is "
            "restarted (off, then on) once.",
        ),
        (
            e.MPPT_FAILED,
            Severity.MEDIUM,
            "A wing's MPPT stays off its maximum power point after a restart: the budget is "
            "made on the reduced array power.",
        ),
        (
            e.BATTERY_DEGRADED,
            Severity.MEDIUM,
            "The battery reports failed cells or lost capacity: the minimum state of charge "
            "(depth-of-discharge floor) is raised and the eclipse budget follows.",
        ),
        (
            e.LOAD_SHED,
            Severity.MEDIUM,
            "A housekeeping load was switched off (by priority, or by 132,1): why and which.",
        ),
        (
            e.LOAD_RESTORED,
            Severity.INFO,
            "A shed load was switched on again (battery above the floor with hysteresis, or "
            "132,2).",
        ),
        (
            e.SWITCH_TRIPPED,
            Severity.MEDIUM,
            "A PDU switch tripped on overcurrent; the message says whether it will be "
            "re-closed (first trip) or kept open (tripped again after its re-close).",
        ),
        (
            e.SWITCH_RECLOSED,
            Severity.LOW,
            "A tripped PDU switch was re-closed once (autonomously or by 132,6).",
        ),
        (
            e.SUN_TRACKING_SET,
            Severity.LOW,
            "Sun tracking of a wing switched on or off (re-enabled after a fault, or 132,3).",
        ),
        (
            e.BATTERY_LOW,
            Severity.HIGH,
            "The battery state of charge fell below the survival floor: compute is cut to 0 "
            "and SURVIVAL is requested from the mode manager.",
        ),
        (
            e.ORBIT_MODEL_CORRECTED,
            Severity.INFO,
            "The sun sensors saw an eclipse edge away from the onboard orbit model's "
            "prediction: the model's phase is re-anchored (the message gives the correction).",
        ),
        (
            e.BATTERY_LIMIT_SET,
            Severity.INFO,
            "The minimum state of charge the power controller keeps changed (132,5).",
        ),
        (
            e.POWER_INPUTS_INVALID,
            Severity.MEDIUM,
            "The battery or array telemetry the power budget needs is invalid: the budget "
            "in force is held (never recomputed from invalid values) until it is valid again.",
        ),
        (
            e.POWER_COMMAND_REFUSED,
            Severity.LOW,
            "A power control telecommand (132,x) was refused (its 1,8 failure report gives "
            "the code): the message names the subservice and why; nothing was changed.",
        ),
    ):
        EVENTS[int(event_id)] = EventDef(
            id=int(event_id), name=event_id.name, severity=severity, description=description
        )
    HK_STRUCTURES[power.SID] = HkStructure(
        sid=power.SID,
        name="power control",
        default_interval_s=2.0,
        parameters=(
            _p("power.compute_limit_w", "f32", "W", "Compute budget published (ComputeLimit)."),
            _p("power.array_available_w", "f32", "W", "Power the arrays could deliver now."),
            _p("power.housekeeping_w", "f32", "W", "Housekeeping loads and pumps."),
            _p("power.charge_w", "f32", "W", "Charge power reserved for the battery."),
            _p("power.min_soc", "f32", "fraction", "Depth-of-discharge floor in force."),
            _p("power.eclipse_predicted", "u8", "bool", "Orbit model: in the shadow now."),
            _p("power.eclipse_budget", "u8", "bool", "Eclipse budget in force (shed)."),
            _p("power.next_entry_in_s", "f32", "s", "Time to the next predicted entry."),
            _p("power.next_exit_in_s", "f32", "s", "Time to the next predicted exit."),
            _p("power.eclipse_duration_s", "f32", "s", "Predicted eclipse length."),
            _p("power.orbit_correction_s", "f32", "s", "Last sun-sensor phase correction."),
            _p("power.loads_shed", "u8", _COUNTER, "Housekeeping loads shed now."),
            _p("power.wings_stuck", "u8", _COUNTER, "Wings whose drive is stuck."),
            _p("power.mppt_failed", "u8", _COUNTER, "Wings whose MPPT failed."),
            _p("power.switches_open", "u8", _COUNTER, "Switches kept open after a trip."),
        ),
    )


_power_block()


# --- service 131: thermal control (icd.thermal) ---------------------------------------------
# Appended block: the service, its acceptance checks, its events and HK SID 5.
from icd import thermal as _thermal  # noqa: E402  (stands on icd.errors only)

SERVICES = (
    *SERVICES,
    ServiceDef(
        service=_thermal.SERVICE,
        name="thermal control (mission-specific)",
        apids=(Apid.PLATFORM,),
        subservices=dict(_thermal.SUBSERVICES),
    ),
)
APP_DATA_CHECKS.update(
    {(_thermal.SERVICE, sub): check for sub, check in _thermal.UNPACKERS.items()}
)
EVENTS.update(
    {
        e.id: e
        for e in (
            EventDef(
                id=_thermal.ThermalEvent.PUMP_SWITCHOVER,
                name="PUMP_SWITCHOVER",
                severity=Severity.HIGH,
                description="Thermal control stopped a loop's pump and started its standby "
                "(seizure, PDU trip or degradation; or 131,1); the message names what was seen.",
            ),
            EventDef(
                id=_thermal.ThermalEvent.PUMP_DEGRADED,
                name="PUMP_DEGRADED",
                severity=Severity.MEDIUM,
                description="A pump's flow at its speed is below the flow-vs-speed curve learnt "
                "while healthy; thermal control raises its speed (then switches if that fails).",
            ),
            EventDef(
                id=_thermal.ThermalEvent.LEAK_DETECTED,
                name="LEAK_DETECTED",
                severity=Severity.HIGH,
                description="A loop's inventory and pressure fall (trend over a window, "
                "persisting); the message gives the rates. Localisation by panel follows.",
            ),
            EventDef(
                id=_thermal.ThermalEvent.PANEL_ISOLATED,
                name="PANEL_ISOLATED",
                severity=Severity.MEDIUM,
                description="A radiator panel's valve was closed (the leaking panel, or 131,2).",
            ),
            EventDef(
                id=_thermal.ThermalEvent.PANEL_RESTORED,
                name="PANEL_RESTORED",
                severity=Severity.INFO,
                description="A radiator panel's valve was opened again (131,3).",
            ),
            EventDef(
                id=_thermal.ThermalEvent.LOOP_ISOLATED,
                name="LOOP_ISOLATED",
                severity=Severity.HIGH,
                description="A loop was isolated: pumps stopped and its compute limited to 0 W "
                "(leak not localised, inventory below its floor, or 131,6).",
            ),
            EventDef(
                id=_thermal.ThermalEvent.LOOP_RESTORED,
                name="LOOP_RESTORED",
                severity=Severity.INFO,
                description="An isolated loop was restored (131,7): a pump runs, limit lifted.",
            ),
            EventDef(
                id=_thermal.ThermalEvent.SENSOR_VOTED_OUT,
                name="SENSOR_VOTED_OUT",
                severity=Severity.MEDIUM,
                description="A radiator sensor left its panel's 2-of-3 vote; the message names "
                "it and why (range, rate, stuck, noisy, drift, ground).",
            ),
            EventDef(
                id=_thermal.ThermalEvent.SENSOR_VOTED_IN,
                name="SENSOR_VOTED_IN",
                severity=Severity.INFO,
                description="A radiator sensor was voted back in (131,5).",
            ),
            EventDef(
                id=_thermal.ThermalEvent.SENSOR_VOTE_LOST,
                name="SENSOR_VOTE_LOST",
                severity=Severity.MEDIUM,
                description="A radiator panel has fewer than 2 valid sensors: its voted "
                "temperature is invalid.",
            ),
            EventDef(
                id=_thermal.ThermalEvent.THERMAL_LIMIT,
                name="THERMAL_LIMIT",
                severity=Severity.MEDIUM,
                description="A loop's heat rejection falls short: thermal control limits the "
                "compute on that loop; the message gives load, capacity, supply temp, limit.",
            ),
            EventDef(
                id=_thermal.ThermalEvent.THERMAL_LIMIT_LIFTED,
                name="THERMAL_LIMIT_LIFTED",
                severity=Severity.INFO,
                description="A loop's thermal compute limit was relaxed or lifted (margin back).",
            ),
            EventDef(
                id=_thermal.ThermalEvent.LOOP_NO_FLOW,
                name="LOOP_NO_FLOW",
                severity=Severity.HIGH,
                description="A loop has no coolant flow: its compute is shed (0 W) until flow "
                "is back.",
            ),
            EventDef(
                id=_thermal.ThermalEvent.LOOP_FLOW_RESTORED,
                name="LOOP_FLOW_RESTORED",
                severity=Severity.INFO,
                description="Coolant flows again in a loop; its no-flow shed is lifted.",
            ),
            EventDef(
                id=_thermal.ThermalEvent.THERMAL_ACTION_FAILED,
                name="THERMAL_ACTION_FAILED",
                severity=Severity.MEDIUM,
                description="A thermal-control device command failed (pump, valve, PDU); the "
                "message names the device, the command and the error.",
            ),
            EventDef(
                id=_thermal.ThermalEvent.PUMP_STANDBY_UNAVAILABLE,
                name="PUMP_STANDBY_UNAVAILABLE",
                severity=Severity.MEDIUM,
                description="The periodic check of a loop's standby pump (a set_speed_rpm to "
                "the stopped pump) was refused: the pump is not usable (seized). The loop runs "
                "on without a standby; a fault of its running pump will stop its flow.",
            ),
            EventDef(
                id=_thermal.ThermalEvent.PUMP_TEST_RUN,
                name="PUMP_TEST_RUN",
                severity=Severity.INFO,
                description="The periodic test run of a loop's standby pump (pump rotation) "
                "ended: its flow against the healthy curve, and the pump the loop is back on.",
            ),
        )
    }
)
HK_STRUCTURES[_thermal.HK_SID] = HkStructure(
    sid=_thermal.HK_SID,
    name="thermal_control",
    default_interval_s=2.0,
    parameters=tuple(_p(*row) for row in _thermal.hk_parameter_names()),
)
