"""Client side of a device port (and of hwsim's simulation-control port, same envelope).

One DEALER socket per endpoint; requests are serialised (one in flight) and replies are
matched by id, so a late reply to a request that already timed out is recognised and dropped.
Timeouts are in mission time. A frame that is not a device reply at all (not msgpack, a bad
``time_ns``...) cannot be matched to a request and is dropped too, but counted with its
reason (``undecodable_replies``, ``last_undecodable``): a request that then times out says
"N undecodable replies meanwhile: <reason>", not merely that the port was silent.

``read_model`` validates a read into the device's ICD register model (``icd.devices``): a reply
with a missing, unknown or ill-typed register raises :class:`DeviceReplyInvalid` naming it,
so a caller never works on a default.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence
from typing import Any, TypeVar

import zmq
import zmq.asyncio
from pydantic import BaseModel, ValidationError

from icd.device import (
    DeviceErrorCode,
    DeviceOp,
    DeviceReply,
    DeviceRequest,
    ReadManyResult,
    RegisterValue,
)
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
    """No reply in time; ``undecodable`` frames that were no device reply came meanwhile
    (``reason``: why the last one was not), so the port was not silent but broken."""

    def __init__(
        self,
        endpoint: str,
        device: str | None,
        timeout_s: float,
        undecodable: int = 0,
        reason: str = "",
    ) -> None:
        text = f"{device or 'port'} at {endpoint}: no reply in {timeout_s} mission s"
        if undecodable:
            text += f"; {undecodable} undecodable replies meanwhile: {reason}"
        super().__init__(text)
        self.device = device
        self.undecodable = undecodable
        self.reason = reason


def _undecodable_reason(exc: DecodeError) -> str:
    """Why a frame is no device reply, in one short line (pydantic's text is long)."""
    cause = exc.__cause__
    if isinstance(cause, ValidationError):
        problem = cause.errors()[0]
        where = ".".join(str(p) for p in problem["loc"]) or "reply"
        got = repr(problem.get("input"))[:30]
        return f"field {where}: {problem['msg']} (got {got})"[:120]
    return str(exc)[:120]


def _validated(device: str, raw: Any, expected: type[R]) -> R:
    """``raw`` registers of ``device`` validated into its ICD model (``expected``: the model
    the caller needs; a slot of another kind is invalid too)."""
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
        # Frames received that were no device reply (they match no request): how many, and
        # why the last one was not; a timeout names them.
        self.undecodable_replies = 0
        self.last_undecodable = ""
        # Replies taken although the timeout had fallen due (see _arrived), and the receive
        # in progress.
        self.late_replies = 0
        self._receiving: asyncio.Future[bytes] | None = None
        # Requests of this port that timed out (whether one ahead of a request did).
        self.timeouts = 0

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
        *,
        within_s: float | None = None,
    ) -> Any:
        """One request; ``within_s`` (mission s) bounds the wait for the port (behind other
        users' requests) and, when one of those timed out meanwhile, the reply together;
        instead of ``timeout_s`` the reply alone. (Behind requests that were all answered the
        reply has ``within_s`` from its send: the port is busy, not silent.)"""
        request = DeviceRequest(
            id=next(self._ids), op=op, device=device, command=command, args=args or {}
        )
        if within_s is None:
            reply = await self._exchange(request)
        else:
            reply = await self._exchange(request, within_s)
        self.last_time_ns = reply.time_ns
        if not reply.ok:
            assert reply.error is not None
            raise DevicePortError(device, reply.error.code, reply.error.message)
        return reply.result

    async def _exchange(self, request: DeviceRequest, within_s: float | None = None) -> DeviceReply:
        """Send one request and wait for its reply (the transport; a test double of the port
        replaces only this)."""
        sock = self._socket
        if sock is None:
            raise RuntimeError("device port is not open: use 'async with DevicePort(...)'")
        timeout_s = self.timeout_s if within_s is None else within_s
        asked_ns = self._clock.now_ns()
        before = self.undecodable_replies
        timeouts_before = self.timeouts
        if within_s is None:
            await self._lock.acquire()
        else:
            try:
                await self._clock.wait_for(self._lock.acquire(), within_s)
            except TimeoutError:
                self.timeouts += 1
                raise self.timeout_error(request.device, timeout_s, before) from None
        try:
            before = self.undecodable_replies
            await sock.send(request.pack())
            # The wait behind other requests counts against ``within_s`` only when one of them
            # timed out meanwhile (the port may be silent: staleness is still flagged within
            # one timeout of asking). When every one of them was answered, the port answers
            # and was merely busy: this request's reply gets its whole timeout from its send
            # (at x300 a queue of a few requests ahead took most of a 6.7 ms timeout).
            waited_s = (
                0.0
                if within_s is None or self.timeouts == timeouts_before
                else (self._clock.now_ns() - asked_ns) / 1e9
            )
            try:
                return await self._clock.wait_for(
                    self._reply_to(sock, request.id), max(0.0, timeout_s - waited_s)
                )
            except TimeoutError:
                late = await self._arrived(sock, request.id)
                if late is not None:
                    return late
                self.timeouts += 1
                raise self.timeout_error(request.device, timeout_s, before) from None
        finally:
            self._receiving = None
            self._lock.release()

    async def _arrived(self, sock: zmq.asyncio.Socket, request_id: int) -> DeviceReply | None:
        """The reply, if the hardware's answer is already here when the timeout is handled:
        received but not yet handed to the waiting request (the timeout and the reply fell
        due in the same event-loop pass), or queued in the socket. A busy flight software
        loop (or a host that did not schedule it) is late to read a reply that came in time;
        that is not a silent port. Other frames found meanwhile are dropped as always."""
        receiving, self._receiving = self._receiving, None
        frames: list[bytes] = []
        if receiving is not None and receiving.done() and not receiving.cancelled():
            if receiving.exception() is None:
                frames.append(receiving.result())
        while True:
            try:
                frames.append(await sock.recv(flags=zmq.NOBLOCK))
            except zmq.Again:
                break
        found: DeviceReply | None = None
        for frame in frames:
            reply = self._decoded(frame)
            if reply is not None and reply.id == request_id:
                found = reply
        if found is not None:
            self.late_replies += 1
        return found

    def timeout_error(self, device: str | None, timeout_s: float, since: int) -> DeviceTimeout:
        """The timeout of a request to ``device``, naming the undecodable replies received
        since the count was ``since`` (``undecodable_replies`` when the wait began)."""
        return DeviceTimeout(
            self.endpoint,
            device,
            timeout_s,
            self.undecodable_replies - since,
            self.last_undecodable,
        )

    def _decoded(self, frame: bytes) -> DeviceReply | None:
        try:
            return DeviceReply.unpack(frame)
        except DecodeError as exc:
            # Whose reply it was cannot be known: never matched to a request (the request
            # times out), but counted, so the timeout says the port answered garbage.
            self.undecodable_replies += 1
            self.last_undecodable = _undecodable_reason(exc)
            return None

    async def _reply_to(self, sock: zmq.asyncio.Socket, request_id: int) -> DeviceReply:
        while True:
            # Kept: a frame received as the timeout fell due is still this request's reply.
            self._receiving = receiving = sock.recv()
            frame = await receiving
            self._receiving = None
            reply = self._decoded(frame)
            if reply is not None and reply.id == request_id:
                return reply

    async def list(self, within_s: float | None = None) -> list[str]:
        return list(await self.request(DeviceOp.LIST, within_s=within_s))

    async def describe(self, device: str) -> dict[str, Any]:
        return dict(await self.request(DeviceOp.DESCRIBE, device))

    async def read(self, device: str) -> dict[str, RegisterValue]:
        """The raw register map (unvalidated: tools and tests; flight software uses
        :meth:`read_model`)."""
        return dict(await self.request(DeviceOp.READ, device) or {})

    async def read_model(
        self,
        device: str,
        expected: type[R] = DeviceRegisters,  # type: ignore[assignment]
        within_s: float | None = None,
    ) -> R:
        """The device's registers validated into its ICD model (kind from the id);
        ``expected``: the model the caller needs (a slot of another kind is invalid too)."""
        raw = await self.request(DeviceOp.READ, device, within_s=within_s)
        return _validated(device, raw, expected)

    async def read_many(
        self, devices: Sequence[str], within_s: float | None = None
    ) -> ReadManyResult:
        """Many devices' raw registers in one round trip (``read_many``): per device its
        registers or its error. A port that does not know ``read_many`` raises
        DevicePortError with code ``unknown_op``."""
        raw = await self.request(
            DeviceOp.READ_MANY, args={"devices": list(devices)}, within_s=within_s
        )
        try:
            return ReadManyResult.model_validate(raw)
        except ValidationError as exc:
            raise DeviceReplyInvalid(
                "read_many", f"read_many result invalid: {_undecodable_reason(exc)}", ["<reply>"]
            ) from None

    async def read_models(
        self, devices: Sequence[str], within_s: float | None = None
    ) -> dict[str, DeviceRegisters | DevicePortError]:
        """Each device's registers validated into its ICD model, or the error that device
        alone has (DevicePortError from the hardware, DeviceReplyInvalid for a reply off the
        ICD), all in one round trip: one bad device never spoils the rest. A timeout of the
        round trip raises DeviceTimeout (the port is silent, not a device)."""
        batch = await self.read_many(devices, within_s)
        out: dict[str, DeviceRegisters | DevicePortError] = {}
        for device in devices:
            if device in batch.registers:
                try:
                    out[device] = _validated(device, batch.registers[device], DeviceRegisters)
                except DeviceReplyInvalid as exc:
                    out[device] = exc
            elif device in batch.errors:
                error = batch.errors[device]
                out[device] = DevicePortError(device, error.code, error.message)
            else:
                out[device] = DeviceReplyInvalid(
                    device, f"{device}: missing from the read_many reply", ["<device>"]
                )
        return out

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
