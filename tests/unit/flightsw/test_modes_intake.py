"""The mode manager's intake (``modes._Intake``: the name sets' prefix tests kept) takes from
a ParameterUpdate exactly what the plain per-name filter takes: the same values in the same
order, the same invalid names, the same 'a watched name came', on the real devices service's
parameters of a hwsim (the PDU's ~950 names included), repeated, and on small updates."""

from __future__ import annotations

from flightsw.messages import ParameterUpdate
from flightsw.services.devices import registers_to_parameters
from flightsw.services.modes import _WATCHED_PREFIXES, Config, _Intake
from hwsim.config import default_config
from hwsim.spacecraft import Spacecraft
from icd.devices import parse_registers


def _reference(
    message: ParameterUpdate, needed: tuple[str, ...], watched: tuple[str, ...]
) -> tuple[dict[str, float], tuple[str, ...], bool]:
    """The filter the intake replaces, name by name."""
    values = {n: v for n, v in message.values.items() if n.startswith(needed)}
    invalid = tuple(n for n in message.invalid if n.startswith(needed))
    came = any(n.startswith(watched) for n in values) or any(n.startswith(watched) for n in invalid)
    return values, invalid, came


def _updates() -> list[ParameterUpdate]:
    sc = Spacecraft(default_config(), seed=3)
    sc.step(1.0)
    out: list[ParameterUpdate] = []
    every: dict[str, float] = {}
    for device in sc.device_ids():
        values = registers_to_parameters(device, parse_registers(device, sc.read(device)))
        every.update(values)
        out.append(ParameterUpdate(values=values, time_ns=1))
    names = list(every)
    out.append(ParameterUpdate(values=every, time_ns=2))  # the devices service's one update
    out.append(ParameterUpdate(values=every, invalid=tuple(names[::7]), time_ns=3))
    out.append(ParameterUpdate(values={}, invalid=("battery.soc", "pdu.x"), time_ns=4))
    out.append(ParameterUpdate(values={"supervisor.failed": 1.0, "x.y": 2.0}, time_ns=5))
    out.append(ParameterUpdate(values={"x.y": 2.0}, invalid=("supervisor.a",), time_ns=6))
    return out


def test_the_intake_takes_what_the_per_name_filter_takes():
    config = Config()
    watched = (*_WATCHED_PREFIXES, *config.platform_parameters)
    needed = (*watched, *(c.parameter for c in config.safe_causes))
    intake = _Intake(needed, watched)
    updates = _updates()
    assert any(len(u.values) > 900 for u in updates)
    came = 0
    for _ in range(3):  # the first pass makes the picks, the others take them kept
        for message in updates:
            got = intake.select(message)
            want = _reference(message, needed, watched)
            assert got == want
            assert list(got[0]) == list(want[0])  # the order too
            came += got[2]
    assert came >= 3  # watched names did come (the test is not vacuous)


def test_the_intake_forgets_past_its_bound_and_still_answers_the_same():
    intake = _Intake(("a.",), ("a.w",))
    for i in range(3 * _Intake._KEPT):
        message = ParameterUpdate(values={f"a.{i}": 1.0, "a.w": 2.0, "b.c": 3.0}, time_ns=i)
        assert intake.select(message) == _reference(message, ("a.",), ("a.w",))
    assert len(intake._picks) <= _Intake._KEPT
