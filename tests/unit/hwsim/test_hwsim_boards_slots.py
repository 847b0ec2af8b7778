"""Plug-in boards in hwsim's compute slots: jobs, upsets, heat, refusals, the device API."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest
from computesat_sdk import kernels
from computesat_sdk.contract import BOARD_ENTRY_POINT_GROUP
from computesat_sdk.kernels import JobSpec

from hwsim.boards import BoardRegistry, discover_boards
from hwsim.config import (
    SpacecraftConfig,
    ThermalConfig,
    default_config,
    simple_config,
    with_boards,
)
from hwsim.model import DeviceError
from hwsim.spacecraft import Spacecraft

GPU, CPU, NPU = "slot.001", "slot.002", "slot.003"


@pytest.fixture(scope="module")
def registry() -> BoardRegistry:
    return discover_boards()


@pytest.fixture(scope="module")
def mixed() -> SpacecraftConfig:
    return with_boards(simple_config(), {"ref-gpu": 1, "ref-cpu": 1, "ref-npu": 1})


def _up(cfg: SpacecraftConfig, registry: BoardRegistry, seconds: float = 61.0) -> Spacecraft:
    sc = Spacecraft(cfg, seed=0, registry=registry)
    sc.run(seconds, 1.0)  # the GPU boots in 60 s
    return sc


def _job(job_id: int, kernel: str = "matmul", size: int = 256, iterations: int = 1) -> dict:
    return {"job_id": job_id, "kernel": kernel, "size": size, "seed": 7, "iterations": iterations}


def _spec(args: dict) -> JobSpec:
    return JobSpec(
        job_id=str(args["job_id"]),
        kernel=args["kernel"],
        size=args["size"],
        seed=args["seed"],
        iterations=args["iterations"],
    )


def test_reference_boards_fly_in_slots_and_boot(mixed, registry) -> None:
    sc = Spacecraft(mixed, seed=0, registry=registry)
    s = sc.read(GPU)
    assert (s["board"], s["present"], s["kind"], s["power_state"]) == (
        "ref-gpu",
        True,
        "gpu",
        "booting",
    )
    assert s["part_number"] == "CS-REF-GPU1K" and s["fault_reason"] == ""
    with pytest.raises(DeviceError) as e:
        sc.command(GPU, "submit_job", _job(1))
    assert e.value.code == "device_off"
    sc.run(61.0, 1.0)
    assert [sc.read(d)["power_state"] for d in (GPU, CPU, NPU)] == ["idle"] * 3
    assert sc.read(GPU)["heartbeat"] == 61
    assert sc.read("slot.004")["kind"] == "generic-accelerator"  # simple slots unchanged
    ident = sc.command(NPU, "identity", {})
    assert ident["identity"]["part_number"] == "CS-REF-NPU75"
    assert set(ident) == {"identity", "capabilities", "thermal", "limits"}
    assert ident["limits"]["max_size"]["matmul"] == 3344, "256 MiB holds 3 n² float64 to 3344"
    assert ident["thermal"]["peak_w"] == 75.0
    st = sc.command(CPU, "self_test", {})
    assert st["passed"] and st["board_id"] == CPU


def test_job_completes_after_flops_over_rate_and_verifies(mixed, registry) -> None:
    sc = _up(mixed, registry)
    args = _job(42, size=256, iterations=20_000)
    rate = 2.5e12  # ref-cpu matmul
    duration_s = 2 * 256**3 * 20_000 / rate  # 53.7 s
    assert sc.command(CPU, "submit_job", args) == {"accepted": True}
    s = sc.read(CPU)
    assert (s["power_state"], s["jobs_running"], s["active_job_id"]) == ("busy", 1, 42)
    sc.run(duration_s - 1.0, 0.5)
    assert sc.command(CPU, "take_results", {}) == {"results": []}
    sc.run(1.5, 0.5)
    (result,) = sc.command(CPU, "take_results", {})["results"]
    assert result["status"] == "completed" and result["job_id"] == "42"
    assert result["end_mission_time_s"] - result["start_mission_time_s"] == pytest.approx(
        duration_s, rel=1e-9
    )
    assert kernels.verify(_spec(args), result["digest"])
    assert sc.command(CPU, "take_results", {}) == {"results": []}  # drained


def test_rejected_job_is_an_answer_not_an_error(mixed, registry) -> None:
    sc = _up(mixed, registry)
    r = sc.command(NPU, "submit_job", _job(1, kernel="fft", size=1024))
    assert r["accepted"] is False and r["reject_code"] == int(
        kernels.JobRejectCode.UNSUPPORTED_KERNEL
    )
    with pytest.raises(DeviceError) as e:
        sc.command(NPU, "submit_job", {"job_id": 1, "kernel": "fft"})
    assert e.value.code == "bad_argument"
    assert sc.command(GPU, "cancel_job", {"job_id": 9}) == {"cancelled": False}
    assert sc.command(GPU, "submit_job", _job(9, iterations=10**6))["accepted"]
    assert sc.command(GPU, "cancel_job", {"job_id": 9}) == {"cancelled": True}
    assert sc.command(GPU, "set_throttle", {"level": 2}) == {"throttle_level": 2}
    with pytest.raises(DeviceError) as e:
        sc.command(GPU, "set_throttle", {"level": 99})
    assert e.value.code == "bad_argument"
    with pytest.raises(DeviceError) as e:
        sc.command(GPU, "set_utilisation", {"value": 0.5})
    assert e.value.code == "unknown_command"


def test_bit_flip_upset_gives_a_result_that_fails_verify(mixed, registry) -> None:
    sc = _up(mixed, registry)
    args = _job(5, size=128, iterations=1000)
    sc.command(GPU, "submit_job", args)
    sc.inject_fault("board_upset", GPU, {"kind": "bit_flip_result"})
    sc.run(5.0, 1.0)
    (result,) = sc.command(GPU, "take_results", {})["results"]
    assert result["status"] == "completed"
    assert not kernels.verify(_spec(args), result["digest"])


def test_hang_freezes_heartbeat_until_power_cycle(mixed, registry) -> None:
    sc = _up(mixed, registry)
    sc.inject_fault("board_upset", CPU, {"kind": "hang"})
    beat = sc.read(CPU)["heartbeat"]
    sc.run(20.0, 1.0)
    assert sc.read(CPU)["heartbeat"] == beat
    assert sc.read(CPU)["power_w"] > 0.0
    assert sc.command(CPU, "power_cycle", {}) == {}
    sc.run(31.0, 1.0)  # ref-cpu boots in 30 s
    s = sc.read(CPU)
    assert s["power_state"] == "idle" and s["heartbeat"] > beat and s["boot_count"] == 2


def test_latchup_raises_power_and_needs_a_power_cycle(mixed, registry) -> None:
    sc = _up(mixed, registry)
    idle_w = sc.read(GPU)["power_w"]
    sc.inject_fault("board_latchup", GPU)
    sc.step(1.0)
    s = sc.read(GPU)
    assert (s["power_state"], s["fault_reason"], s["latchup"]) == ("fault", "latch_up", True)
    assert s["power_w"] == 1500.0 > idle_w
    assert sc.registers("pdu")["slot_001_current_a"] * sc.registers("pdu")["bus_voltage_v"] == (
        pytest.approx(1500.0)
    )
    with pytest.raises(DeviceError) as e:
        sc.command(GPU, "reset", {})
    assert e.value.code == "device_fault" and "power cycle" in e.value.message
    sc.command(GPU, "power_cycle", {})
    sc.run(61.0, 1.0)
    s = sc.read(GPU)
    assert (s["power_state"], s["fault_reason"], s["power_w"]) == ("idle", "", idle_w)


def test_busy_board_heats_its_plate_and_coolant(registry) -> None:
    cfg = with_boards(simple_config(), {"ref-gpu": 15})  # all of plate CP01
    # from the configured 300 K: settled at 120 kW the plates sit at ~343 K, where the busy
    # boards throttle below the 800 W asked here
    cfg = cfg.model_copy(update={"thermal": ThermalConfig(settle_at_start=False)})
    idle, busy = _up(cfg, registry), _up(cfg, registry)
    for k in range(1, 16):
        # matmul 1024 x 15 625 000 = 3.4e16 FLOP: ~750 s on a ref-gpu, beyond the 300 s run
        job = _job(k, size=1024, iterations=15_625_000)
        assert busy.command(f"slot.{k:03d}", "submit_job", job) == {"accepted": True}
    idle.run(300.0, 1.0)
    busy.run(300.0, 1.0)
    a, b = idle.read("slot.001"), busy.read("slot.001")
    assert b["power_w"] > 800.0 > 200.0 > a["power_w"]
    assert b["die_temp_k"] - b["plate_temp_k"] > 20.0
    assert b["plate_temp_k"] > a["plate_temp_k"] + 1.0
    assert busy.read("loop.L1")["return_temp_k"] > idle.read("loop.L1")["return_temp_k"]
    assert busy.read("loop.L1")["heat_load_w"] > idle.read("loop.L1")["heat_load_w"] + 10e3


def test_unknown_and_refused_plug_ins_leave_the_slot_empty(registry) -> None:
    bad = EntryPoint(
        name="broken-board", value="no_such_module:Board", group=BOARD_ENTRY_POINT_GROUP
    )
    reg = discover_boards([bad, *registry_entry_points()])
    cfg = with_boards(simple_config(), {"ref-cpu": 1, "broken-board": 1, "no-such-board": 1})
    sc = Spacecraft(cfg, seed=0, registry=reg)
    sc.run(31.0, 1.0)
    s2, s3 = sc.read("slot.002"), sc.read("slot.003")
    assert s2["fault_reason"] == "plugin_refused", s2["fault_reason"]
    assert s2["fault_detail"].startswith("plug-in broken-board refused: import failed")
    assert s3["fault_reason"] == "plugin_unknown", s3["fault_reason"]
    assert s3["fault_detail"].startswith("plug-in no-such-board unknown")
    assert not s2["present"] and s2["power_w"] == 0.0 and s2["power_state"] == "off"
    with pytest.raises(DeviceError) as e:
        sc.command("slot.002", "power_on", {})
    assert e.value.code == "device_fault" and "broken-board" in e.value.message
    names = {r["name"] for r in sc.truth()["refused_plugins"]}
    assert {"broken-board", "no-such-board"} <= names
    assert set(sc.truth()["empty_slots"]) == {"slot.002", "slot.003"}
    assert sc.read("slot.001")["power_state"] == "idle"  # everything else works
    bp = sc.registers("backplane")
    assert bp["slot.002.fault_reason"] == s2["fault_reason"]
    assert bp["slot.001.power_state"] == "idle"


def registry_entry_points() -> list[EntryPoint]:
    from importlib.metadata import entry_points

    return list(entry_points(group=BOARD_ENTRY_POINT_GROUP))


def test_example_vendor_board_flies(registry) -> None:
    if "acme-photon7" not in registry:
        pytest.skip("example vendor board not installed: pip install -e ./examples/vendor_board")
    sc = _up(with_boards(simple_config(), {"acme-photon7": 2}), registry, 21.0)
    s = sc.read("slot.002")
    assert (s["vendor"], s["power_state"]) == ("ACME Photonics", "idle")
    args = _job(3, kernel="fft", size=4096)
    assert sc.command("slot.002", "submit_job", args) == {"accepted": True}
    sc.step(1.0)
    (result,) = sc.command("slot.002", "take_results", {})["results"]
    assert kernels.verify(_spec(args), result["digest"])


def test_pdu_switch_off_powers_the_board_off(mixed, registry) -> None:
    sc = _up(mixed, registry)
    sc.command(GPU, "submit_job", _job(1, iterations=10**6))
    sc.command("pdu", "switch_off", {"switch": "slot_001"})
    s = sc.read(GPU)
    assert (s["power_state"], s["supply"], s["power_w"]) == ("off", "unpowered", 0.0)
    (result,) = sc.command(GPU, "take_results", {})["results"]
    assert result["status"] == "failed"
    with pytest.raises(DeviceError) as e:
        sc.command(GPU, "power_on", {})
    assert e.value.code == "device_off"


def test_describe_lists_every_register_with_a_unit(mixed, registry) -> None:
    sc = Spacecraft(mixed, seed=0, registry=registry)
    for dev in (GPU, "slot.004", "backplane"):
        desc = sc.describe(dev)
        assert set(sc.registers(dev)) == set(desc.registers)
    bp = sc.registers("backplane")
    assert len(bp) == 3 * 15 and "slot.003.heartbeat" in bp and "slot.003.results_pending" in bp
    assert sc.describe("backplane").registers["slot.001.die_temp_k"].unit == "K"
    assert {bp[f"slot.{n:03d}.loop_id"] for n in (1, 2, 3)} <= {"L1", "L2"}, bp


def test_default_config_flies_the_reference_mix(registry) -> None:
    sc = Spacecraft(default_config(), seed=0, registry=registry)
    boards = {sc.read(f"slot.{k:03d}")["board"] for k in (1, 140, 141, 150, 160)}
    assert boards == {"ref-gpu", "ref-cpu", "ref-npu"}
    assert sc.read("slot.160")["board"] == "ref-gpu"
    assert sc.truth()["refused_plugins"] == [] and sc.truth()["plugin_slots"] == 160


def test_energy_is_conserved_with_plug_in_boards(registry) -> None:
    """Electrical energy into the boards leaves as heat (radiated, stored) within 1 %."""
    cfg = with_boards(simple_config(), {"ref-gpu": 60, "ref-cpu": 20, "ref-npu": 20})
    sc = Spacecraft(cfg, seed=0, registry=registry)
    sc.run(61.0, 1.0)
    # Every board busy the whole run, each with a long job within its limits (large sizes,
    # few iterations): matmul 4096 for ~6 100 s on a ref-gpu and ~6 600 s on a ref-cpu,
    # matmul 3344 (its largest) for ~6 000 s on a ref-npu. None ends within the run, so no
    # result is computed on the host (one of these takes seconds).
    jobs = {"ref-gpu": ("matmul", 4096, 2_000_000), "ref-cpu": ("matmul", 4096, 120_000)}
    jobs["ref-npu"] = ("matmul", 3344, 120_000)
    for k in range(1, 101):
        slot = f"slot.{k:03d}"
        job = _job(k, *jobs[sc.read(slot)["board"]])
        assert sc.command(slot, "submit_job", job) == {"accepted": True}, f"{slot}: {job}"
    sc.run(5801.0, 5.0)
    tr = sc.truth()
    e = tr["energy_j"]
    net = e["compute_heat_j"] + e["pump_heat_j"] + e["absorbed_env_j"] - e["radiated_j"]
    net -= e["parasitic_j"] + e["lost_coolant_j"]  # to the structure; leaked
    assert abs(net - tr["thermal_energy_change_j"]) / e["compute_heat_j"] < 0.01
