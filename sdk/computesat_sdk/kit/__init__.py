"""The compute-board conformance kit: ``pytest --computesat-board=NAME``.

Part of the board SDK, so it runs with the SDK and pytest alone. `plugin` is the pytest plugin
(the option and hooks); `harness` the public helpers the checks are written on (usable in a
vendor's own tests); `fixtures` the pytest fixtures, registered when the kit runs; `suite` the
checks, one module per area.
"""
