"""`computesat whatif`: --all-faults draws, the command names, the report's pieces."""

from __future__ import annotations

import numpy as np

from computesat import cli
from computesat.whatif import _eclipses, _shed_restore, all_faults
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


def test_shed_and_restore_times_against_the_eclipses() -> None:
    t = np.arange(0.0, 100.0, 10.0)
    ecl = np.array([0, 0, 0, 1, 1, 1, 0, 0, 0, 0])
    power = np.array([10.0, 10.0, 1.0, 0.0, 0.0, 0.0, 2.0, 9.0, 10.0, 10.0])
    eclipses = _eclipses(t, ecl.astype(bool))
    assert eclipses == [(30.0, 60.0)], eclipses
    cols = {"time_s": t, "eclipse": ecl, "compute_power_w": power}
    forecasts = {(28.0, 61.0), (5000.0, 5100.0), (None, None)}
    (entry,) = _shed_restore(cols, eclipses, forecasts)
    assert (entry["predicted_start_s"], entry["predicted_end_s"]) == (28.0, 61.0), entry
    assert entry["shed_at_s"] == 20.0 and entry["shed_before_eclipse_s"] == 10.0, entry
    assert entry["restored_at_s"] == 70.0 and entry["restored_after_eclipse_s"] == 10.0, entry


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
