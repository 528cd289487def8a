"""pimsim.plots and `pimsim plot`: files, labels and series counts, bad input, determinism."""

from __future__ import annotations

import argparse
import json
import struct

import numpy as np
import pandas as pd
import pytest
from matplotlib.container import BarContainer

from pimsim.cli import main
from pimsim.cli import plot as plot_cmd
from pimsim.core.errors import PimsimInputError
from pimsim.plots import (
    load_results,
    plot_breakdown,
    plot_energy,
    plot_latency,
    plot_sweep,
    select_rows,
)
from pimsim.plots.common import figure_options
from pimsim.plots.labels import category_label

KINDS = ("vmm", "attn_score", "kv_write", "softmax", "embed")
COMPONENTS = ("pim_mac", "dram_activate", "refresh", "asic_static")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _metrics(scale: float, rng: np.random.Generator) -> dict:
    row = {
        "pim_latency_s_per_token": 1e-4 * scale,
        "pim_energy_j_per_token": 1.5e-3 * scale,
        "pim_row_hit_rate": 0.98,
        "gpu_name": "T4",
        "gpu_latency_s_per_token": 1.9e-3 * scale,
        "gpu_energy_j_per_token": 8e-2 * scale,
        "cpu_name": "Xeon-Gold-6154",
        "cpu_latency_s_per_token": 3.4e-3 * scale,
        "cpu_energy_j_per_token": 0.45 * scale,
    }
    for key in ("gpu", "cpu"):
        row[f"speedup_{key}"] = row[f"{key}_latency_s_per_token"] / row["pim_latency_s_per_token"]
        row[f"energy_efficiency_{key}"] = (
            row[f"{key}_energy_j_per_token"] / row["pim_energy_j_per_token"]
        )
    for kind in KINDS:
        row[f"latency_{kind}_s"] = float(rng.uniform(1e-6, 1e-4)) * scale
    row["latency_embed_s"] = 0.0  # zero for every model: left out of the stack
    for part in COMPONENTS:
        row[f"energy_{part}_j"] = float(rng.uniform(1e-4, 1e-3)) * scale
    return row


@pytest.fixture
def compare_rows() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    rows = []
    for i, model in enumerate(("gpt2-small", "gpt2-medium", "gpt2-xl")):
        head = {"model": model, "params": 10**8 * (i + 1), "hw": "gddr6_aim", "prompt_len": 1}
        head.update({"gen_len": 8, "mode": "overlap"})
        rows.append({**head, **_metrics(2.0**i, rng)})
    return pd.DataFrame(rows)


@pytest.fixture
def sweep_rows() -> pd.DataFrame:
    """dram.channels x asic.clock_GHz for two models; gpt2-xl does not fit on 1 channel."""
    rng = np.random.default_rng(2)
    rows = []
    point = 0
    for channels in (1, 2, 4, 8):
        for clock in (0.5, 1.0):
            for model, scale in (("gpt2-small", 1.0), ("gpt2-xl", 12.0)):
                row = {"point": point, "dram.channels": channels, "asic.clock_GHz": clock}
                row.update({"model": model, "hw": "gddr6_aim", "hw_sha256": f"{point:064x}"})
                row.update({"prompt_len": 1, "gen_len": 8, "mode": "overlap"})
                if model == "gpt2-xl" and channels == 1:
                    row["status"] = "error: does not fit"
                else:
                    row.update(_metrics(scale / channels / clock, rng))
                    row["status"] = "ok"
                rows.append(row)
            point += 1
    return pd.DataFrame(rows)


def _is_png(path) -> bool:
    return path.stat().st_size > 1000 and path.read_bytes()[:8] == PNG_MAGIC


def _bars(ax) -> list[BarContainer]:
    return [c for c in ax.containers if isinstance(c, BarContainer)]


