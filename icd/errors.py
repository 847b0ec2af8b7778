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
    # --- power control (PUS 132, flightsw.services.power): 0x0030-0x0033
    POWER_LOAD_PROTECTED = 0x0030
    POWER_UNKNOWN_TARGET = 0x0031
    POWER_SWITCH_NOT_RECLOSABLE = 0x0032
    POWER_LIMIT_REFUSED = 0x0033


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
    # --- power control (PUS 132)
    ErrorCode.POWER_LOAD_PROTECTED: (
        "132,1: the load may not be shed (priority 0: avionics, pumps); the event says which."
    ),
    ErrorCode.POWER_UNKNOWN_TARGET: "132,x: no PDU switch or solar wing of that name on board.",
    ErrorCode.POWER_SWITCH_NOT_RECLOSABLE: (
        "132,2 / 132,6: the switch is not tripped, was already re-closed once for this trip, "
        "or tripped again after its re-close and is kept open."
    ),
    ErrorCode.POWER_LIMIT_REFUSED: (
        "132,5: the minimum state of charge is at or below the survival floor, or leaves less "
        "than 5 % below the charge target; the limit in force is unchanged."
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
