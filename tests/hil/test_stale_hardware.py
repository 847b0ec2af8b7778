"""Hardware-in-the-loop, honest telemetry: when the hardware stops answering, every parameter
it feeds turns invalid within one polling period plus the device timeout, and valid again
(with DEVICES_RECOVERED) once it answers. hwsim is frozen with SIGSTOP and thawed with SIGCONT,
so its device port goes silent without anything being restarted.
"""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator

import pytest

from computesat.launcher import Satellite, launch_satellite
from flightsw.services import devices
from ground.station import Ground
from icd import dictionary as dic

SPEED = 20.0
PERIOD_S = devices.Config().period_s
# 10 mission s = 0.5 wall s at x20: a machine busy with other tests does not time out by
# itself, and the bounds below still follow from it.
TIMEOUT_S = 10.0
HK_INTERVAL_S = dic.HK_STRUCTURES[2].default_interval_s
DEVICE_FED = {  # every parameter of the thermal and power structures comes from a device
    p.name for sid in (2, 4) for p in dic.HK_STRUCTURES[sid].parameters
}


@pytest.fixture
async def satellite() -> AsyncIterator[Satellite]:
    sat = await launch_satellite(
        ["--clock", "accelerated", "--speed", str(SPEED)],
        ["--port", "0", "--device-timeout-s", str(TIMEOUT_S)],
        device_endpoint="tcp://127.0.0.1:0",
        simctl_endpoint="tcp://127.0.0.1:0",
    )
    async with sat:
        yield sat


async def test_frozen_hardware_turns_device_parameters_invalid_then_valid_again(
    satellite: Satellite,
):
    pid = satellite.hwsim.process.pid
    async with Ground(satellite.udp_host, satellite.udp_port, speed=SPEED) as ground:
        await ground.ping()
        await ground.wait_for(lambda tm: tm.sid == 2 and not tm.invalid, timeout=20)
        await ground.wait_for(lambda tm: tm.sid == 3 and not tm.invalid, timeout=60)
        os.kill(pid, signal.SIGSTOP)
        try:
            frozen_s = ground.clock.now_s()
            stale = await ground.wait_for(
                lambda tm: tm.sid == 2 and set(tm.invalid) == set(tm.parameters), timeout=30
            )
            # Stale by the first report after one period + one timeout (+1 s of slack for a
            # busy machine: the report's own CUC time is what is compared).
            limit_s = PERIOD_S + TIMEOUT_S + HK_INTERVAL_S + 1.0
            assert stale.time_s - frozen_s <= limit_s, (frozen_s, stale.time_s)
            for _ in range(3):  # and it stays stale: no frozen values under fresh timestamps
                tm = await ground.wait_for(lambda tm: tm.sid in (2, 4), timeout=10)
                still = {k: v for k, v in tm.parameters.items() if v is not None}
                assert not still, f"HK {tm.sid} at {tm.time_s} while frozen: {still}"
            # The payload manager's board-derived values go stale too; its job counts do not.
            payload = await ground.wait_for(
                lambda tm: tm.sid == 3 and tm.parameters["payload.power_w"] is None, timeout=40
            )
            assert payload.parameters["payload.max_die_temp_k"] is None, payload.parameters
            assert payload.value("payload.jobs_completed") == 0
            platform = await ground.wait_for(lambda tm: tm.sid == 1, timeout=10)
            assert platform.value("devices.timeouts") >= 1, platform.parameters
            recovered = ground.expect(lambda tm: tm.event_name == "DEVICES_RECOVERED")
        finally:
            os.kill(pid, signal.SIGCONT)
        event = await ground.clock.wait_for(recovered, 30)
        assert "device port answered again after" in (event.message or ""), event.message
        fresh = await ground.wait_for(
            lambda tm: tm.sid == 4 and not (DEVICE_FED & set(tm.invalid)), timeout=20
        )
        assert fresh.value("battery.soc") > 0
        assert (await ground.wait_for(lambda tm: tm.sid == 2, timeout=10)).invalid == ()
        await ground.wait_for(lambda tm: tm.sid == 3 and tm.value("payload.power_w") > 0, 20)
