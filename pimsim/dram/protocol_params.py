"""The timing parameters the protocol checker (`pimsim.dram.protocol`) reads, by their standard
names, in cycles: only these, never the compiled rule table."""

from __future__ import annotations

import math
from dataclasses import dataclass

from pimsim.config.schema import HardwareConfig


@dataclass(frozen=True)
class ProtocolParams:
    """The timing parameters the protocol checker uses, by their standard names (cycles)."""

    BL: int
    CL: int
    CWL: int
    RCDRD: int
    RCDWR: int
    RCDMAC: int
    RP: int
    RAS: int
    RC: int
    WR: int
    RTP: int
    CCDS: int
    CCDL: int
    RRDS: int
    RRDL: int
    WTRS: int
    WTRL: int
    FAW: int
    RFC: int
    RFCpb: int
    RREFD: int
    REFI: int
    RTW: int
    CLREG: int
    CWLGB: int
    MACRES: int
    MODCH: int  # after a TMOD (access-mode switch), before any command
    mac_spacing: int  # MAC to MAC when a MAC unit needs several passes per column

    @classmethod
    def of(cls, hw: HardwareConfig) -> ProtocolParams:
        t = hw.dram.timing_cycles
        org, pim = hw.dram.organization, hw.pim
        elements = org.access_bytes // pim.dtype_bytes
        passes = math.ceil(elements / pim.mac_lanes) if pim.enabled else 1
        spacing = passes * max(t["nCCDL"], t["nCCDS"]) if passes > 1 else 0
        return cls(
            BL=t["nBL"],
            CL=t["nCL"],
            CWL=t["nCWL"],
            RCDRD=t["nRCDRD"],
            RCDWR=t["nRCDWR"],
            RCDMAC=t["nRCDRDMAC"],
            RP=t["nRP"],
            RAS=t["nRAS"],
            RC=t["nRC"],
            WR=t["nWR"],
            RTP=t["nRTP"],
            CCDS=t["nCCDS"],
            CCDL=t["nCCDL"],
            RRDS=t["nRRDS"],
            RRDL=t["nRRDL"],
            WTRS=t["nWTRS"],
            WTRL=t["nWTRL"],
            FAW=t["nFAW"],
            RFC=t.get("nRFC", 0),
            RFCpb=t.get("nRFCpb", 0),
            RREFD=t.get("nRREFD", 0),
            REFI=t.get("nREFI", 0),
            RTW=t["nRTW"],
            CLREG=t["nCLREG"],
            CWLGB=t["nCWLGB"],
            MACRES=t["nMACRES"],
            MODCH=t.get("nMODCH", 0),
            mac_spacing=spacing,
        )
