"""The default FDIR tables (data): parameter monitoring definitions (PUS 12) and event-action
definitions (PUS 19) loaded by the monitoring and event_action services at start, for the
default (AI1) spacecraft: loops L1/L2 with pumps A (running) and B (standby), radiator panels
P01-P08 with sensors S1-S3, wings W1/W2, the battery and the PDU's switches.

Entries name events by their dictionary NAME and build stored telecommands with the layouts of
the owners' services (130 modes, 131 thermal, 132 power, 140 payload, 8,1 device functions):
an entry whose event name or telecommand this dictionary cannot resolve yet (a service not on
board) is skipped, logged and reported (FDIR_TABLE_ENTRY_SKIPPED) instead of failing the load.

``FAULT_COVERAGE`` says, for every fault of hwsim's catalogue, what detects it and what
answers it (the response the catalogue names). Monitoring thresholds come from the AI1
numbers (hwsim/configs/ai1.toml, docs/fdir.md explains each).

PMON id ranges: 1-9 loops, 10-19 pumps, 20-29 wings, 30-39 battery, 40-49 payload, 100-199
radiator sensors (range), 200-299 radiator sensors (noise), 300-499 PDU switches.
EA ids: the PMON id × 10 + the step of its response sequence (1, 2, ...); 9000+ for event-
actions on other services' events.
"""

from __future__ import annotations

from dataclasses import dataclass

from icd import dictionary as dic
from icd import event_action as ea
from icd import monitoring as mon
from icd.dictionary import Apid, Mode
from icd.errors import DecodeError
from icd.monitoring import CheckType, ExpectedCheck, LimitCheck, MonitoringDefinition, Validity
from icd.pus import AckFlags, PusTc

__all__ = [
    "DEFAULT_EVENT_ACTIONS",
    "DEFAULT_MONITORING",
    "FAULT_COVERAGE",
    "SAFE_REQUESTS",
    "EaEntry",
    "PmonEntry",
    "default_event_actions",
    "default_monitoring",
]

LOOPS = ("L1", "L2")
PUMPS = ("A", "B")
PANELS = tuple(f"P{n:02d}" for n in range(1, 9))
SENSORS = ("S1", "S2", "S3")
WINGS = ("W1", "W2")
PLATFORM_SWITCHES = (
    "avionics",
    "laser_terminals",
    *(f"pump_{loop}_{pump}" for loop in LOOPS for pump in PUMPS),
)
SLOTS = tuple(range(1, 161))

# Thresholds (AI1): a loop runs 1.9 kg/s at 5000 rpm (design 2.5) and its flow scales with
# the pump speed the thermal controller sets, so only a collapse (seized or cavitating pump)
# is a monitoring matter: the slow wear of pump_degradation is thermal's flow-vs-speed trend;
# a healthy pump draws at most 1.36 kW, a seized one stalls at 2 kW until its 4.5 A channel
# trips; loops hold 150 kg; radiators sit between ~200 and ~330 K (the ADC clamps at
# 409.5 K), a dead sensor reads 0 K, a sensor's noise is 0.2 K (σ) and a noisy one's 5 K; a
# tracking drive turns 360° per orbit (0.0625 °/s on average, its in-plane rate down to ~cos β
# of that at high β: 0.021 °/s at β = 70°), a stuck one not at all; the MPPT holds the wing
# at 300 V, a failed one leaves it clamped at 340 V.
FLOW_FLOOR_KG_S = 0.4
STALL_POWER_W = 1700.0
INVENTORY_FLOOR_KG = 140.0
SENSOR_RANGE_K = (100.0, 400.0)
DRIVE_RATE_FLOOR_DEG = 0.005
MPPT_CEILING_V = 320.0
SEU_MISMATCHES_PER_SAMPLE = 3.0


@dataclass(frozen=True)
class PmonEntry:
    """A default monitoring definition with its events named."""

    pmon_id: int
    parameter: str
    check_type: CheckType
    low: float = 0.0
    high: float = 0.0
    low_event: str | None = None
    high_event: str | None = None
    mask: int = 0xFFFF_FFFF
    expected: int = 0
    event: str | None = None
    repetition: int = 1
    validity: Validity | None = None