@pytest.mark.parametrize("plot", [plot_energy, plot_latency])
def test_comparison_figures(tmp_path, compare_rows, plot):
    out = tmp_path / "fig.png"
    fig = plot(compare_rows, out)
    assert _is_png(out)
    top, bottom = fig.axes
    quantity = "energy" if plot is plot_energy else "latency"
    assert top.get_ylabel().startswith(f"{quantity} per token (")
    assert top.get_yscale() == "log"
    assert "speedup" in bottom.get_ylabel() or "efficiency" in bottom.get_ylabel()
    assert bottom.get_xlabel() == "model"
    assert len(_bars(top)) == 3  # PIM, GPU, CPU
    assert len(_bars(bottom)) == 2  # PIM vs GPU, PIM vs CPU
    assert all(len(c.patches) == len(compare_rows) for c in _bars(top) + _bars(bottom))
    assert [t.get_text() for t in bottom.get_xticklabels()] == list(compare_rows["model"])
    legend = [t.get_text() for t in top.get_legend().get_texts()]
    assert legend == ["PIM (gddr6_aim)", "GPU (T4)", "CPU (Xeon-Gold-6154)"]
    assert "gddr6_aim" in fig.get_suptitle() and "generate 8" in fig.get_suptitle()
    # bar heights are the table's values (top in the unit of the label)
    column = f"pim_{quantity}_j_per_token" if quantity == "energy" else "pim_latency_s_per_token"
    factor = {"m": 1e3, "µ": 1e6}[top.get_ylabel().split("(")[1][0]]
    heights = [p.get_height() for p in _bars(top)[0].patches]
    assert heights == pytest.approx(list(compare_rows[column] * factor))
    ratio = "energy_efficiency_gpu" if quantity == "energy" else "speedup_gpu"
    heights = [p.get_height() for p in _bars(bottom)[0].patches]
    assert heights == pytest.approx(list(compare_rows[ratio]))


def test_comparison_without_baselines(compare_rows):
    rows = compare_rows[["model", "hw", "pim_energy_j_per_token"]]
    fig = plot_energy(rows)
    top, bottom = fig.axes
    assert len(_bars(top)) == 1 and len(_bars(bottom)) == 0


@pytest.mark.parametrize("absolute", [False, True])
def test_breakdown_figure(tmp_path, compare_rows, absolute):
    out = tmp_path / "breakdown.png"
    fig = plot_breakdown(compare_rows, None if absolute else out, absolute=absolute)
    assert absolute or _is_png(out)
    top, bottom = fig.axes
    nonzero_kinds = [k for k in KINDS if compare_rows[f"latency_{k}_s"].sum() > 0]
    assert len(_bars(top)) == len(nonzero_kinds) == len(KINDS) - 1
    assert len(_bars(bottom)) == len(COMPONENTS)
    top_legend = {t.get_text() for t in top.get_legend().get_texts()}
    assert {category_label(k) for k in nonzero_kinds} <= top_legend
    assert category_label("embed") not in top_legend
    if absolute:
        assert top.get_ylabel().startswith("run time / generated tokens (")
        assert bottom.get_ylabel().startswith("energy per token (")
        # the energy stack adds up to the reported energy per token
        factor = {"m": 1e3, "µ": 1e6}[bottom.get_ylabel().split("(")[1][0]]
        totals = np.sum([[p.get_height() for p in c.patches] for c in _bars(bottom)], axis=0)
        assert totals == pytest.approx(compare_rows["pim_energy_j_per_token"] * factor)
    else:
        assert top.get_ylabel() == "share of the run's time (%)"
        assert bottom.get_ylabel() == "share of PIM energy (%)"
        totals = np.sum([[p.get_height() for p in c.patches] for c in _bars(top)], axis=0)
        assert totals == pytest.approx([100.0] * len(compare_rows))
    assert bottom.get_xlabel() == "model"


def test_sweep_lines(tmp_path, sweep_rows):
    out = tmp_path / "sweep.png"
    fig = plot_sweep(sweep_rows, out, "dram.channels")
    assert _is_png(out)
    (ax,) = fig.axes
    # asic.clock_GHz varies too: one line per (model, clock)
    ok = sweep_rows[sweep_rows["status"] == "ok"]
    groups = ok.groupby(["model", "asic.clock_GHz"]).ngroups
    assert len(ax.lines) == groups == 4
    assert ax.get_xlabel() == "DRAM channels"
    assert ax.get_ylabel().startswith("PIM latency per token (")
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "gpt2-xl, asic.clock_GHz=0.5" in labels
    # the error rows are left out: gpt2-xl starts at 2 channels
    xl = ax.lines[labels.index("gpt2-xl, asic.clock_GHz=0.5")]
    assert list(xl.get_xdata()) == [2, 4, 8]
    assert "over DRAM channels" in fig.get_suptitle()
    assert "not drawn: 2 rows with an error status (gpt2-xl)" in fig.get_suptitle()


