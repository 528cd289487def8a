"""docs/hardware.md is the page tools/hw_schema_doc.py generates from the hardware schema's
field metadata, and every schema field carries a unit and a description."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from pimsim.config.schema import SECTIONS, UNITS

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

import hw_schema_doc  # noqa: E402


def test_page_equals_the_generated_text():
    assert (ROOT / "docs" / "hardware.md").read_text() == hw_schema_doc.render()


def test_check_flag():
    tool = str(ROOT / "tools" / "hw_schema_doc.py")
    done = subprocess.run([sys.executable, tool, "--check"], capture_output=True, check=False)
    assert done.returncode == 0, done.stdout.decode()[-2000:] + done.stderr.decode()[-2000:]


def test_check_flag_sees_a_stale_page(tmp_path, monkeypatch):
    monkeypatch.setattr(hw_schema_doc, "DOC", tmp_path / "hardware.md")
    assert hw_schema_doc.main(["--check"]) == 1
    assert hw_schema_doc.main([]) == 0
    assert hw_schema_doc.main(["--check"]) == 0


@pytest.mark.parametrize("section", SECTIONS, ids=lambda s: s.__name__)
def test_every_field_has_a_unit_and_a_description(section):
    for f in dataclasses.fields(section):
        assert f.metadata.get("unit") in UNITS, (section.__name__, f.name)
        assert str(f.metadata.get("description", "")).strip(), (section.__name__, f.name)
        assert f"| `{f.name}` |" in hw_schema_doc.section_table(section)


def test_every_schema_dataclass_is_a_section():
    from pimsim.config import schema

    classes = {
        obj
        for obj in vars(schema).values()
        if dataclasses.is_dataclass(obj) and obj.__module__ == schema.__name__
    }
    assert classes == set(SECTIONS)


def test_sections_are_frozen_and_hashable():
    from pimsim.config import load_hw

    hw = load_hw("gddr6_aim")
    for part in (hw.dram.organization, hw.dram.energy, hw.pim, hw.asic, *hw.dram.rules):
        hash(part)
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(part, dataclasses.fields(part)[0].name, None)