@dataclass(frozen=True)
class EaEntry:
    """A default event-action definition: event NAME, message match, the TC to store."""

    ea_id: int
    event: str
    match: str
    apid: int
    service: int
    subservice: int
    app_data: bytes


def _text(value: str) -> bytes:
    raw = value.encode("ascii")
    return bytes([len(raw)]) + raw


def _match(pmon_id: int) -> str:
    return f"PMON {pmon_id} "  # the monitoring service's event message starts so


# --- stored telecommands in their owners' layouts (big-endian, str = u8 length + ASCII)


def switch_pump(loop: str, pump: str) -> tuple[int, int, int, bytes]:
    return (Apid.PLATFORM, 131, 1, _text(loop) + _text(pump))


def isolate_loop(loop: str) -> tuple[int, int, int, bytes]:
    return (Apid.PLATFORM, 131, 6, _text(loop))


def request_mode(mode: Mode, reason: str) -> tuple[int, int, int, bytes]:
    return (Apid.PLATFORM, 130, 1, bytes([mode]) + _text(reason))


def device_function(
    device: str, command: str, args: dict | None = None
) -> tuple[int, int, int, bytes]:
    return (Apid.PLATFORM, 8, 1, dic.pack_device_function(device, command, args))


def _ea(ea_id: int, event: str, match: str, tc: tuple[int, int, int, bytes]) -> EaEntry:
    apid, service, subservice, data = tc
    return EaEntry(ea_id, event, match, apid, service, subservice, data)


def _safe_reason(tc: tuple[int, int, int, bytes]) -> str | None:
    """The reason text of a stored 130,1 SAFE (None for any other TC)."""
    _, service, subservice, data = tc
    if (service, subservice) != (130, 1) or not data or data[0] != Mode.SAFE:
        return None
    return data[2 : 2 + data[1]].decode("ascii")


