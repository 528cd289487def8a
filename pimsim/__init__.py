"""pimsim: cycle-accurate simulation of DRAM processing-in-memory accelerators for transformers."""

__version__ = "0.1.0"
