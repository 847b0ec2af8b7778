"""Spacecraft configuration as data: frozen pydantic models, TOML loading, one clear error.

The default configuration (``hwsim/configs/ai1.toml``) is the AI1 satellite of REFERENCE.md.
Every numeric field carries its unit in its name and a validated range, so a bad file is refused
with a single :class:`ConfigError` that names the field path (``orbit.altitude_km``) and the
allowed range.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import annotated_types
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

__all__ = [
    "SIMPLE_BOARD",
    "ArrayDriveConfig",
    "BatteryConfig",
    "ColdPlateConfig",
    "ComputeConfig",
    "ConfigError",
    "LoadConfig",
    "LoopConfig",
    "MpptConfig",
    "OrbitConfig",
    "PduProtectionConfig",
    "PowerBusConfig",
    "PumpConfig",
    "RadiatorPanelConfig",
    "RadiatorsConfig",
    "SaaBoxConfig",
    "SensorConfig",
    "SlotConfig",
    "SlotGroupConfig",
    "SpacecraftConfig",
    "StructureConfig",
    "ThermalConfig",
    "WingConfig",
    "default_config",
    "default_config_path",
    "load_config",
    "parse_config",
    "simple_config",
    "simple_config_path",
    "with_boards",
]


class ConfigError(ValueError):
    """A configuration file is unreadable or invalid; the message names the field(s)."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --------------------------------------------------------------------------------------- orbit


class SaaBoxConfig(_Frozen):
    lat_min_deg: float = Field(-50.0, ge=-90, le=90, description="South edge of the SAA box")
    lat_max_deg: float = Field(0.0, ge=-90, le=90, description="North edge of the SAA box")
    lon_min_deg: float = Field(-90.0, ge=-180, le=180, description="West edge of the SAA box")
    lon_max_deg: float = Field(40.0, ge=-180, le=180, description="East edge of the SAA box")


class OrbitConfig(_Frozen):
    altitude_km: float = Field(600.0, gt=150, le=40000, description="Circular orbit altitude")
    inclination_deg: float = Field(53.0, ge=0, le=180, description="Orbit inclination")
    beta_deg: float = Field(
        0.0, ge=-90, le=90, description="Sun beta angle (angle of the Sun above the orbit plane)"
    )
    epoch_utc: str | None = Field(
        None,
        description="ISO-8601 UTC epoch of mission time 0 (places the Sun for beta_mode 'j2'; "
        "informational otherwise)",
    )
    beta_mode: Literal["fixed", "j2"] = Field(
        "fixed",
        description="'fixed': β is beta_deg for ever (the closed-form cases); 'j2': the node "
        "precesses (J2) from raan_deg at the epoch, the Sun moves along the ecliptic, and β "
        "follows from the geometry (beta_deg unused), so eclipse seasons come and go",
    )
    raan_deg: float = Field(
        0.0,
        ge=-360,
        le=360,
        description="Right ascension of the ascending node at mission time 0 (beta_mode 'j2')",
    )
    beta_update_s: float = Field(
        600.0,
        gt=0,
        le=86400,
        description="beta_mode 'j2': β, the node and the Sun are re-evaluated on this grid of "
        "mission time (β moves < 4.5°/day at 600 km, 53°: < 0.031° per 600 s)",
    )
    noon_arg_of_latitude_deg: float = Field(
        0.0,
        ge=-360,
        le=360,
        description="Argument of latitude (from the ascending node) of orbit noon; links the "
        "sun geometry to the ground track",
    )
    ascending_node_lon_deg: float = Field(
        0.0, ge=-180, le=180, description="Geographic longitude of the ascending node at t=0"
    )
    initial_phase_deg: float = Field(
        0.0, ge=-360, le=360, description="Orbit phase from orbit noon at t=0 (0 = noon)"
    )
    penumbra: bool = Field(False, description="Model the penumbra as a linear fade")
    saa: SaaBoxConfig = Field(
        default_factory=SaaBoxConfig, description="South Atlantic Anomaly lat/lon box"
    )

    @model_validator(mode="after")
    def _epoch_for_j2(self) -> OrbitConfig:
        if self.beta_mode == "j2":
            if self.epoch_utc is None:
                raise ValueError(
                    "orbit.beta_mode = 'j2' needs orbit.epoch_utc (where the Sun is at mission "
                    'time 0), e.g. epoch_utc = "2027-01-01T00:00:00Z"'
                )
            epoch_days_since_j2000(self.epoch_utc)  # a clear error for a bad timestamp
        return self

    @property
    def epoch_days_since_j2000(self) -> float:
        """Days from J2000 (2000-01-01 12:00 UTC) to the epoch (0 without an epoch)."""
        return 0.0 if self.epoch_utc is None else epoch_days_since_j2000(self.epoch_utc)