def _tables() -> tuple[tuple[PmonEntry, ...], tuple[EaEntry, ...], dict[str, PmonEntry]]:
    pmons: list[PmonEntry] = []
    eas: list[EaEntry] = []
    safe: dict[str, PmonEntry] = {}

    def respond(pmon_id: int, event: str, *tcs: tuple[int, int, int, bytes]) -> None:
        for step, tc in enumerate(tcs, start=1):
            eas.append(_ea(pmon_id * 10 + step, event, _match(pmon_id), tc))
            reason = _safe_reason(tc)
            if reason is not None:
                safe[reason] = next(p for p in pmons if p.pmon_id == pmon_id)

    # Loops: flow below the floor (a worn or seized running pump) -> the standby pump;
    # inventory falling (a punctured radiator) -> isolate the loop, then SAFE.
    for n, loop in enumerate(LOOPS):
        flow_id, leak_id = 1 + n, 5 + n
        pmons.append(
            PmonEntry(
                flow_id,
                f"loop.{loop}.flow_kg_s",
                CheckType.LIMIT,
                low=FLOW_FLOOR_KG_S,
                high=1e9,
                low_event="COOLANT_FLOW_LOW",
                repetition=3,
            )
        )
        # no event-action: thermal control switches pumps itself (and knows which one is
        # usable; a fixed "run B" after B seized failed and escalated)
        pmons.append(
            PmonEntry(
                leak_id,
                f"loop.{loop}.inventory_kg",
                CheckType.LIMIT,
                low=INVENTORY_FLOOR_KG,
                high=1e9,
                low_event="COOLANT_LEAK",
                repetition=3,
            )
        )
        respond(
            leak_id,
            "COOLANT_LEAK",
            isolate_loop(loop),
            request_mode(Mode.SAFE, f"coolant leak on loop {loop}"),
        )
    # Pumps: stall power (seized rotor, energised) -> stop it, run the other pump.
    for n, (loop, pump) in enumerate((lp, p) for lp in LOOPS for p in PUMPS):
        pmon_id = 10 + n
        other = "B" if pump == "A" else "A"
        pmons.append(
            PmonEntry(
                pmon_id,
                f"pump.{loop}.{pump}.power_w",
                CheckType.LIMIT,
                low=-1.0,
                high=STALL_POWER_W,
                high_event="PUMP_STALLED",
                repetition=1,
            )
        )
        respond(
            pmon_id,
            "PUMP_STALLED",
            device_function(f"pump.{loop}.{pump}", "stop"),
            switch_pump(loop, other),
        )
    # Wings: a tracking drive that stops turning (stuck) -> shed the lowest-priority load;
    # voltage at the clamp with MPPT enabled (MPPT failed) -> MPPT off then on (restart).
    for n, wing in enumerate(WINGS):
        pointing_id, mppt_id = 20 + n, 25 + n
        pmons.append(
            PmonEntry(
                pointing_id,
                f"wing.{wing}.drive_angle_deg",
                CheckType.DELTA,
                low=DRIVE_RATE_FLOOR_DEG,
                high=10.0,  # the 360 -> 0 wrap reads -360 for one sample only
                low_event="ARRAY_OFF_POINTING",
                repetition=10,
                validity=Validity(f"wing.{wing}.tracking", 0x1, 1),
            )
        )
        # no event-action: power control re-budgets on the remaining array (ARRAY_DRIVE_STUCK);
        # a telecommanded load shed would stay shed after the fault is gone
        pmons.append(
            PmonEntry(
                mppt_id,
                f"wing.{wing}.voltage_v",
                CheckType.LIMIT,
                low=-1.0,
                high=MPPT_CEILING_V,
                high_event="ARRAY_OFF_MPP",
                repetition=5,
                validity=Validity(f"wing.{wing}.mppt_enabled", 0x1, 1),
            )
        )
        # power control restarts the MPPT once itself (MPPT_RESTARTED, then MPPT_FAILED)
    # Battery: a failed cell -> raise the depth-of-discharge floor.
    pmons.append(
        PmonEntry(
            30,
            "battery.cell_faults",
            CheckType.EXPECTED,
            mask=0xFF,
            expected=0,
            event="BATTERY_CELL_LOST",
        )
    )
    # power control raises its depth-of-discharge floor per failed cell (BATTERY_DEGRADED)
    # Payload: a burst of redundant-execution mismatches (radiation) -> SAFE.
    pmons.append(
        PmonEntry(
            40,
            "payload.mismatches",
            CheckType.DELTA,
            low=-1e9,
            high=SEU_MISMATCHES_PER_SAMPLE,
            high_event="PAYLOAD_UPSET_BURST",
        )
    )
    respond(40, "PAYLOAD_UPSET_BURST", request_mode(Mode.SAFE, "SEU burst on the compute payload"))
    # Radiator sensors: out of the physical range (dead) or jumping (noisy) -> vote out.
    for n, (panel, sensor) in enumerate((p, s) for p in PANELS for s in SENSORS):
        device = f"radsensor.{panel}.{sensor}"
        range_id = 100 + n
        pmons.append(
            PmonEntry(
                range_id,
                f"{device}.temp_k",
                CheckType.LIMIT,
                low=SENSOR_RANGE_K[0],
                high=SENSOR_RANGE_K[1],
                low_event="SENSOR_OUT_OF_RANGE",
                high_event="SENSOR_OUT_OF_RANGE",
                repetition=2,
            )
        )
        # No event-action and no delta ("noisy") monitor: thermal control votes its sensors
        # itself (range, stuck, noisy, drift, rate; SENSOR_VOTED_OUT with the reason). A
        # monitor on a voted-out sensor re-fired its vote-out every few seconds and escalated
        # the satellite to SAFE for as long as the sensor stayed noisy.
    # PDU switches: tripped -> an event for the operator (power control re-closes once).
    switches = PLATFORM_SWITCHES + tuple(f"slot_{slot:03d}" for slot in SLOTS)
    for n, switch in enumerate(switches):
        pmon_id = 300 + n
        pmons.append(
            PmonEntry(
                pmon_id,
                f"pdu.{switch}_tripped",
                CheckType.EXPECTED,
                mask=0x1,
                expected=0,
                event="PDU_SWITCH_TRIPPED",
            )
        )
        # the power controller re-closes once itself (SWITCH_RECLOSED): no second actor
    # An isolated loop (thermal's LOOP_ISOLATED) needs no action here: thermal control has
    # already limited that loop's compute to 0 W and the other loop flies on; SAFE comes from
    # the inventory floor above (the leak not contained).
    return tuple(pmons), tuple(eas), safe


