"""Typed codec errors and the documented PUS service 1 failure codes."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["ERROR_CODE_DESCRIPTIONS", "DecodeError", "ErrorCode", "RefusedError"]


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
    MODE_DENIED = 0x0020
    # --- payload manager, issue 9 (0x0034-0x0037) ---
    BOARD_LIMITED_OUT = 0x0034
    UNKNOWN_SLOT = 0x0035
    MODE_FORBIDS_JOBS = 0x0036
    # fdir: PUS 12 on-board monitoring and PUS 19 event-action (0x0024..0x002B)
    FDIR_UNKNOWN_PARAMETER = 0x0024
    FDIR_BAD_DEFINITION = 0x0025
    FDIR_ID_IN_USE = 0x0026
    FDIR_UNKNOWN_ID = 0x0027
    FDIR_UNKNOWN_EVENT = 0x0028
    FDIR_BAD_STORED_TC = 0x0029
    FDIR_TABLE_FULL = 0x002A
    # --- power control (PUS 132, flightsw.services.power): 0x0030-0x0033
    POWER_LOAD_PROTECTED = 0x0030
    POWER_UNKNOWN_TARGET = 0x0031
    POWER_SWITCH_NOT_RECLOSABLE = 0x0032
    POWER_LIMIT_REFUSED = 0x0033
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


# Service 130 (mode management).
ERROR_CODE_DESCRIPTIONS[ErrorCode.MODE_DENIED] = (
    "The mode manager refused the transition: not allowed from the mode in force, or its "
    "guard failed (battery state of charge, a FAILED service, FDIR escalations); the "
    "MODE_DENIED event says why."
)


# --- payload manager, issue 9 ---
ERROR_CODE_DESCRIPTIONS.update(
    {
        ErrorCode.BOARD_LIMITED_OUT: (
            "The board is kept off by a compute limit in force (power, thermal, mode, FDIR)."
        ),
        ErrorCode.UNKNOWN_SLOT: "No compute board is known in that slot.",
        ErrorCode.MODE_FORBIDS_JOBS: "No new compute job is admitted in mode SAFE or SURVIVAL.",
    }
)
# --- fdir: PUS 12 on-board monitoring and PUS 19 event-action --------------------------------

ERROR_CODE_DESCRIPTIONS.update(
    {
        ErrorCode.FDIR_UNKNOWN_PARAMETER: (
            "A monitoring definition names a parameter (or validity parameter) that is neither "
            "a housekeeping parameter nor a numeric register of a device kind (icd.devices)."
        ),
        ErrorCode.FDIR_BAD_DEFINITION: (
            "A monitoring definition is impossible: low limit not below the high one, "
            "repetition number 0."
        ),
        ErrorCode.FDIR_ID_IN_USE: (
            "A PMON or event-action id to add is already in force (or twice in the request)."
        ),
        ErrorCode.FDIR_UNKNOWN_ID: "No PMON or event-action definition of that id is in force.",
        ErrorCode.FDIR_UNKNOWN_EVENT: (
            "A monitoring or event-action definition names an event id the dictionary lacks."
        ),
        ErrorCode.FDIR_BAD_STORED_TC: (
            "The telecommand stored in an event-action definition does not decode as a PUS-C "
            "TC, or would itself be refused at acceptance (APID, service, application data)."
        ),
        ErrorCode.FDIR_TABLE_FULL: "The monitoring or event-action table has no room left.",
    }
)


class RefusedError(DecodeError):
    """Application data that decodes but is refused at acceptance for its meaning, with the
    documented service 1 code to report (the link reports ``code`` in the TM(1,2) instead of
    INVALID_APP_DATA)."""

    def __init__(
        self, reason: str, code: ErrorCode, *, expected: object = None, got: object = None
    ) -> None:
        super().__init__(reason, expected=expected, got=got)
        self.code = code
