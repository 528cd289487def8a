"""`pimsim warmup` compiles every kernel a run needs; a cold numba cache is announced once."""

from __future__ import annotations

from types import SimpleNamespace

from pimsim.cli import main
from pimsim.dram import kernel


def test_warmup_runs_every_path(capsys):
    assert main(["warmup"]) == 0
    assert capsys.readouterr().out.startswith("pimsim warmup: kernels compiled and cached in ")


def _fake(index: dict):
    cache_file = SimpleNamespace(_load_index=lambda: index)
    return SimpleNamespace(_cache=SimpleNamespace(_cache_file=cache_file))


def test_a_cold_cache_is_announced_once(monkeypatch, capsys):
    monkeypatch.delenv("NUMBA_DISABLE_JIT", raising=False)
    monkeypatch.setattr(kernel, "_announced", [])
    monkeypatch.setattr(kernel, "_FIRST_COMPILED", _fake({}))  # no usable cache entry
    kernel.announce_compile()
    kernel.announce_compile()
    assert capsys.readouterr().err.count("compiling simulator kernels") == 1

    monkeypatch.setattr(kernel, "_announced", [])
    monkeypatch.setattr(kernel, "_FIRST_COMPILED", _fake({"sig": "entry"}))  # warm
    kernel.announce_compile()
    assert capsys.readouterr().err == ""
