"""Typed codec errors and the documented PUS service 1 failure codes."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["ERROR_CODE_DESCRIPTIONS", "DecodeError", "ErrorCode"]


class ErrorCode(IntEnum):
    """2-byte failure codes carried by TM(1,2), (1,4) and (1,8). Exported in the dictionary."""

    ILLEGAL_APID = 0x0001
    INVALID_LENGTH = 0x0002
    INVALID_CHECKSUM = 0x0003
    ILLEGAL_PACKET_TYPE = 0x0004
    ILLEGAL_SERVICE = 0x0005
    ILLEGAL_SUBSERVICE = 0x0006
    INVALID_APP_DATA = 0x0007
    UNSUPPORTED_PUS_VERSION = 0x0008
    SERVICE_UNAVAILABLE = 0x0010
    EXECUTION_FAILED = 0x0011
    DEVICE_ERROR = 0x0012
    BUSY = 0x0013
    NOT_FOUND = 0x0014
    # --- thermal control (service 131, icd.thermal): 0x002C-0x002F
    THERMAL_PUMP_UNAVAILABLE = 0x002C
    THERMAL_VALVE_UNAVAILABLE = 0x002D
    THERMAL_STATE_CONFLICT = 0x002E


ERROR_CODE_DESCRIPTIONS: dict[ErrorCode, str] = {
    ErrorCode.ILLEGAL_APID: "The TC's APID is not one the satellite owns.",
    ErrorCode.INVALID_LENGTH: (
        "The packet length field disagrees with the datagram, or the packet is too short or "
        "longer than 1024 bytes."
    ),
    ErrorCode.INVALID_CHECKSUM: "The CRC-16/CCITT-FALSE in the last two bytes does not match.",
    ErrorCode.ILLEGAL_PACKET_TYPE: (
        "Wrong packet version, a TM sent up, no secondary header, or a segmented packet."
    ),
    ErrorCode.ILLEGAL_SERVICE: "No service of that type is on board for that APID.",
    ErrorCode.ILLEGAL_SUBSERVICE: "The service does not offer that telecommand subtype.",
    ErrorCode.INVALID_APP_DATA: (
        "The application data does not decode for this request (layout, values, ranges)."
    ),
    ErrorCode.UNSUPPORTED_PUS_VERSION: "The TC secondary header does not announce PUS-C (2).",
    ErrorCode.SERVICE_UNAVAILABLE: (
        "The service that owns the request did not start it in time (crashed or restarting)."
    ),
    ErrorCode.EXECUTION_FAILED: "The request started but failed; an event tells why.",
    ErrorCode.DEVICE_ERROR: "A device port refused the command or did not answer.",
    ErrorCode.BUSY: "The owner cannot take the request now (queue full, conflicting work).",
    ErrorCode.NOT_FOUND: (
        "The request names an object (structure, event, job, function) that does not exist."
    ),
    # --- thermal control (service 131, icd.thermal)
    ErrorCode.THERMAL_PUMP_UNAVAILABLE: (
        "131,1/131,7: the pump cannot run (seen seized or degraded by thermal control, its "
        "PDU channel tripped, or the pump refused to start); the event names the reason."
    ),
    ErrorCode.THERMAL_VALVE_UNAVAILABLE: (
        "131,2/131,3 (or an autonomous isolation): the radiator panel valve (radvalve.P<nn>) "
        "did not answer or refused the command."
    ),
    ErrorCode.THERMAL_STATE_CONFLICT: (
        "Thermal control cannot do it in its present state (e.g. switch the pump of an "
        "isolated loop, vote in a sensor reading out of range); the event names it."
    ),
}


class DecodeError(ValueError):
    """A packet or field did not decode; carries what was expected and what arrived."""

    def __init__(self, reason: str, *, expected: object = None, got: object = None) -> None:
        self.reason = reason
        self.expected = expected
        self.got = got
        detail = f"{reason}: expected {expected}, got {got}" if expected is not None else reason
        super().__init__(detail)
