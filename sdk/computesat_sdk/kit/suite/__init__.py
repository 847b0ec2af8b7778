"""The conformance suite: one module per area, collected by the kit's plugin.

Every test is parametrised over the boards named with ``--computesat-board`` and uses only the
`computesat_sdk.contract.ComputeBoard` contract (through `computesat_sdk.kit.harness`), never
`BaseBoard` internals. What is checked, by module:

- ``test_identity``: identity and interface version; characteristics that validate.
- ``test_power``: a new board is OFF at off power; power-state transitions (off -> booting ->
  idle -> busy -> idle) and refusal of illegal ones; power-off from every state; `step`
  arguments are checked.
- ``test_jobs``: correct results on every reference kernel the board supports (digest verifies
  with `computesat_sdk.kernels.verify`), refusal of unsupported kernels and bad jobs with
  `JobRejected`; job timing from the board's FLOP rate and commanded throttle level; cancel;
  self-test.
- ``test_telemetry``: telemetry ranges and units (temperatures in K, power within the thermal
  model's bounds, utilisation 0..1, counters non-negative and monotonic, mission time advancing
  by dt).
- ``test_thermal``: thermal self-throttling (hot plate -> throttles, power falls; cool ->
  recovers), the over-temperature trip, the lumped thermal model's steady state and energy
  balance.
- ``test_faults``: recovery from hang (reset or power cycle) and latch-up (power cycle only),
  silent result corruption, uncorrectable memory errors, upsets on an unpowered board.
- ``test_determinism``: the same script gives the same telemetry and results.

These modules are not meant to be imported or collected on their own: run them with
``pytest --computesat-board=NAME``.
"""
