"""Device functions (8,1) through the real link, devices service and hwsim, on the stepped
clock: every refusal says why, and no argument can crash the service."""

from __future__ import annotations

import pytest
from _inprocess import in_process_satellite

from ground.station import Ground
from icd.dictionary import EventId

pytestmark = pytest.mark.timeout(60)


async def test_an_argument_beyond_64_bits_is_refused_at_acceptance_and_crashes_nothing():
    async with (
        in_process_satellite() as sat,
        Ground("127.0.0.1", sat.udp_port, clock=sat.clock) as ground,
    ):
        await ground.ping()
        why = ground.expect(lambda tm: "64 bits" in (tm.message or ""))
        result = await ground.device_command(
            "pump.L1.B", "set_speed_rpm", {"speed_rpm": 2**70}, timeout=30
        )
        assert result.failure is not None and result.failure.subservice == 2, result.describe()
        event = await ground.clock.wait_for(why, 30)
        assert "speed_rpm" in (event.message or ""), event.summary()
        # The service is still there: a good command completes.
        ok = await ground.device_command("pump.L1.B", "set_speed_rpm", {"speed_rpm": 4000})
        assert ok.ok, ok.describe()
        platform = await ground.hk(1, timeout=30)
        assert platform["supervisor.restarts"] == 0, "a service crashed and was restarted"


async def test_every_failed_device_command_raises_its_own_reason():
    async with (
        in_process_satellite() as sat,
        Ground("127.0.0.1", sat.udp_port, clock=sat.clock) as ground,
    ):
        await ground.ping()
        for bad in (-5, 50_000.0):
            reason = ground.expect(
                lambda tm, bad=bad: (
                    tm.event_id == EventId.DEVICE_ERROR
                    and "set_speed_rpm" in (tm.message or "")
                    and str(bad).rstrip("0").rstrip(".") in (tm.message or "")
                )
            )
            result = await ground.device_command(
                "pump.L1.B", "set_speed_rpm", {"speed_rpm": bad}, timeout=30
            )
            assert not result.ok, result.describe()
            event = await ground.clock.wait_for(reason, 30)
            assert "speed_rpm" in (event.message or ""), event.summary()
