"""A small in-process satellite for the power controller's tests: the AI1 spacecraft with its
150 kW of compute as 15 simple 10 kW slots (the same power, a tenth of the switches), no
upsets, and a bus tap that records what the power controller publishes and, until the payload
manager applies ``ComputeLimit``, applies it to the slots the way the payload manager will
(utilisation, and slots off when the budget is below their idle power)."""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _inprocess import InProcessSatellite, in_process_satellite
from pydantic import BaseModel, ConfigDict

from flightsw.app import FlightSettings, services
from flightsw.context import ServiceContext
from flightsw.messages import ComputeLimit, EclipseForecast, Event, ModeRequest, ParameterUpdate
from flightsw.orbit import OrbitElements
from flightsw.services import power
from icd.device import SimOp
from runtime.clock import DEFAULT_START_NS, SteppedClock
from runtime.ports import DevicePort, DevicePortError
from runtime.service import ServiceSpec

SIMPLE = Path(__file__).resolve().parents[1] / "hwsim" / "configs" / "ai1-simple.toml"
SLOTS = 15
IDLE_W = 1500.0
PEAK_W = 10000.0


def satellite_toml(
    tmp: Path, initial_phase_deg: float = 0.0, beta_deg: float = 0.0, initial_soc: float = 0.9
) -> Path:
    text = SIMPLE.read_text()
    for old, new in (
        ("count = 150", f"count = {SLOTS}"),
        ("idle_w = 150.0", f"idle_w = {IDLE_W}"),
        ("peak_w = 1000.0", f"peak_w = {PEAK_W}"),
        ("seu_rate_per_year = 1.07", "seu_rate_per_year = 0.0"),
        # ten times the power of a 1 kW slot on ten times the die area
        ("die_to_plate_k_per_w = 0.008", "die_to_plate_k_per_w = 0.0008"),
        ("thermal_mass_j_per_k = 2000.0", "thermal_mass_j_per_k = 20000.0"),
        ("initial_phase_deg = 0.0", f"initial_phase_deg = {initial_phase_deg}"),
        ("beta_deg = 0.0", f"beta_deg = {beta_deg}"),
        ("initial_soc = 0.9", f"initial_soc = {initial_soc}"),
    ):
        assert old in text, f"{old!r} not in {SIMPLE}"
        text = text.replace(old, new, 1)
    path = tmp / "power-sat.toml"
    path.write_text(text)
    return path


@dataclass
class Tap:
    """What the tap heard (mission ns with each) and the parameters it keeps."""

    limits: list[tuple[int, ComputeLimit]] = field(default_factory=list)
    forecasts: list[tuple[int, EclipseForecast]] = field(default_factory=list)
    events: list[tuple[int, Event]] = field(default_factory=list)
    mode_requests: list[tuple[int, ModeRequest]] = field(default_factory=list)
    params: dict[str, float] = field(default_factory=dict)
    apply_limits: bool = True
    # the worst of every acquisition (a "never" over the run): lowest SoC, highest discharge
    min_soc: float = 1.0
    max_discharge_w: float = 0.0
    bus_shed: set[str] = field(default_factory=set)
    first_dark_ns: int | None = None
    first_lit_after_dark_ns: int | None = None
    applied_w: float | None = None
    commands: int = 0

    def events_of(self, event_id: int) -> list[tuple[int, Event]]:
        return [(t, e) for t, e in self.events if e.event_id == event_id]


class TapConfig(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)
    tap: Any