def test_sweep_lines_one_value_of_the_other_axis(sweep_rows):
    rows = select_rows(sweep_rows, ["asic.clock_GHz=1"])
    fig = plot_sweep(rows, None, "dram.channels", metric="pim_energy_j_per_token")
    (ax,) = fig.axes
    assert len(ax.lines) == rows["model"].nunique() == 2
    assert ax.get_ylabel().startswith("PIM energy per token (")
    # axes named explicitly: a column not listed does not split the lines
    fig = plot_sweep(rows, None, "dram.channels", axes=["dram.channels"])
    assert len(fig.axes[0].lines) == 2


def test_sweep_heatmap(tmp_path, sweep_rows):
    out = tmp_path / "heat.png"
    fig = plot_sweep(sweep_rows, out, "dram.channels", y="asic.clock_GHz")
    assert _is_png(out)
    panels = [ax for ax in fig.axes if ax.images]
    models = list(sweep_rows["model"].unique())
    assert [ax.get_title() for ax in panels] == models  # one panel per model
    for ax in panels:
        assert ax.get_xlabel() == "DRAM channels"
        assert ax.get_ylabel() == "ASIC clock (GHz)"
        assert ax.images[0].get_array().shape == (2, 4)  # clocks x channels


def test_sweep_heatmap_needs_other_axes_fixed(sweep_rows):
    rows = pd.concat([sweep_rows, sweep_rows.assign(gen_len=16)], ignore_index=True)
    with pytest.raises(PimsimInputError, match="gen_len"):
        plot_sweep(rows, None, "dram.channels", y="asic.clock_GHz")


def test_same_rows_same_bytes(tmp_path, sweep_rows):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    plot_sweep(sweep_rows, a, "dram.channels")
    plot_sweep(sweep_rows.copy(), b, "dram.channels")
    assert a.read_bytes() == b.read_bytes()
    assert b"Software" not in a.read_bytes() and b"atplotlib" not in a.read_bytes()


def test_bad_input(compare_rows, sweep_rows):
    with pytest.raises(PimsimInputError, match="pim_energy_j_per_token"):
        plot_energy(compare_rows.drop(columns=["pim_energy_j_per_token"]))
    with pytest.raises(PimsimInputError, match="latency_<kind>_s"):
        plot_breakdown(compare_rows[["model", "pim_latency_s_per_token"]])
    with pytest.raises(PimsimInputError, match="did you mean 'pim_latency_s_per_token'"):
        plot_sweep(sweep_rows, None, "dram.channels", metric="pim_latency_per_token")
    with pytest.raises(PimsimInputError, match="dram.chanels"):
        plot_sweep(sweep_rows, None, "dram.chanels")
    with pytest.raises(PimsimInputError, match="rows for model"):
        plot_latency(sweep_rows)  # a sweep table has several rows per model
    with pytest.raises(PimsimInputError, match="not a number"):
        plot_latency(compare_rows.assign(pim_latency_s_per_token="fast"))
    with pytest.raises(PimsimInputError, match="no row has the value"):
        select_rows(sweep_rows, ["dram.channels=3"])


def test_small_parts_are_grouped_as_other(compare_rows):
    rows = compare_rows.copy()
    total = rows[[c for c in rows if c.startswith("latency_") and c.endswith("_s")]].sum(axis=1)
    rows["latency_softmax_s"] = total * 0.001  # two parts far below 1 % of every model's time
    rows["latency_add_s"] = total * 0.002
    fig = plot_breakdown(rows)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert category_label("other") in legend
    assert category_label("softmax") not in legend and category_label("add") not in legend
    (other,) = [c for c in _bars(fig.axes[0]) if c.get_label() == category_label("other")]
    heights = [p.get_height() for p in other.patches]
    expected = (rows["latency_softmax_s"] + rows["latency_add_s"]) / rows[
        [c for c in rows if c.startswith("latency_") and c.endswith("_s")]
    ].sum(axis=1)
    assert heights == pytest.approx(list(expected * 100))


