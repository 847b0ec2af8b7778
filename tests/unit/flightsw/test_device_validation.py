"""A device reply that does not match the ICD is a DEVICE_ERROR naming the register, through the
real devices service on an in-process satellite, and nothing stops: the other devices keep
being acquired and published."""

from __future__ import annotations

import pytest

from ground.station import Ground, Telemetry
from hwsim.spacecraft import Spacecraft
from icd.dictionary import EventId


def _device_error(device: str):
    def match(tm: Telemetry) -> bool:
        # the devices service's own report: "<device>: invalid_reply: ..." (the payload
        # manager reports the same reply as "payload read: ...")
        return tm.event_id == EventId.DEVICE_ERROR and (tm.message or "").startswith(f"{device}: ")

    return match


async def test_a_missing_or_ill_typed_register_is_a_device_error_naming_it(
    ground: Ground, monkeypatch: pytest.MonkeyPatch
):
    before = await ground.hk(1)
    assert before["devices.errors"] == 0, before["devices.errors"]
    real_read = Spacecraft.read

    def corrupted(self: Spacecraft, device_id: str) -> dict:
        registers = real_read(self, device_id)
        if device_id == "battery":
            del registers["soc"]
        elif device_id == "loop.L2":
            registers["supply_temp_k"] = "warm"
        return registers

    battery_error = ground.expect(_device_error("battery"))
    loop_error = ground.expect(_device_error("loop.L2"))
    monkeypatch.setattr(Spacecraft, "read", corrupted)  # hwsim now answers off the ICD
    battery = await ground.clock.wait_for(battery_error, 10)
    loop = await ground.clock.wait_for(loop_error, 10)
    assert "invalid_reply" in (battery.message or "") and "soc: missing" in (battery.message or "")
    assert "supply_temp_k" in (loop.message or "") and "'warm'" in (loop.message or ""), loop
    # the service goes on: fresh thermal HK with the healthy devices, errors counted
    first = await ground.wait_for(lambda tm: tm.sid == 2, timeout=10)
    second = await ground.wait_for(lambda tm: tm.sid == 2, timeout=10)
    assert second.time_s > first.time_s
    assert second.parameters["pump.L1.A.speed_rpm"] > 0, second.parameters
    errors = (await ground.hk(1))["devices.errors"]
    assert errors >= 2, errors
    # still acquiring (and still refusing the bad replies): the count goes on growing
    await ground.wait_for(
        lambda tm: tm.sid == 1 and tm.parameters["devices.errors"] > errors, timeout=10
    )
