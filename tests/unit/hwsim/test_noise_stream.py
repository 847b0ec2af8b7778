"""The radiator sensors' noise from a kept stream state (``sensor_noise_stream`` +
``sensor_noise_at_k``) is ``sensor_noise_scalar_k`` bit for bit, and a radiator sensor read
(``Radiators.reading_k``, which uses them) is the reading made the reference way, on every
sensor of a real hwsim, healthy and in every sensor fault mode, over many ticks."""

from __future__ import annotations

import random

from hwsim.config import default_config
from hwsim.model.noise import sensor_noise_at_k, sensor_noise_scalar_k, sensor_noise_stream
from hwsim.model.sensors import radiator_sensor_reading_scalar_k
from hwsim.spacecraft import Spacecraft
from hwsim.subsystems import radiators as rad_module
from hwsim.subsystems.radiators import Radiators


def test_noise_from_the_stream_state_is_the_scalar_noise_bit_for_bit():
    rng = random.Random(7)
    seeds = [0, 1, 12345, 2**63, 2**64 - 1, -5, *(rng.getrandbits(64) for _ in range(20))]
    for seed in seeds:
        for sensor in [0, 1, 23, 1 << 32, (1 << 32) + 23, 2**64 + 3, rng.getrandbits(40)]:
            stream = sensor_noise_stream(seed, sensor)
            for tick in [0, 1, 848534400, 2**63 + 11, -1, *(rng.getrandbits(50) for _ in range(5))]:
                for sigma in (0.2, 5.0, 0.0):
                    want = sensor_noise_scalar_k(seed, sensor, tick, sigma)
                    got = sensor_noise_at_k(stream, tick, sigma)
                    assert got.hex() == want.hex(), (seed, sensor, tick, sigma)


def _reference_reading(r: Radiators, i: int, time_ns: int) -> float:
    """Radiators.reading_k as it was made before the stream states were kept."""
    tick = time_ns // r._rs_period_ns[i]
    mode = int(r._rs_mode[i])
    seed = r.sensor_seed
    noise = sensor_noise_scalar_k(seed, i, tick, float(r._rs_noise[i]))
    extra = 0.0
    if mode == rad_module._NOISY:
        extra = sensor_noise_scalar_k(
            seed, i + rad_module._EXTRA_STREAM, tick, float(r._rs_noise_extra[i])
        )
    drift = r._rs_drift_k_s[i] * (time_ns / 1e9 - r._rs_t0[i]) if mode == rad_module._DRIFT else 0.0
    return radiator_sensor_reading_scalar_k(
        mode,
        float(r.temp_k[r._rs_panel[i]]),
        float(r._rs_bias[i]),
        noise,
        extra,
        float(drift),
        float(r._rs_stuck_k[i]),
        float(r._rs_quant[i]),
        int(r._rs_bits[i]),
    )


def test_a_radiator_sensor_reading_is_the_reference_reading_in_every_mode():
    for seed in (0, 42):
        sc = Spacecraft(default_config(), seed=seed)
        r = sc._radiators
        sensors = r.sensor_ids
        faults = ["sensor_noisy", "sensor_drift", "sensor_stuck", "sensor_dead"]
        for k, fault in enumerate(faults):  # a sensor in each mode, the rest healthy
            sc.inject_fault(fault, sensors[k], {})
        compared = 0
        for _ in range(30):
            sc.step(1.0)
            for i in range(len(sensors)):
                for t in (sc.time_ns, sc.time_ns + 123_456_789):
                    assert r.reading_k(i, t).hex() == _reference_reading(r, i, t).hex()
                    compared += 1
        modes = {int(m) for m in r._rs_mode}
        assert modes == {0, 1, 2, 3, 4}, modes  # every mode was compared
        assert compared == 30 * len(sensors) * 2
