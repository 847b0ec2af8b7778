"""One coolant loop out of flow must idle the boards of THAT loop only.

Found by last session's outsider: with loop L1 out of flow, the payload manager's min-flow
backstop (``PayloadManager._update_budgets``: any loop below ``min_flow_kg_s`` sets one
``flow_lost`` for the whole payload) throttled every board to ``max_level`` and stopped
admitting jobs everywhere, so loop L2's boards idled with their loop healthy. Thermal control
already sheds the dry loop itself with a per-loop ``ComputeLimit`` (scope ``L1``, 0 W), which
the payload applies to the boards whose backplane ``loop_id`` is ``L1`` only; the backstop must
be as narrow.

The rig is the payload manager's own test rig (real reference boards behind hwsim's port
handler, ``test_payload_manager``), with one slot on each loop and a flow per loop.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from test_payload_manager import PLATE_K, FakeClock, FakeHardware, HardwarePort, Recorder, Rig

from flightsw.services.payload import Config, PayloadManager
from hwsim.boards.slots import board_registers
from icd.devices import LoopRegisters
from icd.dictionary import JobState, SubmitJob

pytestmark = pytest.mark.timeout(60)

BUS_V = 120.0


class TwoLoopHardware(FakeHardware):
    """Slot 001 on loop L1, slot 002 on loop L2, each loop with its own flow."""

    loop_of: ClassVar[dict[str, str]] = {"slot.001": "L1", "slot.002": "L2"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.flows = {"L1": 2.0, "L2": 2.0}
        self.supplies = {"L1": 300.0, "L2": 300.0}

    def _slot_registers(self, device: str):
        slot = self.slots[device]
        assert slot.board is not None
        return board_registers(
            slot,
            supply="on",
            power_w=slot.board.power_draw_w(),
            plate_temp_k=PLATE_K,
            inlet_temp_k=self.supply_k,
            bus_voltage_v=BUS_V,
            seu_count=0,
            loop_id=self.loop_of[device],
        )

    def read(self, device: str) -> dict[str, Any]:
        if device.startswith("loop."):
            return LoopRegisters(
                flow_kg_s=self.flows[device.removeprefix("loop.")],
                pressure_kpa=200.0,
                delta_p_kpa=50.0,
                supply_temp_k=self.supplies[device.removeprefix("loop.")],
                return_temp_k=self.supplies[device.removeprefix("loop.")] + 10.0,
                inventory_kg=50.0,
                heat_load_w=0.0,
            ).wire()
        return super().read(device)


class TwoLoopRig(Rig):
    def __init__(self) -> None:  # Rig's, on the two-loop hardware
        self.clock = FakeClock()
        self.hw = TwoLoopHardware(self.clock, ["ref-cpu", "ref-cpu"])
        self.out = Recorder(self.clock, HardwarePort(self.clock, self.hw))
        self.manager = PayloadManager(self.out, Config(stagger_s=0.0, recovery_holdoff_s=2.0))


async def test_a_loop_out_of_flow_leaves_the_other_loops_boards_running():
    rig = TwoLoopRig()
    hw = rig.hw
    assert isinstance(hw, TwoLoopHardware)
    await rig.boot()
    boards = {b.device: b for b in rig.manager.boards.values()}
    assert {d: b.registers.loop_id for d, b in boards.items()} == TwoLoopHardware.loop_of
    deepest = boards["slot.001"].max_level()  # the deepest level this board takes

    hw.flows["L1"] = 0.0  # L1's pump seized: no flow
    await rig.run(2)
    levels = {d: b.health().commanded_throttle_level for d, b in hw.boards.items()}
    assert levels["slot.001"] == deepest, f"the dry loop's board is not idled: {levels}"
    assert levels["slot.002"] == 0, f"L2's board idled by L1's lost flow: {levels}"

    # a job submitted now runs on L2's board
    assert rig.submit(SubmitJob(61, "matmul", 16, 1)) is None
    await rig.run(3)
    (entry,) = rig.manager.job_list()
    assert entry.state != JobState.QUEUED, "no job admitted while only L1 lost its flow"
    await rig.until(lambda: rig.report(61) is not None, 120)
    assert rig.report(61).state == JobState.COMPLETED  # type: ignore[union-attr]


async def test_a_hot_loop_throttles_its_own_boards_only():
    """The coolant supply steps throttle the boards that loop cools, not the other loop's."""
    rig = TwoLoopRig()
    hw = rig.hw
    assert isinstance(hw, TwoLoopHardware)
    await rig.boot()
    hw.supplies["L1"] = 331.0  # past three of the supply steps (320, 325, 330 K)
    await rig.run(2)
    levels = {d: b.health().commanded_throttle_level for d, b in hw.boards.items()}
    assert levels == {"slot.001": 3, "slot.002": 0}, levels
    assert rig.manager.loop_levels == {"L1": 3, "L2": 0}
    assert rig.out.params["payload.throttle_level"] == 3  # HK: the deepest loop's
    hw.supplies["L1"] = 300.0
    await rig.run(2)
    levels = {d: b.health().commanded_throttle_level for d, b in hw.boards.items()}
    assert levels == {"slot.001": 0, "slot.002": 0}, levels
