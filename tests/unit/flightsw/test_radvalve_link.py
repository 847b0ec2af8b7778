"""A radiator panel valve worked from the ground through flight software (8,1 perform a device
function → devices service → device port → hwsim), on the in-process satellite."""

from __future__ import annotations

import pytest
from _inprocess import InProcessSatellite

from ground.station import Ground
from icd.dictionary import EventId
from icd.errors import ErrorCode
from runtime.ports import DevicePort

pytestmark = pytest.mark.timeout(60)


async def test_the_ground_closes_a_panel_valve_and_a_bad_command_is_refused(
    satellite: InProcessSatellite, ground: Ground
) -> None:
    async with DevicePort(
        satellite.context, satellite.device_endpoint, satellite.clock, timeout_s=30
    ) as hardware:
        assert (await hardware.read("radvalve.P03"))["open"] is True, "open at start"
        closed = await ground.device_command("radvalve.P03", "close")
        assert closed.ok, f"8,1 radvalve.P03 close: {closed}"
        valve = await hardware.read("radvalve.P03")
        assert valve == {"open": False, "commanded_open": False, "flow_kg_s": 0.0}, valve
        loop_flow = (await hardware.read("loop.L1"))["flow_kg_s"]
        p01 = (await hardware.read("radvalve.P01"))["flow_kg_s"]
        assert p01 == pytest.approx(loop_flow / 3, rel=1e-12), (p01, loop_flow)

        error_event = ground.expect(lambda tm: tm.event_id == EventId.DEVICE_ERROR)
        refused = await ground.device_command("radvalve.P03", "jam")
        assert refused.stages == [1, 3, 8], refused
        assert refused.error_code == ErrorCode.DEVICE_ERROR, refused
        event = await ground.clock.wait_for(error_event, 10)
        message = event.message or ""
        assert "radvalve.P03.jam" in message and "unknown_command" in message, message
        assert (await hardware.read("radvalve.P03"))["open"] is False, "refused: unchanged"
