"""The device-port protocol: the hardware-in-the-loop seam between flight software and hardware.

Transport: ZeroMQ DEALER (flight software) to ROUTER (hardware) on any endpoint, one msgpack map
per frame. Every request carries the protocol version and an id the reply echoes, so a client
can pipeline requests and time out one without breaking the socket (unlike REQ/REP).

Operations:
- ``list``: the device ids behind this endpoint.
- ``describe``: a device's kind, registers (with units) and commands.
- ``read``: a device's telemetry registers.
- ``read_many``: the registers of many devices in one round trip (``args.devices``: the
  ids); the result is :class:`ReadManyResult`: per device its registers or its error, so one
  unknown or faulty device never spoils the others (the reply itself is ``ok``). A poll cycle
  of flight software is one request instead of one per device (issue 9: ×300 without timeouts).
- ``command``: run a device command with arguments; the reply carries result registers.

Every reply carries the hardware's mission time (``time_ns``) at which it was produced.
The simulation-control port of hwsim speaks the same envelope with its own operations
(see ``SimOp``) and is never reachable from the RF link.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import msgpack
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from icd.errors import DecodeError

__all__ = [
    "DEVICE_PROTOCOL_VERSION",
    "DeviceErrorCode",
    "DeviceOp",
    "DeviceReply",
    "DeviceRequest",
    "ReadManyResult",
    "RegisterValue",
    "SimOp",
]

DEVICE_PROTOCOL_VERSION = 1

RegisterValue = float | int | bool | str


class DeviceOp(StrEnum):
    LIST = "list"
    DESCRIBE = "describe"
    READ = "read"
    COMMAND = "command"
    READ_MANY = "read_many"  # args: {"devices": [ids]}; result: ReadManyResult


class SimOp(StrEnum):
    """Operations of hwsim's simulation-control port (tests and ground scripts only)."""

    TIME = "time"
    FAULT_CATALOGUE = "fault_catalogue"
    INJECT_FAULT = "inject_fault"
    CLEAR_FAULT = "clear_fault"
    ACTIVE_FAULTS = "active_faults"
    TRUTH = "truth"
    SNAPSHOT = "snapshot"  # args: path (optional, on the hwsim host); see hwsim.snapshot
    RESTORE = "restore"  # args: path of a snapshot file on the hwsim host


class DeviceErrorCode(StrEnum):
    UNSUPPORTED_VERSION = "unsupported_version"
    MALFORMED = "malformed"
    UNKNOWN_OP = "unknown_op"
    UNKNOWN_DEVICE = "unknown_device"
    UNKNOWN_COMMAND = "unknown_command"
    BAD_ARGUMENT = "bad_argument"
    DEVICE_FAULT = "device_fault"
    DEVICE_OFF = "device_off"
    INTERNAL = "internal"
    # client side, never sent: a reply that does not validate into the ICD model
    INVALID_REPLY = "invalid_reply"


class _Wire(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def pack(self) -> bytes:
        return msgpack.packb(self.model_dump(mode="json", exclude_none=True))

    @classmethod
    def unpack(cls, frame: bytes) -> Any:
        try:
            raw = msgpack.unpackb(frame)
        except Exception as exc:
            raise DecodeError("msgpack", expected="one msgpack map", got=repr(exc)) from exc
        if not isinstance(raw, dict):
            raise DecodeError("msgpack", expected="a map", got=type(raw).__name__)
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            raise DecodeError(
                f"{cls.__name__} fields", expected="a valid message", got=str(exc)
            ) from exc


class DeviceRequest(_Wire):
    v: int = Field(DEVICE_PROTOCOL_VERSION, description="Protocol version the client speaks.")
    id: int = Field(ge=0, description="Request id, echoed by the reply.")
    op: str = Field(description="A DeviceOp (device port) or SimOp (simulation-control port).")
    device: str | None = Field(None, description="Device id, for describe/read/command.")
    command: str | None = Field(None, description="Command name, for op=command.")
    args: dict[str, Any] = Field(default_factory=dict, description="Command arguments.")


class DeviceError(BaseModel):
    model_config = ConfigDict(frozen=True)
    code: DeviceErrorCode
    message: str


class DeviceReply(_Wire):
    v: int = DEVICE_PROTOCOL_VERSION
    id: int = Field(description="The request id this answers (-1 when the request was unreadable).")
    ok: bool
    time_ns: int = Field(description="Hardware mission time when the reply was made, ns.")
    result: dict[str, Any] | list[Any] | None = Field(None, description="Registers or listing.")
    error: DeviceError | None = None

    @classmethod
    def failure(
        cls, request_id: int, time_ns: int, code: DeviceErrorCode, message: str
    ) -> DeviceReply:
        return cls(
            id=request_id, ok=False, time_ns=time_ns, error=DeviceError(code=code, message=message)
        )


class ReadManyResult(BaseModel):
    """The result of ``read_many``: every requested device is in exactly one of the two maps.
    The registers are each device's ``read`` result (validated by the reader, per device,
    into its ICD model: ``runtime.ports.DevicePort.read_models``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    registers: dict[str, Any] = Field(description="Device id -> its registers, as read.")
    errors: dict[str, DeviceError] = Field(
        default_factory=dict, description="Device id -> why it could not be read."
    )
