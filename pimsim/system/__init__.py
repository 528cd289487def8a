"""Systems of several PIM devices: the interconnect between them and the collectives it times."""

from pimsim.system.interconnect import INTERCONNECTS, Interconnect, load_interconnect

__all__ = ["INTERCONNECTS", "Interconnect", "load_interconnect"]