DEFAULT_MONITORING, DEFAULT_EVENT_ACTIONS, SAFE_REQUESTS = _tables()
"""The reason of every stored 130,1 SAFE -> the monitor whose violation fires it: the mode
manager leaves such a SAFE on its own only once that monitor's parameter is back in its
limits (``flightsw.services.modes.SafeCause``)."""

# fault id -> (detection, response), for every fault of hwsim's catalogue.
FAULT_COVERAGE: dict[str, tuple[str, str]] = {
    "pump_seizure": (
        "PMON 10-13 pump.L<n>.<X>.power_w above stall (PUMP_STALLED); thermal control's own "
        "seizure check; PMON 1-2 loop flow below floor (COOLANT_FLOW_LOW, for the operator); "
        "PMON 300+ pump switch trip (PDU_SWITCH_TRIPPED)",
        "EA: 8,1 stop the seized pump, then 131,1 run the standby pump of the loop (thermal "
        "throttles the loop's compute until flow is back)",
    ),
    "pump_degradation": (
        "thermal's flow-vs-speed trend of the running pump against its healthy curve (2 % "
        "short: PUMP_DEGRADED); a standby's wear in its periodic test run (PUMP_TEST_RUN); "
        "backstop: PMON 1-2 loop.L<n>.flow_kg_s below 0.4 kg/s for 3 samples (COOLANT_FLOW_LOW)",
        "thermal control: raise the speed to make up the flow, at 20 % short to maximum, then "
        "switch to the standby pump (PUMP_DEGRADED, PUMP_SWITCHOVER; 131,1 by hand)",
    ),
    "radiator_puncture": (
        "PMON 5-6 loop.L<n>.inventory_kg below 140 kg for 3 samples (COOLANT_LEAK)",
        "EA: 131,6 isolate the loop (compute on it off), then 130,1 SAFE",
    ),
    "sensor_stuck": (
        "thermal's 2-of-3 vote (event SENSOR_VOTED_OUT): a constant sensor disagrees",
        "131,4 vote the sensor out (done by thermal itself on its vote)",
    ),
    "sensor_drift": (
        "thermal's 2-of-3 vote against the panel median: > 4 K at once, or a 300 s mean "
        "> 0.8 K from agreeing peers in 2 windows (event SENSOR_VOTED_OUT 'drift')",
        "131,4 vote the sensor out (done by thermal itself on its vote)",
    ),
    "sensor_noisy": (
        "thermal control's 2-of-3 vote: variance against its peers (SENSOR_VOTED_OUT 'noisy')",
        "thermal control votes the sensor out (131,4 by hand)",
    ),
    "sensor_dead": (
        "thermal control's range check (SENSOR_VOTED_OUT 'range'); PMON 100-123 range "
        "100..400 K on radsensor.<P>.<S>.temp_k (SENSOR_OUT_OF_RANGE, for the operator)",
        "thermal control votes the sensor out (131,4 by hand)",
    ),
    "array_drive_stuck": (
        "PMON 20-21 delta of wing.<W>.drive_angle_deg below 0.005° per sample for 10 samples "
        "while tracking (ARRAY_OFF_POINTING)",
        "power control: ARRAY_DRIVE_STUCK, compute budget on the remaining array power",
    ),
    "mppt_failure": (
        "PMON 25-26 wing.<W>.voltage_v above 320 V while MPPT enabled (ARRAY_OFF_MPP)",
        "power control: MPPT off then on once (MPPT_RESTARTED; 132,4 by hand), then "
        "MPPT_FAILED and the budget on the reduced array power",
    ),
    "battery_cell_failure": (
        "PMON 30 battery.cell_faults expected 0 (BATTERY_CELL_LOST)",
        "power control: minimum state of charge raised per failed cell and the eclipse "
        "budget on the reduced capacity (BATTERY_DEGRADED; 132,5 by hand)",
    ),
    "switch_trip": (
        "PMON 300-465 pdu.<switch>_tripped expected 0 (PDU_SWITCH_TRIPPED); power control "
        "sees the trip itself (SWITCH_TRIPPED)",
        "power control: re-close once (132,6 by hand), a second trip keeps it open "
        "(SWITCH_RECLOSED); pumps: thermal runs the standby pump",
    ),
    "board_overtemp": (
        "payload manager: die temperature and throttle level (THROTTLE_CHANGED, BOARD_FAULT)",
        "payload manager: set_throttle stepwise, power off before the limit, reset when cool "
        "(140,10 board off / 140,9 reset by ground or event-action)",
    ),
    "board_latchup": (
        "payload manager: fault state / current step (BOARD_LATCHUP)",
        "payload manager: power_cycle the slot (140,8), resubmit the failed job",
    ),
    "seu_burst": (
        "PMON 40 delta of payload.mismatches above 3 per sample (PAYLOAD_UPSET_BURST); payload "
        "manager's RESULT_MISMATCH and BOARD_HUNG",
        "EA: 130,1 SAFE; payload manager: redundant execution, watchdog reset (140,9)",
    ),
    "board_upset": (
        "payload manager: RESULT_MISMATCH (bit flip), BOARD_HUNG (hang), BOARD_LATCHUP, "
        "BOARD_FAULT (memory)",
        "payload manager: re-run, reset (140,9), power_cycle (140,8), resubmit",
    ),
}


