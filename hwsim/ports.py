"""Device-port and simulation-control servers: the hardware side of the HIL seam.

Both are ZeroMQ ROUTER sockets speaking ``icd.device``. The device port exposes the model's
devices plus ``timeref`` (the spacecraft time reference flight software synchronises to). The
simulation-control port injects and clears faults, lists the catalogue, shows the truth and
saves and restores snapshots of the whole model; it is for tests and ground scripts and is
never reachable over the RF link.

Nothing a client sends can stop the server: undecodable frames, unknown operations and model
errors all become error replies.

A handler answers at once, except for a long poll (``backplane.await_results``): it returns an
awaitable, which the server awaits in a task of its own while it goes on answering everything
else, and replies when it is done.
"""

from __future__ import annotations

import asyncio
import errno
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import zmq
import zmq.asyncio

from icd.device import (
    DEVICE_PROTOCOL_VERSION,
    DeviceErrorCode,
    DeviceOp,
    DeviceReply,
    DeviceRequest,
    SimOp,
)
from icd.devices import CommandArgsInvalid, TimeRefRegisters
from icd.devices.compute import BACKPLANE, AwaitResults
from icd.devices.timeref import TIMEREF
from icd.errors import DecodeError
from runtime.clock import Clock

__all__ = [
    "BACKPLANE_DEVICE",
    "TIMEREF_DEVICE",
    "DeviceModel",
    "LongPoll",
    "PortServer",
    "SnapshotControl",
    "device_handler",
    "simctl_handler",
]

log = logging.getLogger(__name__)

TIMEREF_DEVICE = "timeref"


class DeviceModel(Protocol):
    """What the servers need of the spacecraft model (``hwsim.model.Spacecraft``)."""

    def device_ids(self) -> list[str]: ...
    def describe(self, device_id: str) -> Any: ...
    def read(self, device_id: str) -> dict[str, Any]: ...
    def command(self, device_id: str, command: str, args: dict[str, Any]) -> dict[str, Any]: ...
    def inject_fault(
        self,
        fault_id: str,
        target: str,
        params: dict[str, Any] | None = None,
        at_time_s: float | None = None,
    ) -> Any: ...
    def clear_fault(self, fault_id: str, target: str) -> Any: ...
    def active_faults(self) -> list[Any]: ...
    def truth(self) -> dict[str, Any]: ...


class SnapshotControl(Protocol):
    """Snapshots on the simulation-control port (``hwsim.app.Simulation``)."""

    def snapshot(self, path: str | None = None) -> dict[str, Any]: ...
    def restore(self, path: str) -> dict[str, Any]: ...


