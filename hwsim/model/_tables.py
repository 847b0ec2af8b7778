"""Static register/command tables per device kind (private)."""

from __future__ import annotations

from hwsim.model.devices import CommandInfo, RegisterInfo

R = RegisterInfo
C = CommandInfo

PUMP_REGISTERS = {
    "state": R(unit="enum", description="running, off, seized, unpowered"),
    "speed_rpm": R(unit="rpm", description="Shaft speed"),
    "target_speed_rpm": R(unit="rpm", description="Commanded speed"),
    "flow_kg_s": R(unit="kg/s", description="Mass flow through this pump"),
    "outlet_pressure_kpa": R(unit="kPa", description="Outlet pressure (static + pump rise)"),
    "power_w": R(unit="W", description="Electrical power drawn"),
    "motor_current_a": R(unit="A", description="Motor current at bus voltage"),
}
PUMP_COMMANDS = {
    "start": C(description="Start the pump (ramps to the target speed)"),
    "stop": C(description="Stop the pump"),
    "set_speed_rpm": C(
        description="Set the target speed", args={"speed_rpm": "rpm, 0 < speed <= max_speed_rpm"}
    ),
}

LOOP_REGISTERS = {
    "flow_kg_s": R(unit="kg/s", description="Loop mass flow"),
    "pressure_kpa": R(unit="kPa", description="Loop static (accumulator) pressure"),
    "delta_p_kpa": R(unit="kPa", description="Pump pressure rise / system pressure drop"),
    "supply_temp_k": R(unit="K", description="Coolant temperature to the cold plates"),
    "return_temp_k": R(unit="K", description="Coolant temperature to the radiators"),
    "inventory_kg": R(unit="kg", description="Coolant mass in the loop"),
    "heat_load_w": R(unit="W", description="Heat picked up from the cold plates and pumps"),
}

SENSOR_REGISTERS = {
    "temp_k": R(unit="K", description="Panel temperature reading (0 = open circuit)"),
}

WING_REGISTERS = {
    "sun_angle_deg": R(unit="deg", description="Sun direction in the drive plane"),
    "drive_angle_deg": R(unit="deg", description="Array drive angle"),
    "target_angle_deg": R(unit="deg", description="Commanded angle when not tracking"),
    "tracking": R(unit="bool", description="Sun tracking enabled"),
    "drive_state": R(unit="enum", description="ok, stuck (drive does not follow commands)"),
    "incidence_cos": R(unit="", description="Cosine of the Sun incidence on the array"),
    "available_power_w": R(unit="W", description="Power the array could deliver now"),
    "power_w": R(unit="W", description="Power delivered to the bus"),
    "voltage_v": R(unit="V", description="Array voltage"),
    "current_a": R(unit="A", description="Array current"),
    "temp_k": R(unit="K", description="Cell temperature"),
    "mppt_enabled": R(unit="bool", description="MPPT commanded on"),
    "mppt_state": R(unit="enum", description="tracking, off, failed"),
}
WING_COMMANDS = {
    "set_tracking": C(description="Enable/disable Sun tracking", args={"enabled": "bool"}),
    "set_angle_deg": C(
        description="Point the array at an angle (disables tracking)",
        args={"angle_deg": "deg, 0..360"},
    ),
    "mppt_enable": C(description="Enable/disable the MPPT", args={"enabled": "bool"}),
}

BATTERY_REGISTERS = {
    "soc": R(unit="", description="State of charge 0..1"),
    "voltage_v": R(unit="V", description="Terminal (bus) voltage"),
    "current_a": R(unit="A", description="Current, > 0 discharging"),
    "power_w": R(unit="W", description="Power, > 0 discharging"),
    "temp_k": R(unit="K", description="Pack temperature"),
    "cell_faults": R(unit="", description="Number of failed (shorted) cells"),
    "capacity_wh": R(unit="Wh", description="Present usable capacity"),
}