async def _apply(ctx: ServiceContext, tap: Tap, budget_w: float) -> None:
    """The payload manager's part, for simple slots: all on at one utilisation, or some off."""
    on = SLOTS if budget_w >= SLOTS * IDLE_W else int(budget_w // IDLE_W)
    u = 0.0
    if on == SLOTS:
        u = min(1.0, (budget_w - SLOTS * IDLE_W) / (SLOTS * (PEAK_W - IDLE_W)))
        u = math.floor(u * 100) / 100
    for i in range(1, SLOTS + 1):
        slot = f"slot.{i:03d}"
        with contextlib.suppress(Exception):
            if i <= on:
                try:
                    await ctx.devices.command(slot, "power_on")
                except DevicePortError:  # off by the thermal protection: power-cycle it
                    await ctx.devices.command(slot, "power_off")
                    await ctx.devices.command(slot, "power_on")
                await ctx.devices.command(slot, "set_utilisation", {"value": u})
            else:
                await ctx.devices.command(slot, "power_off")
            tap.commands += 1


async def run_tap(ctx: ServiceContext, config: TapConfig) -> None:
    tap: Tap = config.tap
    wanted: asyncio.Queue[float] = asyncio.Queue()

    async def applier() -> None:
        while True:
            budget = await wanted.get()
            while not wanted.empty():
                budget = wanted.get_nowait()
            if tap.applied_w is None or abs(budget - tap.applied_w) >= 300.0:
                tap.applied_w = budget
                await _apply(ctx, tap, budget)

    async with (
        ctx.subscribe(ComputeLimit, EclipseForecast, Event, ModeRequest, ParameterUpdate) as sub,
        asyncio.TaskGroup() as tasks,
    ):
        tasks.create_task(applier())
        ctx.ready()
        async for m in sub:
            now = ctx.clock.now_ns()
            if isinstance(m, ComputeLimit):
                if m.source != "power":
                    # the mode manager and thermal control limit too: the tap follows the power
                    # controller, whose budget these tests are about
                    continue
                tap.limits.append((now, m))
                if tap.apply_limits and m.power_limit_w is not None:
                    wanted.put_nowait(m.power_limit_w)
            elif isinstance(m, EclipseForecast):
                tap.forecasts.append((now, m))
            elif isinstance(m, Event):
                tap.events.append((now, m))
            elif isinstance(m, ModeRequest):
                tap.mode_requests.append((now, m))
            elif isinstance(m, ParameterUpdate):
                tap.params.update(m.values)
                v = m.values
                if "battery.soc" in v:
                    tap.min_soc = min(tap.min_soc, v["battery.soc"])
                    tap.max_discharge_w = max(tap.max_discharge_w, v["battery.power_w"])
                for name, value in v.items():
                    if name.startswith("pdu.") and name.endswith("_shed") and value:
                        tap.bus_shed.add(name)
                lit = v.get("wing.W1.sun_illumination")
                if lit is not None:
                    if lit == 0.0 and tap.first_dark_ns is None:
                        tap.first_dark_ns = m.time_ns
                    elif lit > 0.0 and tap.first_dark_ns and not tap.first_lit_after_dark_ns:
                        tap.first_lit_after_dark_ns = m.time_ns
                for name in m.invalid:
                    tap.params.pop(name, None)


def power_config(initial_phase_deg: float = 0.0, beta_deg: float = 0.0, **kw: Any) -> power.Config:
    return power.Config(
        orbit=OrbitElements(
            epoch_ns=DEFAULT_START_NS, arg_of_latitude_deg=initial_phase_deg, beta_deg=beta_deg
        ),
        **kw,
    )


@contextlib.asynccontextmanager
async def power_satellite(
    tmp: Path,
    tap: Tap,
    initial_phase_deg: float = 0.0,
    beta_deg: float = 0.0,
    config: power.Config | None = None,
    initial_soc: float = 0.9,
) -> AsyncIterator[InProcessSatellite]:
    """hwsim + flight software (no payload manager: the tap stands in for it) + the tap."""
    specs = []
    for spec in services(FlightSettings(port=0)):
        if spec.name == "payload":
            continue
        if spec.name == "power":
            spec = ServiceSpec(
                "power", power.run, config or power_config(initial_phase_deg, beta_deg)
            )
        specs.append(spec)
    specs.insert(1, ServiceSpec("tap", run_tap, TapConfig(tap=tap)))
    async with in_process_satellite(
        specs, satellite_toml(tmp, initial_phase_deg, beta_deg, initial_soc), clock=SteppedClock()
    ) as sat:
        yield sat


@contextlib.asynccontextmanager
async def simctl(sat: InProcessSatellite) -> AsyncIterator[DevicePort]:
    async with DevicePort(sat.context, sat.simctl_endpoint, sat.clock, timeout_s=10) as port:
        yield port


async def inject(port: DevicePort, fault: str, target: str, **params: Any) -> None:
    await port.request(
        SimOp.INJECT_FAULT, args={"fault_id": fault, "target": target, "params": params}
    )