def epoch_days_since_j2000(epoch_utc: str) -> float:
    """Days from J2000 (2000-01-01 12:00 UTC; the 64 s TT-UTC offset is below the Sun
    formula's precision) to an ISO-8601 UTC timestamp; ValueError naming it if unreadable."""
    from datetime import UTC, datetime

    try:
        when = datetime.fromisoformat(epoch_utc.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"orbit.epoch_utc {epoch_utc!r} is not an ISO-8601 timestamp "
            "(e.g. 2027-01-01T00:00:00Z)"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    j2000 = datetime(2000, 1, 1, 12, 0, 0, tzinfo=UTC)
    return (when - j2000).total_seconds() / 86400.0


# --------------------------------------------------------------------------------------- solar


class ArrayDriveConfig(_Frozen):
    max_rate_deg_s: float = Field(0.5, gt=0, le=10, description="Array drive slew rate limit")
    initial_angle_deg: float | None = Field(
        None,
        ge=-360,
        le=360,
        description="Drive angle at t=0; default (none): on the Sun at the initial orbit phase "
        "(solar.sun_pointing_drive_angle_deg), so a run starts with the wings tracking",
    )
    tracking_at_start: bool = Field(True, description="Sun tracking enabled at t=0")


class MpptConfig(_Frozen):
    off_mpp_fraction: float = Field(
        0.7, gt=0, le=1, description="Fraction of MPP power delivered when MPPT is off/failed"
    )
    mpp_voltage_v: float = Field(300.0, gt=0, le=2000, description="Array voltage at the MPP")
    off_mpp_voltage_v: float = Field(
        340.0, gt=0, le=2000, description="Array voltage when clamped to the bus (MPPT off)"
    )


class WingConfig(_Frozen):
    wing_id: str = Field(description="Wing identifier (W1, W2)", pattern=r"^W\d+$")
    area_m2: float = Field(gt=0, le=10000, description="Active array area")
    span_m: float = Field(35.0, gt=0, le=500, description="Wing span (informational)")
    efficiency: float = Field(
        0.19, gt=0, le=0.5, description="Array-level efficiency at the reference temperature"
    )
    degradation_per_year: float = Field(
        0.005, ge=0, le=0.2, description="Fractional power loss per year of mission time"
    )
    temp_coeff_per_k: float = Field(
        -0.0035, ge=-0.02, le=0, description="Relative efficiency change per kelvin"
    )
    reference_temp_k: float = Field(301.15, gt=100, le=500, description="Efficiency reference")
    absorptivity: float = Field(0.9, gt=0, le=1, description="Solar absorptivity of the array")
    emissivity: float = Field(0.85, gt=0, le=1, description="IR emissivity (both faces)")
    thermal_mass_j_per_k: float = Field(
        2.0e5, gt=0, le=1e9, description="Lumped heat capacity of the wing"
    )
    initial_temp_k: float | None = Field(
        None,
        gt=50,
        le=500,
        description="Wing temperature at t=0; default (none): the equilibrium of the start "
        "condition (sunlight, Earth IR, albedo, the array's output: wing_equilibrium_temp_k)",
    )
    array_drive: ArrayDriveConfig = Field(
        default_factory=ArrayDriveConfig, description="Sun-tracking array drive"
    )
    mppt: MpptConfig = Field(default_factory=MpptConfig, description="MPPT controller")
    back_absorptivity: float = Field(
        0.9,
        ge=0,
        le=1,
        description="Solar absorptivity of the wing's back face (the albedo it sees when the "
        "cells face away from the Earth); a black-coated substrate, as the cell face",
    )
    rated_power_w: float | None = Field(
        None,
        gt=0,
        le=1e8,
        description="Rated maximum the array delivers (regulator/harness limit); default the "
        "nameplate area·1361 W/m²·efficiency (82.7 kW per AI1 wing), so a cold wing at sunrise "
        "never gives more than its nameplate",
    )

    @property
    def rated_max_w(self) -> float:
        """The array's rated maximum: ``rated_power_w`` or the nameplate A·S·η."""
        if self.rated_power_w is not None:
            return self.rated_power_w
        return self.area_m2 * 1361.0 * self.efficiency


# --------------------------------------------------------------------------------------- power


class BatteryConfig(_Frozen):
    capacity_wh: float = Field(30000.0, gt=0, le=1e7, description="Usable energy capacity")
    initial_soc: float = Field(0.9, ge=0, le=1, description="State of charge at t=0")
    min_soc: float = Field(
        0.2, ge=0, le=0.9, description="Floor below which only priority-0 loads may draw"
    )
    max_charge_power_w: float = Field(30000.0, gt=0, le=1e7, description="Charge power limit")
    max_discharge_power_w: float = Field(60000.0, gt=0, le=1e7, description="Discharge power limit")
    charge_efficiency: float = Field(0.95, gt=0, le=1, description="Stored / charged energy")
    discharge_efficiency: float = Field(0.97, gt=0, le=1, description="Delivered / drawn energy")
    cells_in_series: int = Field(96, ge=1, le=1000, description="Cells in series")
    cell_voltage_empty_v: float = Field(3.0, gt=0, le=5, description="Cell OCV at SoC 0")
    cell_voltage_nominal_v: float = Field(3.7, gt=0, le=5, description="Cell OCV at SoC 0.5")
    cell_voltage_full_v: float = Field(4.15, gt=0, le=5, description="Cell OCV at SoC 1")
    internal_resistance_ohm: float = Field(
        0.02, ge=0, le=10, description="Pack internal resistance"
    )
    thermal_mass_j_per_k: float = Field(2.0e5, gt=0, le=1e9, description="Pack heat capacity")
    conductance_to_sink_w_per_k: float = Field(
        50.0, gt=0, le=1e6, description="Thermal conductance to the battery thermal sink"
    )
    sink_temp_k: float = Field(293.0, gt=100, le=400, description="Battery sink temperature")

    @model_validator(mode="after")
    def _voltage_order(self) -> BatteryConfig:
        if not (self.cell_voltage_empty_v < self.cell_voltage_nominal_v < self.cell_voltage_full_v):
            raise ValueError("cell voltages must satisfy empty < nominal < full")
        return self


class LoadConfig(_Frozen):
    name: str = Field(description="PDU switch name of this housekeeping load", pattern=r"^\w+$")
    power_w: float = Field(ge=0, le=1e6, description="Constant power draw when switched on")
    priority: int = Field(1, ge=0, le=9, description="0 = critical (shed last), 9 = shed first")


class PduProtectionConfig(_Frozen):
    time_constant_s: float = Field(
        10.0,
        gt=0,
        le=3600,
        description="τ of the channels' I²t thermal image (hwsim/model/protection.py): a "
        "seized pump trips in ~14 s, 2x rating in 3.6 s, 5x in 0.5 s",
    )
    pickup_factor: float = Field(
        1.1,
        ge=1,
        le=3,
        description="k: the largest multiple of its rating a channel carries forever "
        "(IEC 60255-8 thermal overload: 1.05-1.2)",
    )


class PowerBusConfig(_Frozen):
    nominal_voltage_v: float = Field(350.0, gt=0, le=2000, description="Nominal bus voltage")
    loads: list[LoadConfig] = Field(
        default_factory=list, description="Housekeeping loads behind PDU switches"
    )
    pump_priority: int = Field(0, ge=0, le=9, description="Shedding priority of pumps")
    protection: PduProtectionConfig = Field(
        default_factory=PduProtectionConfig,
        description="Overcurrent trip curve of the PDU channels",
    )


# ------------------------------------------------------------------------------------- thermal


class PumpConfig(_Frozen):
    pump_id: str = Field(description="Pump identifier within its loop (A, B)", pattern=r"^\w+$")
    max_speed_rpm: float = Field(6000.0, gt=0, le=100000, description="Maximum shaft speed")
    nominal_speed_rpm: float = Field(5000.0, gt=0, le=100000, description="Default speed")
    max_flow_kg_s: float = Field(3.0, gt=0, le=1000, description="Free-delivery flow at max rpm")
    max_pressure_kpa: float = Field(500.0, gt=0, le=10000, description="Shut-off head at max rpm")
    max_power_w: float = Field(2000.0, gt=0, le=1e6, description="Electrical power limit")
    efficiency: float = Field(0.4, gt=0, le=1, description="Wire-to-water efficiency")
    idle_power_w: float = Field(30.0, ge=0, le=1e5, description="Controller power when running")
    spin_rate_rpm_s: float = Field(1000.0, gt=0, le=1e6, description="Speed ramp rate")
    running_at_start: bool = Field(False, description="Running at t=0")
    channel_rating_a: float = Field(
        4.5,
        gt=0,
        le=1e4,
        description="Rated current of the pump's PDU channel: 1.58 kW at 350 V, above a healthy "
        "pump at max speed on the AI1 loop (1.36 kW, 3.9 A; 4.7 A at a 288 V empty battery, "
        "still under the 1.1 pickup) and below the 2 kW stall of a seized pump (5.7 A)",
    )


class LoopConfig(_Frozen):
    loop_id: str = Field(description="Loop identifier (L1, L2)", pattern=r"^L\d+$")
    coolant: Literal["water", "glycol50"] = Field("glycol50", description="Coolant kind")
    specific_heat_j_per_kg_k: float | None = Field(
        None, gt=0, le=20000, description="Coolant c_p; default from the coolant kind"
    )
    density_kg_m3: float | None = Field(
        None, gt=0, le=5000, description="Coolant density; default from the coolant kind"
    )
    inventory_kg: float = Field(150.0, gt=0, le=100000, description="Coolant mass in the loop")
    nominal_pressure_kpa: float = Field(
        200.0, gt=0, le=10000, description="Static (accumulator) pressure at full inventory"
    )
    min_inventory_fraction: float = Field(
        0.6, gt=0, lt=1, description="Inventory fraction below which the pumps cavitate"
    )
    design_flow_kg_s: float = Field(2.5, gt=0, le=1000, description="Flow of the system curve")
    pressure_drop_at_design_flow_kpa: float = Field(
        250.0, gt=0, le=10000, description="System pressure drop at the design flow"
    )
    initial_temp_k: float = Field(300.0, gt=150, le=500, description="Coolant temp at t=0")
    leak_discharge_coefficient: float = Field(
        0.61, gt=0, le=1, description="C_d of a leak hole (sharp-edged orifice: 0.61)"
    )
    accumulator_exponent: float = Field(
        1.0,
        gt=0,
        le=4,
        description="n in P = P_fill·(m/m_fill)^n of the bellows accumulator for the leak "
        "physics (1 = linear spring: pressure and inventory reach zero together)",
    )
    line_structure_conductance_w_per_k: float = Field(
        3.0,
        ge=0,
        le=1e5,
        description="Conductance from each coolant leg (hot, cold) to the structure through "
        "its pipe clamps (~20 clamps of ~0.15 W/K; estimate)",
    )
    line_radiating_area_m2: float = Field(
        2.0,
        ge=0,
        le=1e4,
        description="Outer area of each coolant leg (~25 m of 25 mm pipe) radiating to the "
        "structure",
    )
    line_emissivity: float = Field(
        0.05, ge=0, le=1, description="Effective emissivity of the MLI-wrapped lines"
    )
    pumps: list[PumpConfig] = Field(min_length=1, max_length=4, description="Redundant pumps")

    @property
    def cp_j_per_kg_k(self) -> float:
        if self.specific_heat_j_per_kg_k is not None:
            return self.specific_heat_j_per_kg_k
        return {"water": 4186.0, "glycol50": 3620.0}[self.coolant]

    @property
    def rho_kg_m3(self) -> float:
        if self.density_kg_m3 is not None:
            return self.density_kg_m3
        return {"water": 1000.0, "glycol50": 1060.0}[self.coolant]


class ColdPlateConfig(_Frozen):
    plate_id: str = Field(description="Cold plate identifier", pattern=r"^\w+$")
    loop_id: str = Field(description="Loop that cools this plate")
    thermal_mass_j_per_k: float = Field(2.0e4, gt=0, le=1e9, description="Plate heat capacity")
    ua_w_per_k: float = Field(5000.0, gt=0, le=1e7, description="Plate-to-coolant conductance")
    structure_conductance_w_per_k: float = Field(
        5.0,
        ge=0,
        le=1e5,
        description="Plate-to-structure conductance of its bolted mounts (~8 bolts of "
        "~0.6 W/K; estimate): with its loop dry a plate of 14 ref-gpu boards at standby "
        "(112 W) settles at ~305 K, under their 378 K shutdown",
    )
    radiating_area_m2: float = Field(
        0.5,
        ge=0,
        le=1e4,
        description="Area of the plate and its boards' covers radiating to the structure",
    )
    emissivity: float = Field(
        0.85, ge=0, le=1, description="IR emissivity of the plate's radiating area (black anodised)"
    )


class SensorConfig(_Frozen):
    sensor_id: str = Field(description="Sensor id within its panel (S1..)", pattern=r"^S\d+$")
    noise_std_k: float = Field(0.2, ge=0, le=50, description="Gaussian noise standard deviation")
    bias_k: float = Field(0.0, ge=-50, le=50, description="Constant calibration bias")
    quantisation_k: float = Field(0.1, ge=0, le=10, description="ADC step (0 = none)")
    adc_bits: int = Field(
        12,
        ge=4,
        le=24,
        description="ADC resolution: readings clamp to [0, (2^bits − 1)·quantisation_k] "
        "(409.5 K at 12 bits and 0.1 K)",
    )
    sample_period_s: float = Field(
        1.0,
        gt=0,
        le=3600,
        description="ADC conversion period: reads within one period return the same sample "
        "(the counter of the sensor's noise stream is mission time // this)",
    )


def _three_sensors() -> list[SensorConfig]:
    return [SensorConfig(sensor_id=f"S{i}") for i in (1, 2, 3)]


class RadiatorPanelConfig(_Frozen):
    panel_id: str = Field(description="Panel identifier (P01..)", pattern=r"^P\d+$")
    loop_id: str = Field(description="Loop that feeds this panel")
    area_per_face_m2: float = Field(gt=0, le=10000, description="Radiating area of one face")
    faces: int = Field(2, ge=1, le=2, description="Radiating faces (two-sided panel = 2)")
    emissivity: float = Field(0.875, gt=0, le=1, description="IR emissivity")
    absorptivity: float = Field(0.2, ge=0, le=1, description="Solar absorptivity")
    thermal_mass_j_per_k: float = Field(1.2e5, gt=0, le=1e9, description="Panel + fluid capacity")
    ua_w_per_k: float = Field(5000.0, gt=0, le=1e7, description="Fluid-to-panel conductance")
    initial_temp_k: float = Field(300.0, gt=50, le=500, description="Panel temperature at t=0")
    structure_conductance_w_per_k: float = Field(
        1.0,
        ge=0,
        le=1e5,
        description="Panel-to-structure conductance through its hinge and standoffs (estimate)",
    )
    coolant_mass_kg: float = Field(
        5.0,
        ge=0,
        le=1e5,
        description="Coolant held in the panel's tubes, kg (part of thermal_mass_j_per_k, not of "
        "the loop's inventory); trapped in the panel when its isolation valve closes (estimate)",
    )
    sensors: list[SensorConfig] = Field(
        default_factory=_three_sensors, min_length=1, description="Temperature sensors"
    )


class RadiatorsConfig(_Frozen):
    panels: list[RadiatorPanelConfig] = Field(min_length=1, description="Radiator panels")
    include_environment: bool = Field(
        True, description="Absorb sunlight, albedo and Earth IR (False = deep space only)"
    )
    earth_view_factor_per_face: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Earth view factor per face; default from the altitude "
        "for panels whose normal is the orbit normal (edge-on at beta 0)",
    )


