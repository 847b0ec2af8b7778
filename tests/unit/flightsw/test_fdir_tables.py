"""The default FDIR tables: every fault of hwsim's catalogue is covered, and every entry whose
owner is on board (this dictionary) loads."""

from __future__ import annotations

from flightsw import fdir_tables
from hwsim.faults import fault_catalogue
from icd import dictionary as dic

OWN_EVENTS = {e.name for e in dic.EVENTS.values() if 70 <= e.id <= 89}


def test_every_catalogue_fault_has_a_detection_and_a_response():
    catalogue = {f.id for f in fault_catalogue()}
    missing = catalogue - set(fdir_tables.FAULT_COVERAGE)
    assert not missing, f"faults without FDIR coverage: {sorted(missing)}"
    stale = set(fdir_tables.FAULT_COVERAGE) - catalogue
    assert not stale, f"coverage of faults the catalogue does not have: {sorted(stale)}"
    for fault, (detection, response) in fdir_tables.FAULT_COVERAGE.items():
        assert detection and response, fault


def test_every_default_monitoring_definition_loads():
    loaded, skipped = fdir_tables.default_monitoring()
    assert not skipped, skipped
    assert len(loaded) == len(fdir_tables.DEFAULT_MONITORING)
    assert len({d.pmon_id for d in loaded}) == len(loaded), "duplicate PMON ids"


def test_own_events_and_device_functions_resolve_others_are_skipped_by_name():
    loaded, skipped = fdir_tables.default_event_actions()
    by_id = {d.ea_id for d in loaded}
    assert len({e.ea_id for e in fdir_tables.DEFAULT_EVENT_ACTIONS}) == len(
        fdir_tables.DEFAULT_EVENT_ACTIONS
    ), "duplicate EA ids"
    on_board = {s.service for s in dic.SERVICES}
    for entry in fdir_tables.DEFAULT_EVENT_ACTIONS:
        resolvable = (entry.event in {e.name for e in dic.EVENTS.values()}) and (
            entry.service in on_board
        )
        assert (entry.ea_id in by_id) == resolvable, (entry, skipped)
        if entry.event in OWN_EVENTS and entry.service == 8:
            assert entry.ea_id in by_id, entry
    # Each PMON event with a response is one this dictionary has.
    for entry in fdir_tables.DEFAULT_MONITORING:
        for name in (entry.low_event, entry.high_event, entry.event):
            assert name is None or name in OWN_EVENTS, (entry, name)
    # A skipped entry says why, by name.
    for name, reason in skipped:
        assert "not in the dictionary" in reason or "got 13" in reason, (name, reason)


def test_every_response_has_a_monitor_that_raises_its_event():
    matches = {f"PMON {e.pmon_id} " for e in fdir_tables.DEFAULT_MONITORING}
    for entry in fdir_tables.DEFAULT_EVENT_ACTIONS:
        if entry.match:
            assert entry.match in matches, entry
