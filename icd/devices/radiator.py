"""Radiator panel temperature sensor (``radsensor.P<nn>.S<n>``).

The radiator panels themselves are not devices: flight software sees a panel only through its
sensors (a punctured or degraded panel shows as sensor temperatures and loop telemetry).
"""

from __future__ import annotations

from enum import StrEnum

from icd.devices._base import DeviceKind, DeviceRegisters, reg

__all__ = ["RADSENSOR", "SensorFault", "SensorRegisters"]

OPEN_CIRCUIT_K = 0.0


class SensorFault(StrEnum):
    """What a sensor reports when it fails: open circuit reads exactly 0 K. (A stuck, drifting
    or noisy sensor reads plausible values: only cross-checks reveal it.)"""

    OPEN_CIRCUIT = "open_circuit"


class SensorRegisters(DeviceRegisters):
    temp_k: float = reg("K", "Panel temperature reading (0 = open circuit)", ge=0.0)

    @property
    def fault(self) -> SensorFault | None:
        return SensorFault.OPEN_CIRCUIT if self.temp_k == OPEN_CIRCUIT_K else None


RADSENSOR = DeviceKind(
    name="radsensor",
    description="Temperature sensor on a radiator panel (several per panel)",
    ids="radsensor.P<nn>.S<n>",
    registers=SensorRegisters,
    faults=SensorFault,
)
