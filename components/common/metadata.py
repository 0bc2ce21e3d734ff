"""Artifact metadata the kit's components pass on."""

from __future__ import annotations

import json
from typing import Any

# Keys KFP's backend puts into every artifact's metadata when the launcher hands it to a consumer (driver
# `provisionOutputs`, launcher `uploadOutputArtifacts`): copied on, they would rename the copy to its source.
KFP_BOOKKEEPING = frozenset({"display_name", "store_session_info"})


def metric_values(metadata: dict[str, Any]) -> dict[str, Any]:
    """The metrics in a Metrics artifact's metadata, without the backend's own bookkeeping."""
    return {key: value for key, value in metadata.items() if key not in KFP_BOOKKEEPING}


def log_metrics(artifact: Any, values: dict[str, Any], notes: dict[str, str] | None = None) -> None:
    """Log ``values`` on a Metrics artifact (floats to 4 places, None left out), add ``notes`` (text, not metrics)
    to its metadata, and write the metadata to the artifact's file: on a cluster the metadata lives in ML
    Metadata, and the file is what the object store (and labkit) can read."""
    for key, value in values.items():
        if value is not None:
            artifact.log_metric(key, round(value, 4) if isinstance(value, float) else value)
    artifact.metadata.update(notes or {})
    with open(artifact.path, "w") as handle:
        json.dump(artifact.metadata, handle)