def _event_ids() -> dict[str, int]:
    return {e.name: e.id for e in dic.EVENTS.values()}


def _resolve_pmon(entry: PmonEntry, events: dict[str, int]) -> MonitoringDefinition:
    def event_id(name: str | None) -> int:
        if name is None:
            return 0
        if name not in events:
            raise KeyError(f"event {name} is not in the dictionary")
        return events[name]

    check: LimitCheck | ExpectedCheck
    if entry.check_type is CheckType.EXPECTED:
        check = ExpectedCheck(entry.mask, entry.expected, event_id(entry.event))
    else:
        check = LimitCheck(
            entry.low, entry.high, event_id(entry.low_event), event_id(entry.high_event)
        )
    definition = MonitoringDefinition(
        entry.pmon_id, entry.parameter, entry.check_type, check, entry.repetition, entry.validity
    )
    mon.validate(definition, dic.known_parameter, dic.EVENTS)
    return definition


def skipped_summary(kind: str, skipped: list[tuple[str, str]]) -> str:
    """One operator message for the entries a load skipped (each is logged on its own)."""
    reasons: dict[str, int] = {}
    for _, reason in skipped:
        key = reason.split(", got ")[-1] if "service" in reason else reason
        reasons[key] = reasons.get(key, 0) + 1
    causes = "; ".join(
        f"{count} x {'service ' if key.isdigit() else ''}{key}"
        for key, count in sorted(reasons.items())
    )
    return f"{len(skipped)} default {kind} entries not loaded (not in this dictionary): {causes}"


def default_monitoring() -> tuple[list[MonitoringDefinition], list[tuple[str, str]]]:
    """The default definitions this dictionary resolves, and (entry, reason) of the others."""
    events = _event_ids()
    loaded, skipped = [], []
    for entry in DEFAULT_MONITORING:
        try:
            loaded.append(_resolve_pmon(entry, events))
        except (KeyError, DecodeError) as exc:
            skipped.append((f"{entry.pmon_id} ({entry.parameter})", str(exc)))
    return loaded, skipped


def stored_tc(entry: EaEntry) -> bytes:
    """The packet an entry stores (source id and sequence count are set when it fires)."""
    return PusTc(
        apid=entry.apid,
        service=entry.service,
        subservice=entry.subservice,
        app_data=entry.app_data,
        ack_flags=AckFlags.NONE,
    ).pack()


def default_event_actions() -> tuple[list[ea.EventActionDefinition], list[tuple[str, str]]]:
    """The default event-actions this dictionary resolves (event name and stored TC), and
    (entry, reason) of the others."""
    events = _event_ids()
    loaded, skipped = [], []
    for entry in DEFAULT_EVENT_ACTIONS:
        name = f"{entry.ea_id} ({entry.event} -> TC({entry.service},{entry.subservice}))"
        if entry.event not in events:
            skipped.append((name, f"event {entry.event} is not in the dictionary"))
            continue
        definition = ea.EventActionDefinition(
            entry.ea_id, events[entry.event], stored_tc(entry), entry.match
        )
        try:
            ea.validate(definition, dic.EVENTS, dic.check_tc)
        except DecodeError as exc:
            skipped.append((name, str(exc)))
            continue
        loaded.append(definition)
    return loaded, skipped
