"""pimsim: cycle-accurate simulation of DRAM processing-in-memory accelerators for transformers.

The Python API (`pimsim.api`, documented in docs/api.md):

    import pimsim
    result = pimsim.simulate("gddr6_aim", "gpt2-small", gen_len=4)
    result.report, result.ops, result.energy, result.timeline(), result.to_json()
    pimsim.load_hw("hbm_pim", ["dram.channels=32"]); pimsim.sweep("spec.yaml", "out/")
"""

__version__ = "0.1.0"

_API = ("Result", "load_hw", "simulate", "sweep")
__all__ = ["__version__", *_API]


def __getattr__(name: str):
    # the API loads on first use, so `import pimsim` (and the CLI's start) stays light
    if name in _API:
        from pimsim import api

        return getattr(api, name)
    raise AttributeError(f"module 'pimsim' has no attribute {name!r}")
