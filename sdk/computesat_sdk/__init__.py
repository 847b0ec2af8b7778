"""computesat board SDK: the board contract, kernels, ``BaseBoard``, the registry and the kit.

A vendor installs this distribution alone (numpy and pydantic only) to write and qualify a
board; the emulator imports the same modules, so there is one contract, not two copies.
"""

__all__ = ["SDK_VERSION"]

SDK_VERSION = "1.0.0"
