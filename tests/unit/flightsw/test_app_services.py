"""The flight software's service set and what platform HK reports of it agree."""

from __future__ import annotations

from flightsw.app import FlightSettings, services
from icd import dictionary as dic


def test_platform_hk_reports_the_state_of_every_service_in_start_order() -> None:
    started = [spec.name for spec in services(FlightSettings())]
    assert started == list(dic.SUPERVISED_SERVICES), (started, dic.SUPERVISED_SERVICES)
    sid1 = {p.name for p in dic.HK_STRUCTURES[1].parameters}
    missing = [n for n in started if f"supervisor.state.{n}" not in sid1]
    assert not missing, f"services without a state in SID 1: {missing}"
