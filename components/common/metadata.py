"""Artifact metadata the kit's components pass on."""

from __future__ import annotations

from typing import Any

# Keys KFP's backend puts into every artifact's metadata when the launcher hands it to a consumer (driver
# `provisionOutputs`, launcher `uploadOutputArtifacts`): copied on, they would rename the copy to its source.
KFP_BOOKKEEPING = frozenset({"display_name", "store_session_info"})


def metric_values(metadata: dict[str, Any]) -> dict[str, Any]:
    """The metrics in a Metrics artifact's metadata, without the backend's own bookkeeping."""
    return {key: value for key, value in metadata.items() if key not in KFP_BOOKKEEPING}
