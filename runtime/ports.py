"""Client side of a device port (and of hwsim's simulation-control port, same envelope).

One DEALER socket per endpoint; requests are serialised (one in flight) and replies are
matched by id, so a late reply to a request that already timed out is recognised and dropped.
Timeouts are in mission time.

``read_model`` validates a read into the device's ICD register model (``icd.devices``): a reply
with a missing, unknown or ill-typed register raises :class:`DeviceReplyInvalid` naming it,
so a caller never works on a default.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any, TypeVar

import zmq
import zmq.asyncio
from pydantic import BaseModel

from icd.device import DeviceErrorCode, DeviceOp, DeviceReply, DeviceRequest, RegisterValue
from icd.devices import (
    DeviceRegisters,
    RegistersInvalid,
    UnknownDeviceKind,
    parse_registers,
    parse_result,
)
from icd.errors import DecodeError
from runtime.clock import Clock

R = TypeVar("R", bound=DeviceRegisters)
M = TypeVar("M", bound=BaseModel)

__all__ = ["DevicePort", "DevicePortError", "DeviceReplyInvalid", "DeviceTimeout"]


class DevicePortError(RuntimeError):
    """The hardware answered with an error (``code`` is an ``icd.device.DeviceErrorCode``)."""

    def __init__(self, device: str | None, code: str, message: str) -> None:
        super().__init__(f"{device or 'port'}: {code}: {message}")
        self.device = device
        self.code = code


class DeviceReplyInvalid(DevicePortError):
    """The hardware answered, but not with what the ICD says: ``fields`` names the missing,
    unknown or ill-typed registers (code ``invalid_reply``)."""

    def __init__(self, device: str, message: str, fields: list[str]) -> None:
        super().__init__(device, DeviceErrorCode.INVALID_REPLY, message)
        self.fields = fields


class DeviceTimeout(TimeoutError):
    def __init__(self, endpoint: str, device: str | None, timeout_s: float) -> None:
        super().__init__(f"{device or 'port'} at {endpoint}: no reply in {timeout_s} mission s")
        self.device = device


class DevicePort:
    """An async client of one device-port endpoint (an async context manager)."""

    def __init__(
        self, context: zmq.asyncio.Context, endpoint: str, clock: Clock, timeout_s: float = 2.0
    ) -> None:
        self.endpoint = endpoint
        self._context = context
        self._clock = clock
        self.timeout_s = timeout_s
        self._ids = itertools.count(1)
        self._lock = asyncio.Lock()
        self._socket: zmq.asyncio.Socket | None = None
        self.last_time_ns = 0

    async def __aenter__(self) -> DevicePort:
        sock = self._context.socket(zmq.DEALER)
        sock.linger = 0
        sock.connect(self.endpoint)
        self._socket = sock
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    async def request(
        self,
        op: str,
        device: str | None = None,
        command: str | None = None,
        args: dict[str, Any] | None = None,
    ) -> Any:
        request = DeviceRequest(
            id=next(self._ids), op=op, device=device, command=command, args=args or {}
        )
        reply = await self._exchange(request)
        self.last_time_ns = reply.time_ns
        if not reply.ok:
            assert reply.error is not None
            raise DevicePortError(device, reply.error.code, reply.error.message)
        return reply.result

    async def _exchange(self, request: DeviceRequest) -> DeviceReply:
        """Send one request and wait for its reply (the transport; a test double of the port
        replaces only this)."""
        sock = self._socket
        if sock is None:
            raise RuntimeError("device port is not open: use 'async with DevicePort(...)'")
        async with self._lock:
            await sock.send(request.pack())
            try:
                return await self._clock.wait_for(self._reply_to(sock, request.id), self.timeout_s)
            except TimeoutError:
                raise DeviceTimeout(self.endpoint, request.device, self.timeout_s) from None

    async def _reply_to(self, sock: zmq.asyncio.Socket, request_id: int) -> DeviceReply:
        while True:
            frame = await sock.recv()
            try:
                reply = DeviceReply.unpack(frame)
            except DecodeError:
                continue  # not ours to interpret; the request will time out
            if reply.id == request_id:
                return reply

    async def list(self) -> list[str]:
        return list(await self.request(DeviceOp.LIST))

    async def describe(self, device: str) -> dict[str, Any]:
        return dict(await self.request(DeviceOp.DESCRIBE, device))

    async def read(self, device: str) -> dict[str, RegisterValue]:
        """The raw register map (unvalidated: tools and tests; flight software uses
        :meth:`read_model`)."""
        return dict(await self.request(DeviceOp.READ, device) or {})

    async def read_model(self, device: str, expected: type[R] = DeviceRegisters) -> R:  # type: ignore[assignment]
        """The device's registers validated into its ICD model (kind from the id);
        ``expected``: the model the caller needs (a slot of another kind is invalid too)."""
        raw = await self.request(DeviceOp.READ, device)
        try:
            registers = parse_registers(device, raw)
        except RegistersInvalid as exc:
            raise DeviceReplyInvalid(device, str(exc), exc.fields) from None
        except UnknownDeviceKind as exc:
            raise DeviceReplyInvalid(device, str(exc), ["<device>"]) from None
        if not isinstance(registers, expected):
            raise DeviceReplyInvalid(
                device,
                f"{device}: expected {expected.__name__}, got {type(registers).__name__}",
                ["<kind>"],
            )
        return registers

    async def command(
        self, device: str, command: str, args: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        return dict(await self.request(DeviceOp.COMMAND, device, command, args) or {})

    async def command_model(
        self, device: str, command: str, args: dict[str, Any] | None, expected: type[M]
    ) -> M:
        """A command whose result is validated into ``expected`` (an ICD result model, e.g.
        ``icd.devices.IdentityResult``); DeviceReplyInvalid names what does not match."""
        raw = await self.request(DeviceOp.COMMAND, device, command, args)
        try:
            return parse_result(device, command, expected, raw)
        except RegistersInvalid as exc:
            raise DeviceReplyInvalid(device, str(exc), exc.fields) from None

    def sibling(self, timeout_s: float | None = None) -> DevicePort:
        """Another client of the same endpoint, with its own socket (open it with ``async
        with``): for a long poll that must not hold up this port's one-at-a-time requests."""
        return DevicePort(
            self._context,
            self.endpoint,
            self._clock,
            self.timeout_s if timeout_s is None else timeout_s,
        )