class StructureConfig(_Frozen):
    temp_k: float = Field(
        290.0,
        gt=100,
        le=400,
        description="Temperature of the bus structure, the sink of the parasitic paths of "
        "plates, lines and panels (held by its own heaters and radiators; a fixed sink)",
    )


class ThermalConfig(_Frozen):
    settle_at_start: bool = Field(
        True,
        description="Start a freshly built model on the periodic orbit of its thermal network "
        "(plates, coolant legs, radiator panels, dies) for the loads and flows at t = 0, "
        "instead of at the configured initial temperatures (snapshots restore their own state)",
    )
    settle_tolerance_k: float = Field(
        0.05,
        gt=0,
        le=10,
        description="Settled when no node or die temperature changes by more than this from "
        "one orbit to the next at the start phase, K",
    )
    settle_step_s: float = Field(
        1.0,
        gt=0,
        le=600,
        description="Step of the last settling pass: the physics step the run will use (the "
        "periodic orbit of a coarser step differs by ~1 K at 10 s, ~7 K at 60 s); "
        "`computesat hwsim run` and `serve` pass their own step instead",
    )


# ------------------------------------------------------------------------------------- compute


SIMPLE_BOARD = "simple"
"""Board name of the built-in vectorised slot model (no plug-in)."""


class _SlotParams(_Frozen):
    board: str = Field(
        SIMPLE_BOARD,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$",
        description="Board in the slot: 'simple' (the vectorised slot model, parameters below) "
        "or the entry-point name of a computesat.boards plug-in (e.g. 'ref-gpu'), whose own "
        "thermal/electrical model then replaces kind, idle_w, peak_w, thermal_mass_j_per_k, "
        "die_to_plate_k_per_w, max_die_temp_k and initial_utilisation. An unknown or refused "
        "plug-in is not a configuration error: the slot boots empty with a fault_reason",
    )
    kind: str = Field("generic-accelerator", description="Board kind name")
    idle_w: float = Field(150.0, ge=0, le=1e5, description="Power when on and idle")
    peak_w: float = Field(1000.0, ge=0, le=1e5, description="Power at utilisation 1")
    thermal_mass_j_per_k: float = Field(2000.0, gt=0, le=1e8, description="Die + board heat cap.")
    die_to_plate_k_per_w: float = Field(
        0.008, gt=0, le=10, description="Die-to-cold-plate thermal resistance"
    )
    max_die_temp_k: float = Field(368.0, gt=250, le=500, description="Maximum die temperature")
    priority: int = Field(5, ge=0, le=9, description="Shedding priority (9 shed first)")
    seu_rate_per_year: float = Field(
        1.07, ge=0, le=1e6, description="Upsets per board-year outside the SAA"
    )
    uncorrectable_fraction: float = Field(
        0.75, ge=0, le=1, description="Fraction of upsets that are uncorrectable memory errors"
    )
    hang_fraction: float = Field(
        0.01, ge=0, le=1, description="Plug-in boards: fraction of upsets that hang the board"
    )
    bit_flip_fraction: float = Field(
        0.1,
        ge=0,
        le=1,
        description="Plug-in boards: fraction of upsets that corrupt the running job's result "
        "(only while busy; otherwise a correctable memory error)",
    )
    power_on_at_start: bool = Field(True, description="Powered at t=0")
    initial_utilisation: float = Field(0.8, ge=0, le=1, description="Utilisation at t=0")

    @model_validator(mode="after")
    def _peak_above_idle(self) -> _SlotParams:
        if self.peak_w < self.idle_w:
            raise ValueError("peak_w must be >= idle_w")
        if self.uncorrectable_fraction + self.hang_fraction + self.bit_flip_fraction > 1.0:
            raise ValueError(
                "uncorrectable_fraction + hang_fraction + bit_flip_fraction must be <= 1"
            )
        return self

    @property
    def is_plugin(self) -> bool:
        """True if the slot names a plug-in board rather than the simple slot model."""
        return self.board != SIMPLE_BOARD


