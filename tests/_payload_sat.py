"""A small spacecraft for the payload tests: AI1 with six plug-in boards and no random upsets.

Everything but the compute section is the shipped AI1 configuration (orbit, wings, battery,
loops, radiators), so the budgets the payload manager reads are the real ones; the boards
are few so the tests are quick, and upsets come only from fault injection.
"""

from __future__ import annotations

from pathlib import Path

from hwsim.config import simple_config_path

__all__ = ["BOARDS", "write_payload_config"]

# slot number → entry-point name
BOARDS: dict[int, str] = {
    1: "ref-gpu",
    2: "ref-gpu",
    3: "ref-gpu",
    4: "ref-gpu",
    5: "ref-cpu",
    6: "acme-photon7",
}

_PLATES = ("CP01", "CP02", "CP03", "CP06", "CP07", "CP08")


def _compute_section(boards: dict[int, str]) -> str:
    lines = ["[compute]", "saa_upset_factor = 20.0", "thermal_shutdown_margin_k = 10.0", ""]
    for (slot, board), plate in zip(boards.items(), _PLATES[: len(boards)], strict=True):
        lines += [
            "[[compute.slots]]",
            f'slot_id = "{slot:03d}"',
            f'board = "{board}"',
            f'cold_plate_id = "{plate}"',
            "seu_rate_per_year = 0.0",
            "power_on_at_start = true",
            "",
        ]
    return "\n".join(lines)


def write_payload_config(directory: Path, boards: dict[int, str] | None = None) -> Path:
    """Write the TOML into ``directory`` and return its path (``boards``: slot number →
    entry-point name, at most six; default BOARDS)."""
    base = simple_config_path().read_text(encoding="utf-8")
    head = base[: base.index("\n[compute]")]
    path = directory / "payload_sat.toml"
    path.write_text(head + "\n\n" + _compute_section(boards or BOARDS), encoding="utf-8")
    return path