def test_dpi_size_and_titles_are_options(tmp_path, compare_rows, capsys):
    csv = tmp_path / "compare.csv"
    compare_rows.to_csv(csv, index=False)
    out = tmp_path / "fig.png"
    args = ["plot", str(csv), "--kind", "energy", "-o", str(out)]
    assert main([*args, "--dpi", "300", "--figsize", "6x4", "--no-title"]) == 0
    width, height = struct.unpack(">II", out.read_bytes()[16:24])
    assert (width, height) == (1800, 1200)
    with figure_options(titles=False):
        fig = plot_energy(compare_rows)
    assert fig.get_suptitle() == "" and all(ax.get_title() == "" for ax in fig.axes)
    for bad in (["--dpi", "5"], ["--figsize", "3by2"], ["--figsize", "0x1"]):
        assert main([*args, *bad]) == 2
        assert "--" in capsys.readouterr().err


def _args(results, kind, out, **extra) -> argparse.Namespace:
    values = {"x": None, "y": None, "metric": None, "where": [], "absolute": False}
    values.update({"dpi": None, "figsize": None, "title": True})
    values.update(extra)
    return argparse.Namespace(results=str(results), kind=kind, out=str(out), **values)


def test_cli(tmp_path, compare_rows, sweep_rows, capsys, monkeypatch):
    compare_csv = tmp_path / "compare.csv"
    compare_rows.to_csv(compare_csv, index=False)
    sweep_dir = tmp_path / "sweep"
    sweep_dir.mkdir()
    sweep_rows.to_csv(sweep_dir / "results.csv", index=False)
    # the first recorded axis is the default x
    (sweep_dir / "sweep.json").write_text(json.dumps({"axes": ["asic.clock_GHz", "dram.channels"]}))

    out = tmp_path / "breakdown.svg"
    assert plot_cmd.run(_args(compare_csv, "breakdown", out, absolute=True)) == 0
    assert out.read_text().startswith("<?xml")
    # default x: the first axis in sweep.json; --where fixes the other one
    out = tmp_path / "sweep.png"
    assert plot_cmd.run(_args(sweep_dir, "sweep", out, where=["dram.channels=4"])) == 0
    assert _is_png(out)
    assert "wrote" in capsys.readouterr().out
    # one sweep point drawn as a per-model comparison (figure not written)
    monkeypatch.setattr("pimsim.plots.compare.save_figure", lambda fig, path: None)
    where = ["dram.channels=4", "asic.clock_GHz=1"]
    assert plot_cmd.run(_args(sweep_dir / "results.csv", "latency", out, where=where)) == 0


def test_cli_errors_name_the_file_and_column(tmp_path, compare_rows):
    compare_csv = tmp_path / "compare.csv"
    compare_rows.drop(columns=["pim_latency_s_per_token"]).to_csv(compare_csv, index=False)
    out = tmp_path / "x.png"
    with pytest.raises(PimsimInputError) as err:
        plot_cmd.run(_args(compare_csv, "latency", out))
    assert str(compare_csv) in str(err.value) and "pim_latency_s_per_token" in str(err.value)
    with pytest.raises(PimsimInputError, match="no such file"):
        plot_cmd.run(_args(tmp_path / "missing.csv", "energy", out))
    with pytest.raises(PimsimInputError, match="unknown kind 'pie'"):
        plot_cmd.run(_args(compare_csv, "pie", out))
    with pytest.raises(PimsimInputError, match="--x"):
        plot_cmd.run(_args(compare_csv, "energy", out, x="dram.channels"))
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(PimsimInputError, match="not a readable CSV"):
        load_results(tmp_path / "empty.csv")
    assert not out.exists()


def test_cli_exit_codes(tmp_path, compare_rows, monkeypatch, capsys):
    from pimsim import cli

    if "pimsim.cli.plot" not in cli.COMMAND_MODULES:
        monkeypatch.setattr(cli, "COMMAND_MODULES", (*cli.COMMAND_MODULES, "pimsim.cli.plot"))
    compare_csv = tmp_path / "compare.csv"
    compare_rows.to_csv(compare_csv, index=False)
    out = tmp_path / "e.png"
    assert cli.main(["plot", str(compare_csv), "--kind", "energy", "-o", str(out)]) == 0
    assert _is_png(out)
    assert cli.main(["plot", str(compare_csv), "--kind", "pie", "-o", str(out)]) == 2
    assert cli.main(["plot", str(tmp_path / "nope.csv"), "--kind", "energy", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "unknown kind" in err and "nope.csv: no such file" in err


def test_analysis_scripts(tmp_path, compare_rows, sweep_rows, monkeypatch):
    """The figure scripts in analysis/ draw from a CSV given on the command line."""
    import importlib
    import sys
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2] / "analysis"))
    compare_csv = tmp_path / "compare.csv"
    compare_rows.to_csv(compare_csv, index=False)
    sweep_rows.to_csv(tmp_path / "results.csv", index=False)
    for name, argv in (
        ("latency_comparison", [str(compare_csv)]),
        ("sweep_plot", [str(tmp_path / "results.csv"), "--x", "dram.channels"]),
    ):
        module = importlib.import_module(name)
        out = tmp_path / f"{name}.png"
        assert module.main([*argv, "-o", str(out)]) == 0
        assert _is_png(out)
        sys.modules.pop(name)
    module = importlib.import_module("breakdown")
    assert module.main([str(tmp_path / "missing.csv"), "-o", str(tmp_path / "b.png")]) == 2
    sys.modules.pop("breakdown")