class RequestFailed(Exception):
    def __init__(self, code: DeviceErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code


Handler = Callable[[DeviceRequest], Any]


def _dump(value: Any) -> Any:
    """Pydantic models and lists of them to plain msgpack-able data."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [_dump(v) for v in value]
    return value


def _description(description: Any) -> dict[str, Any]:
    # absent, not null: an unbounded register has no "minimum" (the maps stay small)
    return description.model_dump(mode="json", exclude_none=True)


def _model_error(exc: Exception) -> RequestFailed:
    """Map a model exception to a protocol error.

    The model's ``DeviceError`` carries its code; other ValueErrors (``FaultError``) and
    KeyErrors are bad arguments; anything else is a model bug, logged and reported internal.
    """
    code = getattr(exc, "code", None)
    if code is not None:
        try:
            protocol_code = DeviceErrorCode(code)
        except ValueError:
            protocol_code = DeviceErrorCode.BAD_ARGUMENT
    elif isinstance(exc, KeyError | ValueError | TypeError):
        protocol_code = DeviceErrorCode.BAD_ARGUMENT
    else:
        log.error("model error", exc_info=exc)
        return RequestFailed(DeviceErrorCode.INTERNAL, f"{type(exc).__name__}: {exc}")
    return RequestFailed(protocol_code, getattr(exc, "message", None) or str(exc))


def _clock_reading(clock: Clock) -> dict[str, Any]:
    return {"mission_time_ns": clock.now_ns(), "clock_speed": clock.speed, "clock_mode": clock.mode}


def _required(args: dict[str, Any], name: str) -> str:
    if name not in args:
        raise RequestFailed(DeviceErrorCode.BAD_ARGUMENT, f"missing argument {name!r}")
    return str(args[name])


BACKPLANE_DEVICE = "backplane"


def _timeout_arg(args: dict[str, Any]) -> float:
    """``timeout_s`` of ``backplane.await_results``, checked against its ICD command model."""
    try:
        parsed = BACKPLANE.parse_args(BACKPLANE_DEVICE, "await_results", args)
    except CommandArgsInvalid as exc:
        raise RequestFailed(DeviceErrorCode.BAD_ARGUMENT, str(exc)) from None
    assert isinstance(parsed, AwaitResults)
    return parsed.timeout_s


def device_handler(
    model: DeviceModel,
    clock: Clock,
    await_results: Callable[[float], Awaitable[Any]] | None = None,
) -> Handler:
    """``await_results`` (a `hwsim.boards.executor.ResultWatch.wait`) serves the long poll
    ``backplane.await_results``; without it the model refuses the command."""

    def read(device: str) -> Any:
        if device == TIMEREF_DEVICE:
            return TimeRefRegisters(**_clock_reading(clock)).wire()
        return model.read(device)

    def read_many(args: dict[str, Any]) -> dict[str, Any]:
        devices = args.get("devices")
        if not isinstance(devices, list) or not all(isinstance(d, str) for d in devices):
            raise RequestFailed(
                DeviceErrorCode.BAD_ARGUMENT,
                f"read_many needs args.devices, a list of device ids; got {devices!r:.60}",
            )
        registers: dict[str, Any] = {}
        errors: dict[str, Any] = {}
        for device in devices:
            try:
                registers[device] = read(device)
            except Exception as exc:  # per device: one bad device never spoils the rest
                failed = _model_error(exc)
                errors[device] = {"code": failed.code.value, "message": str(failed)}
        return {"registers": registers, "errors": errors}

    def handle(request: DeviceRequest) -> Any:
        op = request.op
        if op == DeviceOp.LIST:
            return [TIMEREF_DEVICE, *model.device_ids()]
        if op == DeviceOp.READ_MANY:
            return read_many(request.args)
        if request.device is None:
            raise RequestFailed(DeviceErrorCode.MALFORMED, f"op {op!r} needs a device id")
        if op == DeviceOp.READ:
            return read(request.device)
        if request.device == TIMEREF_DEVICE:
            if op == DeviceOp.DESCRIBE:
                return _description(TIMEREF.describe(TIMEREF_DEVICE))
            raise RequestFailed(DeviceErrorCode.UNKNOWN_COMMAND, "timeref is read-only")
        if op == DeviceOp.DESCRIBE:
            return _description(model.describe(request.device))
        if op == DeviceOp.COMMAND:
            if not request.command:
                raise RequestFailed(DeviceErrorCode.MALFORMED, "op 'command' needs a command")
            if (
                await_results is not None
                and request.device == BACKPLANE_DEVICE
                and request.command == "await_results"
            ):
                return await_results(_timeout_arg(request.args))
            return model.command(request.device, request.command, request.args)
        raise RequestFailed(
            DeviceErrorCode.UNKNOWN_OP,
            f"unknown op {op!r}; expected one of {[o.value for o in DeviceOp]}",
        )

    return handle


def simctl_handler(
    model: DeviceModel,
    clock: Clock,
    catalogue: Callable[[], Any],
    model_epoch_ns: int | Callable[[], int] = 0,
    snapshots: SnapshotControl | None = None,
) -> Handler:
    """Simulation control. Times on this port are mission seconds (the CUC time of TM);
    the model counts from 0 at ``model_epoch_ns``, so they are converted here (a callable:
    the epoch moves when a snapshot is restored)."""
    epoch_ns = model_epoch_ns if callable(model_epoch_ns) else (lambda: model_epoch_ns)

    def model_time_s(mission_s: float | None) -> float | None:
        return None if mission_s is None else float(mission_s) - epoch_ns() / 1e9

    def snapshot_control() -> SnapshotControl:
        if snapshots is None:
            raise RequestFailed(
                DeviceErrorCode.UNKNOWN_OP, "this simulation-control port has no snapshots"
            )
        return snapshots

    def handle(request: DeviceRequest) -> Any:
        args = request.args
        match request.op:
            case SimOp.TIME:
                return _clock_reading(clock) | {"model_time_s": (clock.now_ns() - epoch_ns()) / 1e9}
            case SimOp.FAULT_CATALOGUE:
                return _dump(catalogue())
            case SimOp.INJECT_FAULT:
                fault_id, target = _required(args, "fault_id"), _required(args, "target")
                at_s = args.get("at_time_s")
                model.inject_fault(fault_id, target, args.get("params"), model_time_s(at_s))
                return {"injected": fault_id, "target": target, "at_time_s": at_s}
            case SimOp.CLEAR_FAULT:
                fault_id, target = _required(args, "fault_id"), _required(args, "target")
                model.clear_fault(fault_id, target)
                return {"cleared": fault_id, "target": target}
            case SimOp.ACTIVE_FAULTS:
                return _dump(model.active_faults())
            case SimOp.TRUTH:
                return _dump(model.truth())
            case SimOp.SNAPSHOT:
                path = args.get("path")
                if path is not None and not isinstance(path, str):
                    raise RequestFailed(
                        DeviceErrorCode.BAD_ARGUMENT, f"path must be a string, got {path!r}"
                    )
                return snapshot_control().snapshot(path)
            case SimOp.RESTORE:
                return snapshot_control().restore(_required(args, "path"))
        raise RequestFailed(
            DeviceErrorCode.UNKNOWN_OP,
            f"unknown op {request.op!r}; expected one of {[o.value for o in SimOp]}",
        )

    return handle


class LongPoll:
    """A request whose answer comes later (see the module docstring)."""

    def __init__(self, request_id: int, result: Awaitable[Any]) -> None:
        self.id = request_id
        self.result = result


class PortBindError(OSError):
    """An endpoint hwsim cannot bind (another process has it, most often): one line naming
    the endpoint and why, instead of ZeroMQ's traceback."""

    def __init__(self, name: str, endpoint: str, exc: zmq.ZMQError) -> None:
        why = "address already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
        hint = " (another hwsim or satellite runs on it?)" if exc.errno == errno.EADDRINUSE else ""
        super().__init__(exc.errno, f"hwsim {name}: cannot bind {endpoint}: {why}{hint}")
        self.endpoint = endpoint

    def __str__(self) -> str:
        return str(self.args[1])


class PortServer:
    """A ROUTER socket answering requests with ``handler``; run :meth:`serve` as a task."""

    def __init__(
        self, context: zmq.asyncio.Context, endpoint: str, clock: Clock, handler: Handler, name: str
    ) -> None:
        self._context = context
        self.endpoint = endpoint
        self._clock = clock
        self._handler = handler
        self.name = name
        self._socket: zmq.asyncio.Socket | None = None
        self._polls: set[asyncio.Task[None]] = set()
        self.requests = 0
        self.errors = 0

    async def __aenter__(self) -> PortServer:
        sock = self._context.socket(zmq.ROUTER)
        sock.linger = 0
        try:
            sock.bind(self.endpoint)
        except zmq.ZMQError as exc:
            sock.close()
            raise PortBindError(self.name, self.endpoint, exc) from None
        self.endpoint = sock.last_endpoint.decode()
        self._socket = sock
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for task in self._polls:
            task.cancel()
        if self._polls:
            await asyncio.gather(*self._polls, return_exceptions=True)
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def answer(self, frame: bytes) -> DeviceReply | LongPoll:
        try:
            request = DeviceRequest.unpack(frame)
        except DecodeError as exc:
            return DeviceReply.failure(
                -1, self._clock.now_ns(), DeviceErrorCode.MALFORMED, str(exc)
            )
        return self.answer_request(request)

    def answer_request(self, request: DeviceRequest) -> DeviceReply | LongPoll:
        """The reply to a decoded request (an in-process transport calls this directly: the
        same checks and errors as over the socket, without the frames)."""
        now_ns = self._clock.now_ns()
        if request.v != DEVICE_PROTOCOL_VERSION:
            return DeviceReply.failure(
                request.id,
                now_ns,
                DeviceErrorCode.UNSUPPORTED_VERSION,
                f"protocol version {request.v} unsupported; this is {DEVICE_PROTOCOL_VERSION}",
            )
        try:
            result = self._handler(request)
        except RequestFailed as exc:
            return DeviceReply.failure(request.id, now_ns, exc.code, str(exc))
        except Exception as exc:  # the model refused, or a model bug: never take hwsim down
            failed = _model_error(exc)
            return DeviceReply.failure(request.id, now_ns, failed.code, str(failed))
        if inspect.isawaitable(result):
            return LongPoll(request.id, result)
        return DeviceReply(id=request.id, ok=True, time_ns=now_ns, result=result)

    async def settle(self, poll: LongPoll) -> DeviceReply:
        """The reply to a long poll (an `answer` that came back unfinished), once its result
        is there."""
        try:
            result = await poll.result
        except RequestFailed as exc:
            reply = DeviceReply.failure(poll.id, self._clock.now_ns(), exc.code, str(exc))
        except Exception as exc:
            failed = _model_error(exc)
            reply = DeviceReply.failure(poll.id, self._clock.now_ns(), failed.code, str(failed))
        else:
            reply = DeviceReply(id=poll.id, ok=True, time_ns=self._clock.now_ns(), result=result)
        if not reply.ok:
            self.errors += 1
        return reply

    async def _finish(self, identity: bytes, poll: LongPoll) -> None:
        """Await a long poll's result and send its reply (in a task the server owns)."""
        reply = await self.settle(poll)
        if self._socket is not None:
            await self._socket.send_multipart((identity, reply.pack()))

    async def serve(self) -> None:
        sock = self._socket
        if sock is None:
            raise RuntimeError("server is not bound: use 'async with PortServer(...)'")
        while True:
            frames = await sock.recv_multipart()
            self.requests += 1
            if len(frames) != 2:
                self.errors += 1
                continue  # a client that is not a DEALER speaking one frame per request
            reply = self.answer(frames[1])
            if isinstance(reply, LongPoll):
                task = asyncio.create_task(self._finish(frames[0], reply))
                self._polls.add(task)
                task.add_done_callback(self._polls.discard)
                continue
            if not reply.ok:
                self.errors += 1
            await sock.send_multipart((frames[0], reply.pack()))
