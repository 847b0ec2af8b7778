"""The onboard ephemeris the launcher hands power control agrees with the hardware model's
orbit (flightsw.orbit vs hwsim's OrbitEnv, both from one spacecraft configuration)."""

from __future__ import annotations

from pathlib import Path

import pytest

from computesat.ephemeris import onboard_orbit_args, onboard_orbit_elements
from computesat.launcher import orbit_args_from_toml
from flightsw import orbit
from hwsim.config import default_config
from hwsim.subsystems.orbit_env import OrbitEnv

NS = 1_000_000_000


@pytest.mark.parametrize(("phase_deg", "beta_deg"), [(0.0, 0.0), (60.0, 0.0), (200.0, 40.0)])
def test_the_onboard_model_sees_the_shadow_where_the_hardware_does(phase_deg, beta_deg):
    base = default_config()
    config = base.model_copy(
        update={
            "orbit": base.orbit.model_copy(
                update={"initial_phase_deg": phase_deg, "beta_deg": beta_deg}
            )
        }
    )
    epoch = 10**18
    elements = onboard_orbit_elements(config, epoch_ns=epoch)
    env = OrbitEnv(config.orbit)
    disagree = []
    for t_s in range(0, 6000, 7):
        env.update(float(t_s))
        dark = env.illumination == 0.0
        if dark != orbit.in_eclipse(elements, epoch + t_s * NS):
            disagree.append(t_s)
    # only within a second of an edge (the two compute the same geometry in other orders)
    for t_s in disagree:
        near = [
            orbit.next_edge_ns(elements, epoch + (t_s - 1) * NS, edge) for edge in ("entry", "exit")
        ]
        assert any(e is not None and abs(e - (epoch + t_s * NS)) <= NS for e in near), t_s


def test_the_flags_carry_the_elements():
    args = onboard_orbit_args()
    assert args[args.index("--orbit-altitude-km") + 1] == "600.0"
    assert "--orbit-epoch-ns" in args


def test_the_supervisor_reads_the_same_elements_from_the_toml(tmp_path):
    path = tmp_path / "sat.toml"
    text = (Path(__file__).resolve().parents[3] / "hwsim" / "configs" / "ai1.toml").read_text()
    path.write_text(
        text.replace("initial_phase_deg = 0.0", "initial_phase_deg = 75.0").replace(
            "beta_deg = 0.0", "beta_deg = 30.0"
        )
    )
    light = orbit_args_from_toml(path)
    full = dict(zip(*[iter(onboard_orbit_args(path))] * 2, strict=True))
    for flag, value in zip(*[iter(light)] * 2, strict=True):
        assert float(value) == pytest.approx(float(full[flag]), abs=1e-9), (flag, value, full)
    assert light[light.index("--orbit-arg-of-latitude-deg") + 1] == "75.0"