def _batch_rows() -> pd.DataFrame:
    """Rows of a batch sweep: PIM flat (MAC-bound), the GPU linear in the batch until it
    passes PIM at batch 8; the last batch did not fit."""
    rows = []
    for b in (1, 2, 4, 8, 16):
        rows.append(
            {
                "model": "m",
                "hw": "gddr6_aim",
                "batch": b,
                "status": "ok" if b < 16 else "error: does not fit",
                "pim_latency_s_per_token": b / 1000.0,  # 1000 tokens/s at every batch
                "pim_energy_j_per_token": 0.05,
                "gpu_name": "H200-SXM",
                "gpu_latency_s_per_token": 1 / 200.0,  # 200 x b tokens/s
                "gpu_energy_j_per_token": 2.0 / b,
                "cpu_name": "Xeon-Gold-6154",
                "cpu_latency_s_per_token": 0.3,
                "cpu_energy_j_per_token": 40.0 / b,
            }
        )
    return pd.DataFrame(rows)


def test_batch_figure_marks_where_the_gpu_passes_pim(tmp_path):
    from pimsim.plots import plot_batch

    path = tmp_path / "batch.png"
    fig = plot_batch(_batch_rows(), path)
    assert _is_png(path)
    top, bottom = fig.axes
    pim, gpu, cpu = top.get_lines()[:3]
    assert list(pim.get_xdata()) == [1, 2, 4, 8]  # the row with an error is left out
    assert np.allclose(pim.get_ydata(), 1000.0) and np.allclose(
        gpu.get_ydata(), [200, 400, 800, 1600]
    )
    marks = [t.get_text() for t in top.texts]
    assert marks == [" GPU ahead from batch 8"]
    assert np.allclose(bottom.get_lines()[1].get_ydata(), [2000, 1000, 500, 250])  # mJ
    with pytest.raises(PimsimInputError, match="one model"):
        plot_batch(pd.concat([_batch_rows(), _batch_rows().assign(model="n")]))
    assert main(["plot", str(tmp_path / "none.csv"), "--kind", "batch", "-o", "x.png"]) == 2


def test_moe_figure_shows_latency_and_group_load_over_skew(tmp_path):
    from pimsim.plots import plot_moe
    from pimsim.plots.moe import skew_of

    rows = pd.DataFrame(
        [
            {
                "model": "m",
                "batch": 16,
                "status": "ok",
                "routing": routing,
                "expert_groups": groups,
                "pim_latency_s_per_token": (1 + skew_of(routing) * (groups > 1)) / 1000,
                "moe_busiest_group_rows": 32 if groups == 1 else 6 + 4 * skew_of(routing),
            }
            for groups in (8, 1)
            for routing in ("skew:2:1", "uniform", "skew:1")
        ]
    )
    path = tmp_path / "moe.png"
    fig = plot_moe(rows, path)
    assert _is_png(path)
    top, bottom = fig.axes
    spread, grouped = top.get_lines()[:2]  # (one line per placement, groups in order)
    assert list(grouped.get_xdata()) == [0.0, 1.0, 2.0]  # sorted by skew
    assert np.allclose(grouped.get_ydata(), [1, 2, 3]) and np.allclose(spread.get_ydata(), 1)
    assert np.allclose(bottom.get_lines()[1].get_ydata(), [6, 10, 14])
    with pytest.raises(PimsimInputError):
        skew_of("file:ids.npy")
