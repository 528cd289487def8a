"""Words for the identifiers figures show: sweep key paths and breakdown categories.

`dram.channels` -> "DRAM channels", `dram_background` -> "DRAM background"; a name without an
entry is shown as it is (so a new key or category is never hidden, only less pretty)."""

from __future__ import annotations

from pimsim.core.kinds import KIND_TABLE

KEY_LABELS = {
    "dram.channels": "DRAM channels",
    "dram.organization.rows": "rows per bank",
    "dram.organization.columns": "columns per row",
    "dram.organization.bank_groups": "bank groups",
    "dram.organization.banks_per_group": "banks per group",
    "dram.page_policy": "page policy",
    "dram.refresh": "refresh scheme",
    "dram.timing.tCK_ns": "DRAM clock period",
    "pim.mac_lanes": "MAC lanes per unit",
    "pim.banks_per_mac_unit": "banks per MAC unit",
    "pim.global_buffer_bytes": "global buffer per channel",
    "pim.result_registers": "result registers per unit",
    "pim.dtype": "PIM data type",
    "asic.clock_GHz": "ASIC clock",
    "asic.vector_lanes": "ASIC vector lanes",
    "asic.sram_bytes": "ASIC SRAM",
    "asic.link_bandwidth_GBps": "PIM-ASIC link bandwidth",
    "asic.link_latency_ns": "PIM-ASIC link latency",
    "gen_len": "generated tokens",
    "prompt_len": "prompt tokens",
    "mode": "schedule",
}
# categories that are not operator kinds (a kind's label is its row in pimsim.core.kinds)
CATEGORY_LABELS = {
    "reduction": "partial-sum reduction",
    "pim_issue": "PIM command issue",
    "idle": "idle",
    # energy by component
    "pim_mac": "PIM MAC",
    "dram_activate": "DRAM activate",
    "dram_background": "DRAM background",
    "refresh": "DRAM refresh",
    "dram_column": "DRAM column access",
    "io": "I/O",
    "result_read": "MAC result read",
    "global_buffer": "global buffer",
    "asic_vector": "ASIC vector unit",
    "asic_sram": "ASIC SRAM",
    "asic_static": "ASIC static",
    "other": "other (each < 1 %)",
}


def key_label(key: str) -> str:
    """Words for a sweep key path (without its unit)."""
    return KEY_LABELS.get(str(key), str(key))


def category_label(name: str) -> str:
    """Words for a breakdown category (an operator kind or another) or energy component."""
    name = str(name)
    if name in KIND_TABLE:
        return KIND_TABLE[name].figure_label
    return CATEGORY_LABELS.get(name, name.replace("_", " "))