SLOT_REGISTERS = {
    "kind": R(unit="enum", description="Board kind name"),
    "power_state": R(
        unit="enum",
        description="on, off, shed, latched, thermal_shutdown, unpowered (PDU switch off)",
    ),
    "powered": R(unit="bool", description="Board is drawing power"),
    "utilisation": R(unit="", description="Commanded utilisation 0..1"),
    "power_w": R(unit="W", description="Electrical power drawn"),
    "current_a": R(unit="A", description="Current at bus voltage"),
    "die_temp_k": R(unit="K", description="Die temperature"),
    "plate_temp_k": R(unit="K", description="Cold plate temperature under the board"),
    "inlet_temp_k": R(unit="K", description="Coolant supply temperature of its loop"),
    "max_die_temp_k": R(unit="K", description="Rated maximum die temperature"),
    "overtemp": R(unit="bool", description="Die above its rated maximum"),
    "latchup": R(unit="bool", description="Latch-up detected (power cycle to clear)"),
    "seu_count": R(unit="", description="Single-event upsets (all) since power-on of the model"),
    "uncorrectable_errors": R(unit="", description="Uncorrectable memory errors"),
}
SLOT_COMMANDS = {
    "power_on": C(description="Power the board on (its PDU switch must be on)"),
    "power_off": C(description="Power the board off (clears a latch-up)"),
    "set_utilisation": C(description="Set utilisation", args={"value": "0..1"}),
}

PDU_FIXED_REGISTERS = {
    "bus_voltage_v": R(unit="V", description="Bus voltage"),
    "array_power_w": R(unit="W", description="Power taken from the solar arrays"),
    "load_power_w": R(unit="W", description="Power delivered to all loads"),
    "demand_power_w": R(unit="W", description="Power requested by all switched-on loads"),
}
PDU_COMMANDS = {
    "switch_on": C(description="Close a switch (also resets a trip)", args={"switch": "name"}),
    "switch_off": C(description="Open a switch", args={"switch": "name"}),
}


def pdu_switch_registers(name: str) -> dict[str, RegisterInfo]:
    return {
        f"{name}_on": R(unit="bool", description=f"Switch {name} closed"),
        f"{name}_tripped": R(unit="bool", description=f"Switch {name} tripped (overcurrent)"),
        f"{name}_shed": R(unit="bool", description=f"Load {name} shed by the bus (power short)"),
        f"{name}_current_a": R(unit="A", description=f"Current through switch {name}"),
    }


