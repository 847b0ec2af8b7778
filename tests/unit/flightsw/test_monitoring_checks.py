"""The PUS 12 checks alone (flightsw.services.monitoring.Monitor over a ParameterPool):
persistence, invalid values never checked, validity conditions, delta and expected-value
checks, and the transitions reported."""

from __future__ import annotations

from flightsw.messages import ParameterUpdate
from flightsw.pool import ParameterPool
from flightsw.services.monitoring import Monitor, _Pmon
from icd.dictionary import EventId
from icd.monitoring import (
    CheckStatus,
    CheckType,
    ExpectedCheck,
    LimitCheck,
    MonitoringDefinition,
    Validity,
)

LOW, HIGH = EventId.PARAMETER_BELOW_LOW, EventId.PARAMETER_ABOVE_HIGH


class _Feed:
    """A pool fed sample by sample (each sample a new mission second)."""

    def __init__(self) -> None:
        self.pool = ParameterPool()
        self.t_ns = 0

    def sample(self, invalid: tuple[str, ...] = (), **values: float) -> None:
        self.t_ns += 1_000_000_000
        self.pool.update(ParameterUpdate(values=values, invalid=invalid, time_ns=self.t_ns))


def _monitor(definition: MonitoringDefinition) -> Monitor:
    monitor = Monitor()
    monitor.definitions[definition.pmon_id] = _Pmon(definition)
    return monitor


def test_no_event_before_the_repetition_number_of_violating_samples():
    limit = LimitCheck(250.0, 300.0, LOW, HIGH)
    monitor = _monitor(MonitoringDefinition(1, "loop.L1.supply_temp_k", CheckType.LIMIT, limit, 3))
    feed = _Feed()
    seen = []
    for value in (270.0, 270.0, 270.0, 310.0, 311.0, 270.0, 312.0, 313.0, 314.0):
        feed.sample(**{"loop.L1.supply_temp_k": value})
        transitions, events = monitor.check(feed.pool, feed.t_ns / 1e9)
        seen.append(([t.current for t in transitions], [e[0] for e in events]))
    # Within after 3 samples; two violations then a good sample: nothing; three: ABOVE_HIGH.
    assert seen[2] == ([CheckStatus.WITHIN], []), seen
    assert all(s == ([], []) for s in seen[3:8]), seen
    assert seen[8] == ([CheckStatus.ABOVE_HIGH], [HIGH]), seen
    status = monitor.definitions[1].status
    assert status is CheckStatus.ABOVE_HIGH, status


def test_an_invalid_value_is_never_checked():
    limit = LimitCheck(0.0, 1.0, LOW, HIGH)  # any real temperature would violate it
    monitor = _monitor(MonitoringDefinition(1, "loop.L1.supply_temp_k", CheckType.LIMIT, limit))
    feed = _Feed()
    for _ in range(5):
        feed.sample(invalid=("loop.L1.supply_temp_k",), **{"other.value": 1.0})
        transitions, events = monitor.check(feed.pool, 0.0)
        assert (transitions, events) == ([], []), (transitions, events)
    assert monitor.definitions[1].status is CheckStatus.UNCHECKED
    feed.sample(**{"loop.L1.supply_temp_k": 280.0})
    transitions, events = monitor.check(feed.pool, 0.0)
    assert [t.current for t in transitions] == [CheckStatus.ABOVE_HIGH], transitions
    # Invalid again: back to UNCHECKED at once, no event.
    feed.sample(invalid=("loop.L1.supply_temp_k",))
    transitions, events = monitor.check(feed.pool, 0.0)
    assert [t.current for t in transitions] == [CheckStatus.UNCHECKED] and not events


def test_the_same_sample_is_not_counted_twice():
    limit = LimitCheck(0.0, 1.0, LOW, HIGH)
    monitor = _monitor(MonitoringDefinition(1, "battery.soc", CheckType.LIMIT, limit, 2))
    feed = _Feed()
    feed.sample(**{"battery.soc": 5.0})
    for _ in range(4):  # four checks of one sample are one sample
        assert monitor.check(feed.pool, 0.0) == ([], [])
    feed.sample(**{"battery.soc": 5.0})
    _, events = monitor.check(feed.pool, 0.0)
    assert events == [(HIGH, events[0][1])] and "PMON 1 battery.soc above high 1" in events[0][1]


def test_validity_condition_false_is_invalid_not_checked():
    limit = LimitCheck(1.0, 10.0, LOW, HIGH)
    validity = Validity("pdu.pump_L1_B_on", 0x1, 1)
    definition = MonitoringDefinition(1, "pump.L1.B.flow_kg_s", CheckType.LIMIT, limit, 1, validity)
    monitor = _monitor(definition)
    feed = _Feed()
    feed.sample(**{"pump.L1.B.flow_kg_s": 0.0, "pdu.pump_L1_B_on": 0.0})
    transitions, events = monitor.check(feed.pool, 0.0)
    assert [t.current for t in transitions] == [CheckStatus.INVALID] and not events
    feed.sample(**{"pump.L1.B.flow_kg_s": 0.0, "pdu.pump_L1_B_on": 1.0})
    transitions, events = monitor.check(feed.pool, 0.0)
    assert [t.current for t in transitions] == [CheckStatus.BELOW_LOW], transitions
    assert [e[0] for e in events] == [LOW], events


def test_delta_and_expected_value_checks():
    delta = MonitoringDefinition(
        1, "radsensor.P01.S1.temp_k", CheckType.DELTA, LimitCheck(-4.0, 4.0, 83, 83)
    )
    expected = MonitoringDefinition(
        2, "pdu.avionics_tripped", CheckType.EXPECTED, ExpectedCheck(0x1, 0, 87)
    )
    monitor = _monitor(delta)
    monitor.definitions[2] = _Pmon(expected)
    feed = _Feed()
    feed.sample(**{"radsensor.P01.S1.temp_k": 250.0, "pdu.avionics_tripped": 0.0})
    transitions, _ = monitor.check(feed.pool, 0.0)
    # The delta has no previous sample yet: unchecked; the expected value is as expected.
    assert {t.pmon_id: t.current for t in transitions} == {2: CheckStatus.WITHIN}, transitions
    feed.sample(**{"radsensor.P01.S1.temp_k": 251.0, "pdu.avionics_tripped": 1.0})
    transitions, events = monitor.check(feed.pool, 0.0)
    assert {t.pmon_id: t.current for t in transitions} == {
        1: CheckStatus.WITHIN,
        2: CheckStatus.UNEXPECTED,
    }, transitions
    assert [e[0] for e in events] == [87], events
    feed.sample(**{"radsensor.P01.S1.temp_k": 240.0, "pdu.avionics_tripped": 1.0})
    transitions, events = monitor.check(feed.pool, 0.0)
    assert [(t.pmon_id, t.current, t.value) for t in transitions] == [
        (1, CheckStatus.BELOW_LOW, -11.0)
    ], transitions
    assert events and "change per sample -11" in events[0][1], events


def test_a_disabled_function_checks_nothing():
    limit = LimitCheck(0.0, 1.0, LOW, HIGH)
    monitor = _monitor(MonitoringDefinition(1, "battery.soc", CheckType.LIMIT, limit))
    monitor.function_enabled = False
    feed = _Feed()
    feed.sample(**{"battery.soc": 5.0})
    assert monitor.check(feed.pool, 0.0) == ([], [])
    assert monitor.checks_total == 0
