"""The telecommand/telemetry dictionary: what both ends of the RF link agree on.

It names the APIDs the satellite owns, the PUS services and subservices on board with their
application-data layouts, the housekeeping structures (SID → typed parameters with units),
the events and the service 1 error codes. ``export_json()`` writes it as a versioned JSON
dictionary for third-party ground tools; the Python ground station decodes with it directly.

Application-data layouts (big-endian):
- 1,1 / 1,3 / 1,7: request id (4 bytes). 1,2 / 1,4 / 1,8: request id + error code (u16).
- 3,5 / 3,6 / 3,27 (enable / disable / one-shot): N (u8) then N SIDs (u16).
- 3,31 (set interval): N (u8) then N × (SID u16, interval u32 in mission milliseconds).
- 3,25 (report): SID (u16) then the structure's parameters in order, each in its format.
- 5,1..5,4 (event by severity): event id (u16) then a UTF-8 message.
- 5,5 / 5,6 (enable / disable events): N (u8) then N event ids (u16).
- 8,1 (device function): device id length (u8), device id (ASCII), command length (u8),
  command (ASCII), then the arguments as a UTF-8 JSON object (may be empty = no arguments).
- 17,1 → 17,2: no data.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from enum import IntEnum
from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from icd.errors import ERROR_CODE_DESCRIPTIONS, DecodeError, ErrorCode

__all__ = [
    "APIDS",
    "DICTIONARY_VERSION",
    "EVENTS",
    "HK_STRUCTURES",
    "SERVICES",
    "Apid",
    "EventDef",
    "EventId",
    "HkParameter",
    "HkStructure",
    "Severity",
    "check_app_data",
    "export_json",
    "hk_structure",
    "pack_device_function",
    "pack_event",
    "pack_hk_report",
    "pack_id_list",
    "pack_intervals",
    "service_def",
    "tc_subservices",
    "unpack_device_function",
    "unpack_event",
    "unpack_hk_report",
    "unpack_id_list",
    "unpack_intervals",
]

DICTIONARY_VERSION = "1.0.0"


class Apid(IntEnum):
    PLATFORM = 1
    PAYLOAD = 2


APIDS: dict[int, str] = {
    Apid.PLATFORM: "platform computer: time, housekeeping, events, devices",
    Apid.PAYLOAD: "compute payload manager",
}


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

    @property
    def struct_format(self) -> str:
        return ">H" + "".join(_FORMATS[p.fmt] for p in self.parameters)


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
            ),
        ),
    )
}


def hk_structure(sid: int) -> HkStructure | None:
    return HK_STRUCTURES.get(sid)


def pack_hk_report(structure: HkStructure, pool: dict[str, float]) -> bytes:
    """Pack a 3,25 report; parameters absent from the pool go down as 0 (never seen yet)."""
    values: list[Any] = []
    for parameter in structure.parameters:
        value = pool.get(parameter.name, 0)
        values.append(float(value) if parameter.fmt.startswith("f") else int(value))
    return struct.pack(structure.struct_format, structure.sid, *values)


def unpack_hk_report(data: bytes) -> tuple[int, dict[str, float | int]]:
    if len(data) < 2:
        raise DecodeError("hk_report", expected=">= 2 bytes", got=f"{len(data)} bytes")
    sid = struct.unpack_from(">H", data)[0]
    structure = hk_structure(sid)
    if structure is None:
        raise DecodeError("hk_sid", expected=sorted(HK_STRUCTURES), got=sid)
    expected_len = struct.calcsize(structure.struct_format)
    if len(data) != expected_len:
        raise DecodeError("hk_report_length", expected=expected_len, got=len(data))
    _, *values = struct.unpack(structure.struct_format, data)
    return sid, {p.name: v for p, v in zip(structure.parameters, values, strict=True)}


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
        "error_codes": [
            {"code": c.value, "name": c.name, "description": ERROR_CODE_DESCRIPTIONS[c]}
            for c in ErrorCode
        ],
    }


def export_json(indent: int | None = 2) -> str:
    """The whole dictionary as versioned JSON for ground tools."""
    return json.dumps(_dictionary(), indent=indent)