# Slots holding a plug-in board (computesat.boards entry point): the board's own telemetry,
# plus the slot's view of it (supply, plate, upsets delivered by hwsim).
PLUGIN_SLOT_REGISTERS = {
    "board": R(unit="", description="Entry-point name of the plug-in configured in this slot"),
    "present": R(
        unit="bool", description="A board is in the slot (false: plug-in unknown or refused)"
    ),
    "kind": R(unit="enum", description="Board class: gpu, accelerator, cpu, fpga ('' if empty)"),
    "vendor": R(unit="", description="Board manufacturer"),
    "part_number": R(unit="", description="Vendor part number"),
    "firmware_version": R(unit="", description="Board firmware version"),
    "power_state": R(unit="enum", description="off, booting, idle, busy, throttled, fault"),
    "supply": R(
        unit="enum",
        description="Slot supply: on, shed (bus short of power), unpowered (PDU switch open); "
        "losing supply powers the board off",
    ),
    "powered": R(unit="bool", description="The board is drawing power from the bus"),
    "die_temp_k": R(unit="K", description="Die temperature"),
    "memory_temp_k": R(unit="K", description="Memory (HBM/DRAM) temperature"),
    "plate_temp_k": R(unit="K", description="Cold plate temperature under the board"),
    "inlet_temp_k": R(unit="K", description="Coolant supply temperature of its loop"),
    "max_die_temp_k": R(unit="K", description="Rated maximum die temperature"),
    "overtemp": R(unit="bool", description="Die above its rated maximum"),
    "power_w": R(unit="W", description="Electrical power drawn from the bus"),
    "current_a": R(unit="A", description="Current at bus voltage"),
    "utilisation": R(unit="", description="Fraction of compute in use, 0..1"),
    "correctable_errors": R(unit="", description="Corrected memory errors since the model start"),
    "uncorrectable_errors": R(
        unit="", description="Uncorrectable memory errors since the model start"
    ),
    "seu_count": R(unit="", description="Radiation upsets hwsim delivered to this slot"),
    "throttle_level": R(unit="", description="Effective throttle level, 0 = full speed"),
    "commanded_throttle_level": R(unit="", description="Level set by set_throttle"),
    "heartbeat": R(
        unit="", description="Counts physics steps while alive; frozen when off, faulted or hung"
    ),
    "jobs_queued": R(unit="", description="Jobs waiting behind the running one"),
    "jobs_running": R(unit="", description="Jobs executing now (0 or 1)"),
    "active_job_id": R(unit="", description="Job executing now, -1 if none"),
    "jobs_completed": R(unit="", description="Jobs completed since the model start"),
    "jobs_failed": R(unit="", description="Jobs failed or cancelled since the model start"),
    "results_pending": R(
        unit="",
        description="Jobs over in mission time whose result the host is still computing",
    ),
    "boot_count": R(unit="", description="Boots started since the model start"),
    "latchup": R(unit="bool", description="Latched up (power_cycle to clear)"),
    "fault_reason": R(
        unit="",
        description="'' if none; latch_up, over_temperature, or 'plug-in <name> refused: "
        "<reason>' / 'plug-in <name> unknown: ...' for an empty slot",
    ),
}
PLUGIN_SLOT_COMMANDS = {
    "power_on": C(description="Power the board on (off -> booting); result {}"),
    "power_off": C(description="Power the board off (any state); result {}"),
    "power_cycle": C(description="Power off then on: the cure for a latch-up; result {}"),
    "reset": C(description="Warm reset (clears a hang, a cooled over-temperature); result {}"),
    "self_test": C(description="Built-in self test; result: SelfTestResult fields"),
    "identity": C(
        description="Result {identity, capabilities, thermal, limits}: the board's models "
        "(limits: computesat_sdk.contract.JobLimits, the largest job it accepts)"
    ),
    "submit_job": C(
        description="Queue a job; result {accepted: true} or {accepted: false, reject_code, "
        "reason} (computesat_sdk.kernels.JobRejectCode)",
        args={
            "job_id": "int >= 0, unique among the board's live jobs",
            "kernel": "str: matmul, fft, mlp_inference",
            "size": "int: kernel size",
            "seed": "int >= 0: input generator seed",
            "iterations": "int >= 1 (optional, default 1)",
        },
    ),
    "cancel_job": C(
        description="Cancel a running or queued job; result {cancelled: bool}",
        args={"job_id": "int"},
    ),
    "take_results": C(
        description="Drain ended jobs; result {results: [JobResult fields, job_id as str]}"
    ),
    "set_throttle": C(
        description="Command a minimum throttle level; result {throttle_level: effective level}",
        args={"level": "int, 0..max throttle level"},
    ),
}

# The backplane: one read for the telemetry of every plug-in slot, as slot.<nnn>.<register>.
BACKPLANE_SLOT_REGISTERS = (
    "board",
    "power_state",
    "die_temp_k",
    "power_w",
    "utilisation",
    "throttle_level",
    "heartbeat",
    "jobs_queued",
    "jobs_running",
    "correctable_errors",
    "uncorrectable_errors",
    "fault_reason",
    "results_pending",
)

BACKPLANE_COMMANDS = {
    "await_results": C(
        description="Answered as soon as any plug-in slot has job results ready (take them "
        "with slot.<nnn>.take_results), or after timeout_s without; result {slots: {slot.<nnn>:"
        " registers}}. Served by a running hwsim's device port only (a long poll)",
        args={"timeout_s": "float >= 0: mission seconds to wait at most (capped at 60)"},
    ),
}


def backplane_registers(slot_ids: list[str]) -> dict[str, RegisterInfo]:
    out: dict[str, RegisterInfo] = {}
    for sid in slot_ids:
        for name in BACKPLANE_SLOT_REGISTERS:
            info = PLUGIN_SLOT_REGISTERS[name]
            out[f"slot.{sid}.{name}"] = R(
                unit=info.unit, description=f"slot.{sid}: {info.description}"
            )
    return out
