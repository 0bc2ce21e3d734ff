"""The versioned registry's file logic (no TensorFlow: export is off here; the local tier exports for real)."""

from __future__ import annotations

import json
from pathlib import Path

from components.champion.logic import champion_dir, champion_version, list_versions, register


def fake_model(tmp_path: Path, tag: str) -> Path:
    folder = tmp_path / f"model-{tag}"
    folder.mkdir()
    (folder / "model.keras").write_text(tag)
    return folder


def test_versions_grow_and_only_promotion_moves_the_champion(tmp_path: Path) -> None:
    registry = tmp_path / "registry"
    assert champion_version(registry) is None and champion_dir(registry) is None and list_versions(registry) == []
    first = register(registry, fake_model(tmp_path, "a"), {"accuracy": 0.9}, promote=True, export=False)
    second = register(registry, fake_model(tmp_path, "b"), {"accuracy": 0.8}, promote=False, export=False)
    assert (first, second) == ("v0001", "v0002")
    assert champion_version(registry) == "v0001"
    assert (champion_dir(registry) / "model.keras").read_text() == "a"
    assert json.loads((registry / "penguins" / "v0002" / "metrics.json").read_text()) == {"accuracy": 0.8}
    events = [json.loads(line) for line in (registry / "penguins" / "events.jsonl").read_text().splitlines()]
    assert [(e["version"], e["promoted"]) for e in events] == [("v0001", True), ("v0002", False)]
    register(registry, fake_model(tmp_path, "c"), {}, promote=True, export=False)
    assert champion_version(registry) == "v0003"
    assert list_versions(registry) == ["v0001", "v0002", "v0003"]
    assert not [p for p in (registry / "penguins").iterdir() if p.name.startswith(".")]  # no staging left over


def test_models_are_kept_apart_by_name(tmp_path: Path) -> None:
    registry = tmp_path / "registry"
    register(registry, fake_model(tmp_path, "a"), {}, promote=True, name="penguins-dev", export=False)
    assert champion_version(registry) is None
    assert champion_version(registry, "penguins-dev") == "v0001"
