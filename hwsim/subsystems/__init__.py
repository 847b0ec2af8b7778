"""The spacecraft's hardware as subsystems, one module each (see docs/hwsim.md, "Subsystems").

:class:`hwsim.model.Spacecraft` builds them, orders their steps, routes device ids and faults
to the owner and keeps the energy and heat ledgers; the subsystems talk through explicit
inputs and outputs, never each other's private state.
"""
