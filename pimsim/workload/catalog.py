"""Finding models: names in `workloads/`, workload YAML paths, Hugging Face config.json paths."""

from __future__ import annotations

from pathlib import Path

from pimsim.core.errors import PimsimInputError
from pimsim.core.shipped import shipped_dir
from pimsim.workload.hf_config import load_hf_config
from pimsim.workload.params import count_parameters
from pimsim.workload.spec import ModelSpec
from pimsim.workload.yaml_model import load_workload_yaml

YAML_SUFFIXES = (".yaml", ".yml")


def workload_dirs() -> list[Path]:
    """`./workloads` (current directory) first, then the shipped `workloads/` (in the package,
    `pimsim/data/workloads/`, which a source checkout's top-level `workloads/` links to)."""
    candidates = [Path.cwd() / "workloads", shipped_dir("workloads")]
    out: list[Path] = []
    for d in candidates:
        if d.is_dir() and d.resolve() not in [o.resolve() for o in out]:
            out.append(d)
    return out


def available_models() -> dict[str, Path]:
    """Model name -> file: workload YAMLs by stem, then HF configs `hf/<name>/config.json` by
    directory name; the current directory's `workloads/` wins on a clash, a YAML over a HF
    config of the same name."""
    found: dict[str, Path] = {}
    for d in workload_dirs():
        for suffix in YAML_SUFFIXES:
            for path in sorted(d.glob(f"*{suffix}")):
                found.setdefault(path.stem, path)
    for d in workload_dirs():
        for path in sorted(d.glob("hf/*/config.json")):
            found.setdefault(path.parent.name, path)
    return dict(sorted(found.items()))


def _load_named(name: str, path: Path) -> ModelSpec:
    if path.suffix.lower() == ".json":
        return load_hf_config(path, name=name)
    return load_workload_yaml(path)


def load_model_file(path: str | Path) -> ModelSpec:
    """A workload YAML, a HF `config.json`, or a directory holding a `config.json`."""
    path = Path(path)
    if path.is_dir():
        if (path / "config.json").is_file():
            return load_hf_config(path / "config.json")
        raise PimsimInputError("directory has no config.json", file=path)
    if path.suffix.lower() in YAML_SUFFIXES:
        return load_workload_yaml(path)
    if path.suffix.lower() == ".json":
        return load_hf_config(path)
    raise PimsimInputError(
        "unknown model file type", file=path, expected="a .yaml workload or a HF config.json"
    )


def resolve_model(name_or_path: str | Path) -> ModelSpec:
    """`ModelSpec` from a model name in `workloads/` (e.g. "gpt2-xl"), a workload YAML path,
    or a Hugging Face `config.json` path (file or directory)."""
    text = str(name_or_path)
    path = Path(text).expanduser()
    if path.exists():
        return load_model_file(path)
    models = available_models()
    for key in (text, text.lower()):
        if key in models:
            return _load_named(key, models[key])
    looks_like_path = any(sep in text for sep in "/\\") or path.suffix.lower() in (
        *YAML_SUFFIXES,
        ".json",
    )
    if looks_like_path:
        raise PimsimInputError("file not found", file=text)
    from pimsim.core.names import did_you_mean

    raise PimsimInputError(
        f"unknown model '{text}'{did_you_mean(text, models)}",
        key="--model",
        expected=f"one of {sorted(models)}, a workload YAML or a HF config.json path",
    )


def _format_params(n: int) -> str:
    return f"{n / 1e9:.2f} B" if n >= 1e9 else f"{n / 1e6:.0f} M"


def model_table() -> list[tuple[str, str]]:
    """(name, one-line description with the parameter count) for every model in `workloads/`."""
    rows = []
    for name, path in available_models().items():
        spec = _load_named(name, path)
        attn = "MHA" if spec.kv_heads == spec.heads else f"GQA {spec.kv_heads} KV heads"
        ffn = f"{spec.ffn} FFN"
        if spec.experts:
            ffn = f"{spec.experts} {ffn} experts (top {spec.experts_per_token})"
        text = (
            f"{_format_params(count_parameters(spec))} params, {spec.layers} layers, "
            f"d_model {spec.d_model}, {spec.heads} heads ({attn}), {ffn}, "
            f"context {spec.max_context_tokens}"
        )
        if spec.description:
            text = f"{spec.description}: {text}"
        rows.append((name, text))
    return rows
