"""Mapping: place weights and the KV cache on channels/banks/rows; build PIM programs."""

from pimsim.dram.programs import ChannelProgram
from pimsim.mapping.model_map import KvLayout, MatrixCandidate, MatrixLayout
from pimsim.mapping.optimizer import ModelMapping, map_model
from pimsim.mapping.programs import Geometry

__all__ = [
    "ChannelProgram",
    "Geometry",
    "KvLayout",
    "MatrixCandidate",
    "MatrixLayout",
    "ModelMapping",
    "map_model",
]
