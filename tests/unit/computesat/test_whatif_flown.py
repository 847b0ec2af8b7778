"""`computesat whatif`: --all-faults draws, the command names, the power service's orbit
(the report's pieces: test_whatif_report.py)."""

from __future__ import annotations

from computesat import cli
from computesat.whatif import all_faults
from hwsim.config import simple_config
from hwsim.faults import fault_catalogue


def test_all_faults_is_every_catalogue_fault_once_drawn_from_the_seed() -> None:
    config = simple_config()
    a = all_faults(config, 86400.0, seed=5)
    assert sorted(f.fault for f in a) == sorted(s.id for s in fault_catalogue()), a
    assert all(8640.0 <= f.at_s <= 77760.0 for f in a), [f.at_s for f in a]
    assert [f.at_s for f in a] == sorted(f.at_s for f in a)
    assert a == all_faults(config, 86400.0, seed=5), "the same seed must draw the same faults"
    b = all_faults(config, 86400.0, seed=6)
    assert [(f.target, f.at_s) for f in a] != [(f.target, f.at_s) for f in b]


def test_every_name_of_the_command_refuses_bad_input(capsys) -> None:
    for argv in (["whatif"], ["hwsim", "run"], ["hwsim", "whatif"]):
        rc = cli.main([*argv, "--duration", "1y", "--no-progress"])
        err = capsys.readouterr().err
        assert rc == 2 and "bad duration" in err, f"{argv}: {rc} {err}"


def test_the_power_service_flies_with_the_orbit_of_the_configuration() -> None:
    from computesat.whatif import _power_config_hook
    from flightsw.services import power
    from runtime.service import ServiceSpec

    config = simple_config().model_copy(
        update={"orbit": simple_config().orbit.model_copy(update={"beta_deg": 60.0})}
    )
    spec = _power_config_hook(ServiceSpec("power", power.run, power.Config()), config)
    assert spec.config.orbit.altitude_km == 600.0, spec.config.orbit
    assert abs(spec.config.orbit.beta_deg - 60.0) < 1e-9, spec.config.orbit
    assert spec.config.period_s == power.Config().period_s, "only the orbit changes"
    other = ServiceSpec("ping", power.run, power.Config())
    assert _power_config_hook(other, config) is other, "only the power service is configured"


def test_all_faults_never_puts_two_faults_in_one_redundancy_group() -> None:
    from computesat.whatif import redundancy_group
    from hwsim.config import default_config

    assert redundancy_group("pump.L1.A") == redundancy_group("pdu.pump_L1_B") == "loop L1 pumps"
    assert redundancy_group("radiator.P03") == redundancy_group("radsensor.P03.S2") == "panel P03"
    assert redundancy_group("slot.017") == redundancy_group("pdu.slot_017") == "slot 017"
    assert redundancy_group("wing.W1") != redundancy_group("wing.W2")
    for seed in range(40):
        faults = all_faults(default_config(), 86400.0, seed=seed)
        assert len(faults) == len(fault_catalogue()), (seed, faults)
        groups = [redundancy_group(f.target) for f in faults]
        assert len(set(groups)) == len(groups), f"seed {seed}: {sorted(groups)}"
