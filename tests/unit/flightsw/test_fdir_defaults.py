"""The default FDIR tables on the real hardware model (in-process satellite, stepped clock):
quiet in nominal flight, and each catalogue fault injected through hwsim's simulation-control
port is detected by its default monitor, whose event names what was seen; where the response
is a device function (8,1) it is executed on the device port."""

from __future__ import annotations

import asyncio

import pytest
from _inprocess import in_process_satellite

from flightsw.app import FlightSettings, services
from ground.station import Ground
from icd import dictionary as dic
from icd.device import SimOp
from icd.dictionary import EventId
from runtime.ports import DevicePort

pytestmark = pytest.mark.timeout(180)

WAIT_S = 120.0
VIOLATIONS = {
    EventId.PARAMETER_BELOW_LOW,
    EventId.PARAMETER_ABOVE_HIGH,
    EventId.PARAMETER_UNEXPECTED,
    *(e for e in dic.EVENTS if EventId.PUMP_STALLED <= e <= EventId.PAYLOAD_UPSET_BURST),
}

# fault, target, parameters -> the event and the PMON whose message must name it
FAULTS = [
    ("sensor_dead", "radsensor.P01.S1", {}, EventId.SENSOR_OUT_OF_RANGE, "PMON 100 "),
    # (a noisy sensor is thermal control's own vote, not a monitor's: test_thermal_hil.py)
    ("array_drive_stuck", "wing.W1", {}, EventId.ARRAY_OFF_POINTING, "PMON 20 "),
    ("mppt_failure", "wing.W2", {}, EventId.ARRAY_OFF_MPP, "PMON 26 "),
    ("battery_cell_failure", "battery", {}, EventId.BATTERY_CELL_LOST, "PMON 30 "),
    ("switch_trip", "pdu.laser_terminals", {}, EventId.PDU_SWITCH_TRIPPED, "PMON 301 "),
    ("pump_seizure", "pump.L1.A", {}, EventId.COOLANT_FLOW_LOW, "PMON 1 "),
    ("radiator_puncture", "radiator.P05", {"leak_rate_kg_s": 1.0}, EventId.COOLANT_LEAK, "PMON 6 "),
]


async def test_default_tables_stay_quiet_in_nominal_flight_and_catch_injected_faults():
    async with (
        in_process_satellite(services(FlightSettings(port=0))) as sat,
        Ground("127.0.0.1", sat.udp_port, clock=sat.clock) as ground,
        DevicePort(sat.context, sat.simctl_endpoint, sat.clock) as simctl,
    ):
        await ground.ping()
        hk = await ground.wait_for(
            lambda tm: tm.sid == 7 and tm.value("monitoring.checks") > 0, timeout=WAIT_S
        )
        assert hk.value("monitoring.definitions") > 200, hk.parameters
        # Nominal: no monitor violated for two minutes of flight.
        await ground.expect_none(lambda tm: tm.event_id in VIOLATIONS, within=120.0)
        hk = await ground.wait_for(lambda tm: tm.sid == 7, timeout=WAIT_S)
        assert hk.value("monitoring.violated") == 0, hk.parameters

        seen = {
            fault: ground.expect(
                lambda tm, event=event, match=match: (
                    tm.event_id == event and match in (tm.message or "")
                )
            )
            for fault, _, _, event, match in FAULTS
        }
        for fault, target, params, _, _ in FAULTS:
            await simctl.request(
                SimOp.INJECT_FAULT, args={"fault_id": fault, "target": target, "params": params}
            )
        await asyncio.wait(
            [asyncio.ensure_future(sat.clock.wait_for(f, WAIT_S)) for f in seen.values()]
        )
        missing = [
            fault for (fault, future) in seen.items() if not future.done() or future.cancelled()
        ]
        assert not missing, f"faults not detected within {WAIT_S} s: {missing}"
        for fault, future in seen.items():
            event = future.result()
            assert event.message and "PMON" in event.message, (fault, event.summary())
