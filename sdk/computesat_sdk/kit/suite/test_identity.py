"""Identity, interface version and characteristics."""

from __future__ import annotations

from typing import TYPE_CHECKING

from computesat_sdk.contract import (
    BoardCapabilities,
    BoardIdentity,
    ComputeBoard,
    ThermalElectricalModel,
    is_compatible,
)
from computesat_sdk.kit.harness import supported_kernels

if TYPE_CHECKING:
    from collections.abc import Callable

    from computesat_sdk.registry import BoardRegistry


def test_identity_and_interface_version(
    computesat_board_registry: BoardRegistry,
    computesat_board_name: str,
    computesat_new_board: Callable[[str], ComputeBoard],
) -> None:
    board = computesat_new_board("conformance-id")
    assert isinstance(board, ComputeBoard), f"{type(board).__name__} is not a ComputeBoard"
    assert board.board_id == "conformance-id", board.board_id
    identity = board.identity
    assert isinstance(identity, BoardIdentity), f"identity is a {type(identity).__name__}"
    assert is_compatible(identity.interface_version), identity.interface_version
    plugin = computesat_board_registry.get(computesat_board_name)
    assert plugin.interface_version == identity.interface_version, (
        f"plug-in declares {plugin.interface_version}, board {identity.interface_version}"
    )
    assert identity.vendor.strip() and identity.part_number.strip(), identity
    assert board.identity == computesat_new_board("conformance-other").identity, (
        "two boards of one type report different identities"
    )


def test_characteristics_validate(computesat_board: ComputeBoard) -> None:
    model = computesat_board.thermal_model()
    assert isinstance(model, ThermalElectricalModel), type(model).__name__
    assert ThermalElectricalModel.model_validate(model.model_dump()) == model
    caps = computesat_board.capabilities()
    assert isinstance(caps, BoardCapabilities), type(caps).__name__
    assert BoardCapabilities.model_validate(caps.model_dump()) == caps
    assert supported_kernels(computesat_board), "supports none of the reference kernels"
    assert "float64" in caps.dtypes, f"float64 missing from dtypes {caps.dtypes}"