class SlotConfig(_SlotParams):
    slot_id: str = Field(description="Slot id: three digits (four above 999)", pattern=r"^\d{3,4}$")
    cold_plate_id: str = Field(description="Cold plate the board is mounted on")


class SlotGroupConfig(_SlotParams):
    count: int = Field(ge=1, le=9999, description="Number of identical slots")
    first_slot: int = Field(1, ge=1, le=9999, description="Number of the first slot")
    cold_plate_ids: list[str] = Field(
        min_length=1, description="Cold plates, assigned in contiguous blocks"
    )


class ComputeConfig(_Frozen):
    slots: list[SlotConfig] = Field(default_factory=list, description="Explicit slots")
    slot_groups: list[SlotGroupConfig] = Field(
        default_factory=list, description="Groups of identical slots"
    )
    saa_upset_factor: float = Field(
        20.0, ge=1, le=1e4, description="Upset rate multiplier inside the SAA"
    )
    thermal_shutdown_margin_k: float = Field(
        10.0, ge=0, le=100, description="Hardware shutdown at max_die_temp_k + this margin"
    )

    def expanded_slots(self) -> list[SlotConfig]:
        """All slots, groups expanded into explicit :class:`SlotConfig` entries."""
        out = list(self.slots)
        for g in self.slot_groups:
            params = g.model_dump(exclude={"count", "first_slot", "cold_plate_ids"})
            per_plate = -(-g.count // len(g.cold_plate_ids))
            for i in range(g.count):
                out.append(
                    SlotConfig(
                        slot_id=f"{g.first_slot + i:03d}",
                        cold_plate_id=g.cold_plate_ids[i // per_plate],
                        **params,
                    )
                )
        return out


# ----------------------------------------------------------------------------------- spacecraft


class SpacecraftConfig(_Frozen):
    name: str = Field("AI1", description="Spacecraft name")
    orbit: OrbitConfig = Field(default_factory=OrbitConfig, description="Circular orbit")
    wings: list[WingConfig] = Field(min_length=1, max_length=8, description="Solar wings")
    battery: BatteryConfig = Field(default_factory=BatteryConfig, description="Battery")
    power_bus: PowerBusConfig = Field(
        default_factory=PowerBusConfig, description="Power bus and housekeeping loads"
    )
    loops: list[LoopConfig] = Field(min_length=1, description="Pumped coolant loops")
    cold_plates: list[ColdPlateConfig] = Field(min_length=1, description="Cold plates")
    radiators: RadiatorsConfig = Field(description="Radiator panels and environment")
    compute: ComputeConfig = Field(
        default_factory=ComputeConfig, description="Compute slots and upset environment"
    )
    structure: StructureConfig = Field(
        default_factory=StructureConfig, description="Bus structure (parasitic heat sink)"
    )
    thermal: ThermalConfig = Field(
        default_factory=ThermalConfig, description="Thermal state at start (settled or not)"
    )

    @model_validator(mode="after")
    def _cross_references(self) -> SpacecraftConfig:
        problems: list[str] = []

        def unique(kind: str, ids: list[str]) -> None:
            dup = sorted({i for i in ids if ids.count(i) > 1})
            if dup:
                problems.append(f"duplicate {kind} ids {dup}")

        loop_ids = [lp.loop_id for lp in self.loops]
        unique("wing", [w.wing_id for w in self.wings])
        unique("loop", loop_ids)
        for lp in self.loops:
            unique(f"pump (loop {lp.loop_id})", [p.pump_id for p in lp.pumps])
        plate_ids = [p.plate_id for p in self.cold_plates]
        unique("cold plate", plate_ids)
        unique("panel", [p.panel_id for p in self.radiators.panels])
        unique("load", [ld.name for ld in self.power_bus.loads])
        for p in self.cold_plates:
            if p.loop_id not in loop_ids:
                problems.append(f"cold plate {p.plate_id} names unknown loop {p.loop_id!r}")
        for p in self.radiators.panels:
            if p.loop_id not in loop_ids:
                problems.append(f"panel {p.panel_id} names unknown loop {p.loop_id!r}")
            else:
                cp = self.loops[loop_ids.index(p.loop_id)].cp_j_per_kg_k
                if p.coolant_mass_kg * cp >= p.thermal_mass_j_per_k:
                    problems.append(
                        f"panel {p.panel_id}: its coolant ({p.coolant_mass_kg} kg x {cp} J/kg K) "
                        f"must hold less than its thermal_mass_j_per_k ({p.thermal_mass_j_per_k})"
                    )
            unique(f"sensor (panel {p.panel_id})", [s.sensor_id for s in p.sensors])
        for lp in loop_ids:
            if not any(p.loop_id == lp for p in self.cold_plates):
                problems.append(f"loop {lp} has no cold plate")
            if not any(p.loop_id == lp for p in self.radiators.panels):
                problems.append(f"loop {lp} has no radiator panel")
        slots = self.compute.expanded_slots()
        unique("slot", [s.slot_id for s in slots])
        for s in slots:
            if s.cold_plate_id not in plate_ids:
                problems.append(f"slot {s.slot_id} names unknown cold plate {s.cold_plate_id!r}")
        if not slots:
            problems.append("compute has no slots")
        if problems:
            raise ValueError("; ".join(problems[:10]))
        return self


# ------------------------------------------------------------------------------------- loading


def _range_of(model: type[BaseModel], loc: tuple[Any, ...]) -> str:
    """Human-readable allowed range of the field at ``loc``, or '' if unknown."""
    current: Any = model
    field = None
    for key in loc:
        if isinstance(key, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return ""
        field = current.model_fields.get(str(key))
        if field is None:
            return ""
        ann = field.annotation
        args = getattr(ann, "__args__", ())
        current = next(
            (a for a in (ann, *args) if isinstance(a, type) and issubclass(a, BaseModel)),
            None,
        )
        if current is None and args:
            inner = [getattr(a, "__args__", ()) for a in args]
            current = next(
                (x for xs in inner for x in xs if isinstance(x, type) and issubclass(x, BaseModel)),
                None,
            )
    if field is None:
        return ""
    lo = hi = ""
    for m in field.metadata:
        if isinstance(m, annotated_types.Ge):
            lo = f"{m.ge} <= "
        elif isinstance(m, annotated_types.Gt):
            lo = f"{m.gt} < "
        elif isinstance(m, annotated_types.Le):
            hi = f" <= {m.le}"
        elif isinstance(m, annotated_types.Lt):
            hi = f" < {m.lt}"
    if not (lo or hi):
        return ""
    return f"allowed range: {lo}value{hi}"


def _format_validation_error(err: ValidationError, source: str) -> str:
    lines = [f"invalid spacecraft configuration {source}:"]
    for e in err.errors():
        loc = tuple(e["loc"])
        path = ".".join(str(p) for p in loc) or "<root>"
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown field"
        detail = f"  {path}: {msg}"
        if e["type"] not in ("extra_forbidden", "missing") and "input" in e:
            inp = e["input"]
            if not isinstance(inp, dict | list):
                detail += f" (got {inp!r})"
        rng = _range_of(SpacecraftConfig, loc)
        if rng:
            detail += f"; {rng}"
        lines.append(detail)
    return "\n".join(lines)


def parse_config(data: dict[str, Any], source: str = "<dict>") -> SpacecraftConfig:
    """Validate a configuration mapping; raise :class:`ConfigError` naming the bad field."""
    try:
        return SpacecraftConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format_validation_error(err, source)) from None


def load_config(path: str | Path) -> SpacecraftConfig:
    """Load and validate a TOML spacecraft configuration file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"cannot read spacecraft configuration {p}: {err.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"invalid TOML in spacecraft configuration {p}: {err}") from None
    return parse_config(data, str(p))


def default_config_path() -> Path:
    """Path of the shipped AI1 configuration."""
    return Path(str(resources.files("hwsim") / "configs" / "ai1.toml"))


def default_config() -> SpacecraftConfig:
    """The AI1 configuration of REFERENCE.md (``hwsim/configs/ai1.toml``): the three
    reference plug-in boards (``ref-gpu``, ``ref-cpu``, ``ref-npu``) in 160 slots, 151.6 kW."""
    return load_config(default_config_path())


def simple_config_path() -> Path:
    """Path of the AI1 configuration with 150 simple (vectorised, 1 kW) slots."""
    return Path(str(resources.files("hwsim") / "configs" / "ai1-simple.toml"))


def simple_config() -> SpacecraftConfig:
    """AI1 with 150 simple 1 kW slots (``hwsim/configs/ai1-simple.toml``): the physics
    benchmark and the model tests use it; no plug-in is loaded."""
    return load_config(simple_config_path())


def with_boards(
    config: SpacecraftConfig, boards: dict[str, int], first_slot: int = 1
) -> SpacecraftConfig:
    """A copy of ``config`` with plug-in boards in consecutive slots, in the order given.

    ``with_boards(simple_config(), {"acme-photon7": 4})`` puts the ACME board in slots
    001..004 (counting from ``first_slot``) and leaves every other slot as it was. Slot
    groups are expanded into explicit slots; ValueError if there are not enough slots.
    """
    slots = [s.model_dump(mode="python") for s in config.compute.expanded_slots()]
    slots.sort(key=lambda s: int(s["slot_id"]))
    start = next((k for k, s in enumerate(slots) if int(s["slot_id"]) >= first_slot), None)
    wanted = sum(boards.values())
    if start is None or start + wanted > len(slots):
        raise ValueError(f"need {wanted} slots from slot {first_slot}, config has {len(slots)}")
    k = start
    for name, count in boards.items():
        for _ in range(count):
            slots[k]["board"] = name
            k += 1
    data = config.model_dump(mode="python")
    data["compute"]["slots"] = slots
    data["compute"]["slot_groups"] = []
    return parse_config(data, "with_boards")
