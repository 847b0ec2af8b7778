"""Power control's onboard ephemeris from a spacecraft configuration: the orbit elements
flight software's model (flightsw.orbit) starts from, as the hardware model (hwsim) flies
them. For the what-if runner (``power.Config(orbit=onboard_orbit_elements(config))``) and
the flags of a separate flightsw process; the process supervisor, which may import only the
standard library, uses :func:`computesat.launcher.orbit_args_from_toml` instead."""

from __future__ import annotations

import math
import os

from flightsw.orbit import OrbitElements
from hwsim.config import SpacecraftConfig, default_config, load_config
from hwsim.subsystems.orbit_env import OrbitEnv
from runtime.clock import DEFAULT_START_NS

__all__ = ["onboard_orbit_args", "onboard_orbit_elements"]


def onboard_orbit_elements(config: SpacecraftConfig, epoch_ns: int | None = None) -> OrbitElements:
    """Power control's onboard orbit elements (flightsw.orbit) for a spacecraft configuration
    (``hwsim.config.SpacecraftConfig``): altitude, β, and the argument of latitude at model
    time 0 with that of orbit noon; ``epoch_ns`` is the mission time of model time 0 (hwsim's
    fresh start: DEFAULT_START_NS). The what-if runner passes them to ``power.Config(orbit=)``.
    A restored or late-started hwsim is at another phase: the sun sensors re-anchor the model
    at the first eclipse edge they see."""
    env = OrbitEnv(config.orbit)  # β and orbit noon at t = 0 (also for beta_mode 'j2')
    noon_deg = math.degrees(env.noon_argl_rad)
    return OrbitElements(
        altitude_km=config.orbit.altitude_km,
        beta_deg=math.degrees(env.beta_rad),
        epoch_ns=DEFAULT_START_NS if epoch_ns is None else epoch_ns,
        arg_of_latitude_deg=(noon_deg + config.orbit.initial_phase_deg + 180.0) % 360.0 - 180.0,
        noon_arg_of_latitude_deg=(noon_deg + 180.0) % 360.0 - 180.0,
    )


def onboard_orbit_args(config_path: str | os.PathLike[str] | None = None) -> list[str]:
    """flightsw ``--orbit-*`` flags for the spacecraft configuration at ``config_path``
    (default: built-in AI1), see :func:`onboard_orbit_elements`."""
    el = onboard_orbit_elements(load_config(config_path) if config_path else default_config())
    return [
        "--orbit-altitude-km",
        repr(el.altitude_km),
        "--orbit-beta-deg",
        repr(el.beta_deg),
        "--orbit-arg-of-latitude-deg",
        repr(el.arg_of_latitude_deg),
        "--orbit-noon-arg-of-latitude-deg",
        repr(el.noon_arg_of_latitude_deg),
        "--orbit-epoch-ns",
        str(el.epoch_ns),
    ]
