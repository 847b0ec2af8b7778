"""Typed codec errors and the documented PUS service 1 failure codes."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["ERROR_CODE_DESCRIPTIONS: dict[ErrorCode, str] = {
    ErrorCode.ILLEGAL_APID: "The TC's APID is not one the satellite owns.",
    ErrorCode.INVALID_LENGTH: (
        "The packet length field disagrees with the datagram, or the packet is too "
        "short/long."
    ),
    ErrorCode.INVALID_CHECKSUM: "The CRC-16/CCITT-FALSE in the last two bytes does not match.",
    ErrorCode.ILLEGAL_PACKET_TYPE: (
        "A TM packet, a packet without secondary header, or a segmented packet was sent "
        "up."
    ),
    ErrorCode.ILLEGAL_SERVICE: "No service of that type is on board for that APID.",
    ErrorCode.ILLEGAL_SUBSERVICE: "The service exists but does not offer that message subtype.",
    ErrorCode.INVALID_APP_DATA: "The application data does not decode for this request (length, values, ranges).",
    ErrorCode.UNSUPPORTED_PUS_VERSION: "The TC secondary header does not announce PUS-C (version 2).",
    ErrorCode.SERVICE_UNAVAILABLE: (
        "The service that owns the request did not start it in time (crashed or "
        "restarting)."
    ),
    ErrorCode.EXECUTION_FAILED: "The request started but failed while executing; an event tells why.",
    ErrorCode.DEVICE_ERROR: "A device port refused or did not answer the command.",
    ErrorCode.BUSY: "The owner cannot take the request now (queue full, conflicting operation).",
    ErrorCode.NOT_FOUND: (
        "The request names an object (structure, job, parameter, function) that does not "
        "exist."
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
