"""The contract's models, versioning and abstract base class."""

import pickle

import pytest
from computesat_sdk import contract as boards
from computesat_sdk.contract import (
    BOARD_INTERFACE_VERSION,
    BoardCapabilities,
    BoardFactory,
    BoardHealth,
    BoardStateError,
    ComputeBoard,
    JobRejectCode,
    JobRejected,
    PowerState,
    ThermalElectricalModel,
    ThrottleLevel,
    board_factory,
    interface_major,
    is_compatible,
)
from pydantic import BaseModel, ValidationError

from hwsim.boards import BaseBoard, RefCpuBoard, RefGpuBoard


def test_interface_version_rules() -> None:
    assert BOARD_INTERFACE_VERSION == "1.0"
    assert interface_major("1.7") == 1
    assert is_compatible("1.0") and is_compatible("1.9")
    assert not is_compatible("2.0") and not is_compatible("0.9")
    for malformed in ("1", "v1.0", "1.x", ""):
        assert not is_compatible(malformed)
        with pytest.raises(ValueError):
            interface_major(malformed)


def model_args(**changes: object) -> dict[str, object]:
    args = RefGpuBoard.THERMAL.model_dump()
    args.update(changes)
    return args


@pytest.mark.parametrize(
    "changes",
    [
        {"idle_w": 2000.0},
        {"latch_up_w": 500.0},
        {"throttle_temp_k": 370.0},
        {"shutdown_temp_k": 360.0},
        {"thermal_mass_j_per_k": 0.0},
        {"throttle_levels": ()},
        {"throttle_levels": ({"level": 0, "perf_fraction": 0.9, "power_fraction": 1.0},)},
        {
            "throttle_levels": (
                {"level": 0, "perf_fraction": 1.0, "power_fraction": 1.0},
                {"level": 1, "perf_fraction": 1.0, "power_fraction": 0.5},
            )
        },
        {
            "throttle_levels": (
                {"level": 0, "perf_fraction": 1.0, "power_fraction": 1.0},
                {"level": 2, "perf_fraction": 0.5, "power_fraction": 0.5},
            )
        },
    ],
)
def test_inconsistent_thermal_models_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ThermalElectricalModel(**model_args(**changes))


def test_power_model_by_state() -> None:
    model = RefGpuBoard.THERMAL
    assert model.power_w(PowerState.OFF) == model.off_w
    assert model.power_w(PowerState.BOOTING) == model.idle_w
    assert model.power_w(PowerState.IDLE) == model.idle_w
    assert model.power_w(PowerState.BUSY, 1.0) == model.peak_w
    level = model.throttle_levels[2]
    expected_w = model.idle_w + (model.peak_w - model.idle_w) * level.power_fraction
    assert model.power_w(PowerState.BUSY, 1.0, 2) == pytest.approx(expected_w)
    assert model.power_w(PowerState.FAULT, latched_up=True) == model.latch_up_w
    assert model.power_w(PowerState.FAULT) == model.off_w
    assert model.steady_die_temp_k(300.0, 1000.0) == pytest.approx(332.0)
    assert model.time_constant_s == pytest.approx(900.0 * 0.032)


def test_capabilities_refuse_unknown_kernels_and_bad_rates() -> None:
    with pytest.raises(ValidationError):
        BoardCapabilities(memory_bytes=1, kernel_flops_per_s={"conv2d": 1e12})
    with pytest.raises(ValidationError):
        BoardCapabilities(memory_bytes=1, kernel_flops_per_s={"matmul": 0.0})
    with pytest.raises(ValidationError):
        BoardCapabilities(memory_bytes=1, kernel_flops_per_s={})


def test_health_ranges_are_enforced() -> None:
    board = RefCpuBoard("b")
    health = board.health().model_dump()
    BoardHealth(**health)
    for field, bad in (
        ("utilisation", 1.5),
        ("power_w", -1.0),
        ("heartbeat", -1),
        ("die_temp_k", 0),
    ):
        with pytest.raises(ValidationError):
            BoardHealth(**{**health, field: bad})


def test_every_model_field_has_a_description() -> None:
    for name in boards.__all__:
        item = getattr(boards, name)
        if isinstance(item, type) and issubclass(item, BaseModel):
            for field, info in item.model_fields.items():
                assert info.description, f"{name}.{field}"


def test_models_are_frozen() -> None:
    level = ThrottleLevel(level=0, perf_fraction=1.0, power_fraction=1.0)
    with pytest.raises(ValidationError):
        level.level = 1  # type: ignore[misc]


def test_contract_is_abstract() -> None:
    with pytest.raises(TypeError):
        ComputeBoard()  # type: ignore[abstract]


def test_base_board_subclass_rules() -> None:
    class Incomplete(BaseBoard):
        pass

    with pytest.raises(TypeError, match="IDENTITY"):
        Incomplete("b")

    with pytest.raises(TypeError, match="disagrees"):

        class Mismatched(BaseBoard):
            IDENTITY = RefCpuBoard.IDENTITY
            interface_version = "1.1"

    assert RefCpuBoard.interface_version == RefCpuBoard.IDENTITY.interface_version == "1.0"
    with pytest.raises(ValueError):
        RefCpuBoard("")
    with pytest.raises(ValueError):
        RefCpuBoard("b", initial_temp_k=-3.0)


def test_board_factory_marks_version() -> None:
    @board_factory("1.0")
    def make(board_id: str, **kwargs: object) -> ComputeBoard:
        return RefCpuBoard(board_id)

    assert make.interface_version == "1.0"
    assert isinstance(make, BoardFactory)
    assert isinstance(make("x"), ComputeBoard)


def test_errors_carry_what_was_expected_and_pickle() -> None:
    state_error = BoardStateError("submit", PowerState.OFF, "board is not up")
    assert "submit" in str(state_error) and "off" in str(state_error)
    copy = pickle.loads(pickle.dumps(state_error))
    assert (copy.operation, copy.state, copy.detail) == (
        "submit",
        PowerState.OFF,
        "board is not up",
    )
    rejected = JobRejected(JobRejectCode.QUEUE_FULL, "full")
    copy_rejected = pickle.loads(pickle.dumps(rejected))
    assert copy_rejected.code is JobRejectCode.QUEUE_FULL and copy_rejected.reason == "full"
    assert int(JobRejectCode.UNKNOWN_KERNEL) == 1
