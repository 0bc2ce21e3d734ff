"""Plain functions on the ExecutorInput / ExecutorOutput JSON that KFP 2.17's launcher exchanges with a container.

The launcher (``backend/src/v2/component/launcher_v2.go``) substitutes the executor input, whose artifact URIs are
*remote* (``minio://bucket/key``), for ``{{$}}`` in the command (``compileCmdAndArgs``). Before the command starts it
downloads every input artifact to a local path (``downloadArtifacts``); after it ends it uploads every output
artifact from its local path (``uploadOutputArtifacts``); both paths come from ``retrieveArtifactPath`` /
``LocalPathForURI``. TFX opens ``artifact.uri`` itself with tf.io.gfile and Beam, which cannot open ``minio://``
(TF 2.21 has no S3 filesystem without tensorflow-io), so the entrypoint hands TFX the local paths and puts the remote
URIs back into the output metadata file the launcher reads (``getExecutorOutputFile``).

Standard library only: these run in the TFX image before TFX is imported, and on the host in unit tests.
"""

from __future__ import annotations

import copy
import os
from typing import Any

# launcher_v2.go LocalPathForURI: scheme -> local folder. The Argo compiler mounts an emptyDir at each folder
# (compiler/argocompiler/container.go: gcsScratchLocation, s3ScratchLocation, minioScratchLocation).
SCHEME_FOLDERS = (("gs://", "/gcs/"), ("minio://", "/minio/"), ("s3://", "/s3/"))
# component/constants.go WorkspaceMountPath
WORKSPACE_MOUNT = "/kfp-workspace"
# driver/driver.go provisionOutputs adds this output artifact when the API server's PUBLISH_LOGS is "true" (the
# upstream default, manifests/kustomize/base/pipeline/ml-pipeline-apiserver-deployment.yaml); the launcher writes
# it itself (launcher_v2.go getLogWriter). Its type, system.Artifact, is no TFX type: TFX's parser would fail on it.
LAUNCHER_LOGS_OUTPUT = "executor-logs"
# TFX value artifacts are files, not folders (tfx.orchestration.portable.outputs_utils.make_output_dirs).
VALUE_ARTIFACT_TITLES = frozenset(
    {"tfx.String", "tfx.Integer", "tfx.Float", "tfx.Boolean", "tfx.Bytes", "tfx.JsonValue"}
)


def local_path_for_uri(uri: str) -> str | None:
    """launcher_v2.go ``LocalPathForURI``: ``gs://b/k`` -> ``/gcs/b/k``, ``minio://b/k`` -> ``/minio/b/k``,
    ``s3://b/k`` -> ``/s3/b/k``, ``oci://r/m:t`` -> ``/oci/r_m:t/models``; None where the launcher errors
    ("unsupported storage scheme")."""
    for scheme, folder in SCHEME_FOLDERS:
        if uri.startswith(scheme):
            return folder + uri[len(scheme) :]
    if uri.startswith("oci://"):
        return "/oci/" + uri[len("oci://") :].replace("/", "_") + "/models"
    return None


def uri_for_local_path(path: str) -> str | None:
    """The inverse of :func:`local_path_for_uri` for the object-store folders (oci's mapping loses its slashes)."""
    for scheme, folder in SCHEME_FOLDERS:
        if path.startswith(folder):
            return scheme + path[len(folder) :]
    return None


def _custom_path(artifact: dict[str, Any]) -> str | None:
    return artifact.get("customPath", artifact.get("custom_path"))


def artifact_local_path(artifact: dict[str, Any]) -> str | None:
    """launcher_v2.go ``retrieveArtifactPath``: the artifact's ``customPath`` when set, else LocalPathForURI."""
    custom = _custom_path(artifact)
    if custom is not None:
        return custom
    return local_path_for_uri(artifact.get("uri", ""))


def input_local_path(artifact: dict[str, Any]) -> str | None:
    """Where the launcher leaves an input artifact. One flagged ``_kfp_workspace`` in its metadata is already in the
    workspace (``downloadArtifacts`` skips it) at ``LocalWorkspacePathForURI``; the rest at retrieveArtifactPath
    (launcher_v2.go ``getPlaceholders`` checks the flag first, as here)."""
    if (artifact.get("metadata") or {}).get("_kfp_workspace") is True:
        uri = artifact.get("uri", "")
        local = local_path_for_uri(uri)
        if local is None or uri.startswith("oci://"):
            return None
        return os.path.join(WORKSPACE_MOUNT, ".artifacts", local.lstrip("/"))
    return artifact_local_path(artifact)


def type_title(artifact_type: dict[str, Any] | None) -> str | None:
    """An ArtifactTypeSchema's title: ``schemaTitle``, or the ``title:`` line of an ``instanceSchema``."""
    artifact_type = artifact_type or {}
    if artifact_type.get("schemaTitle"):
        return artifact_type["schemaTitle"]
    for line in str(artifact_type.get("instanceSchema") or "").splitlines():
        if line.startswith("title:"):
            return line.removeprefix("title:").strip() or None
    return None


def _artifact_lists(executor_input: dict[str, Any], side: str) -> dict[str, Any]:
    return (executor_input.get(side) or {}).get("artifacts") or {}


def fill_input_types(executor_input: dict[str, Any], inputs_spec: dict[str, Any] | None) -> list[str]:
    """Give every input artifact without a type title the type its component declares; the names fixed.

    The driver builds input artifacts from MLMD with ``OutputArtifact.ToRuntimeArtifact``, whose schema
    ``GetOutputArtifactsByExecutionId`` leaves empty (``Schema: ""``, backend/src/v2/metadata/client.go, outside
    the mirror), so TFX gets ``type: {instanceSchema: ""}`` and its parser (kubeflow_v2_entrypoint_utils
    ``_retrieve_class_path``) cannot tell a tfx.Examples from a tfx.Model. The component's own input definitions
    (``--json_serialized_inputs_spec_args``) name the type.
    """
    declared = (inputs_spec or {}).get("artifacts") or {}
    fixed = []
    for name, artifact_list in _artifact_lists(executor_input, "inputs").items():
        artifact_type = (declared.get(name) or {}).get("artifactType")
        if not artifact_type:
            continue
        for artifact in artifact_list.get("artifacts") or []:
            if type_title(artifact.get("type")) is None:
                artifact["type"] = copy.deepcopy(artifact_type)
                fixed.append(name)
    return fixed


def localize(
    executor_input: dict[str, Any], inputs_spec: dict[str, Any] | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """The executor input TFX should see, and ``{local path: remote URI}`` of its outputs.

    A copy where each artifact's ``uri`` is the local path the launcher downloaded it to (inputs) or uploads it
    from (outputs), the launcher's own log output is gone and input types are filled in (see above). URIs the
    launcher has no local path for stay as they are, as the launcher leaves them.
    """
    result = copy.deepcopy(executor_input)
    _artifact_lists(result, "outputs").pop(LAUNCHER_LOGS_OUTPUT, None)
    fill_input_types(result, inputs_spec)
    for artifact_list in _artifact_lists(result, "inputs").values():
        for artifact in artifact_list.get("artifacts") or []:
            if (local := input_local_path(artifact)) is not None:
                artifact["uri"] = local
    remote: dict[str, str] = {}
    for artifact_list in _artifact_lists(result, "outputs").values():
        for artifact in artifact_list.get("artifacts") or []:
            if (local := artifact_local_path(artifact)) is not None:
                remote[local] = artifact.get("uri", "")
                artifact["uri"] = local
    return result, remote


def output_dirs(localized_input: dict[str, Any]) -> list[str]:
    """Folders to create before TFX runs, as TFX's own launcher does (outputs_utils.make_output_dirs): the
    artifact's folder, or its parent for value artifacts, which are files. KFP's launcher makes only the parent
    (launcher_v2.go ``prepareOutputFolders``), and some TFX executors write into the folder without creating it."""
    folders = []
    for artifact_list in _artifact_lists(localized_input, "outputs").values():
        for artifact in artifact_list.get("artifacts") or []:
            uri = artifact.get("uri", "")
            if not uri.startswith("/"):
                continue
            is_value = type_title(artifact.get("type")) in VALUE_ARTIFACT_TITLES
            folders.append(os.path.dirname(uri) if is_value else uri)
    return folders


def merge_driver_output(localized_input: dict[str, Any], driver_output: dict[str, Any]) -> list[str]:
    """Copy the artifact metadata a pre-cache-check driver wrote (ExampleGen's span, version, fingerprint) onto
    the output artifacts the executor will fill; the names merged. The executor itself reads the driver's
    parameter values from the same file (kubeflow_v2_run_executor ``_run_executor``), but not its artifacts."""
    merged = []
    outputs = _artifact_lists(localized_input, "outputs")
    for name, artifact_list in (driver_output.get("artifacts") or {}).items():
        written = (artifact_list.get("artifacts") or [{}])[0].get("metadata") or {}
        targets = (outputs.get(name) or {}).get("artifacts") or []
        if written and targets:
            targets[0].setdefault("metadata", {}).update(written)
            merged.append(name)
    return merged


def restore_output(executor_output: dict[str, Any], remote: dict[str, str]) -> dict[str, Any]:
    """The executor output as the launcher must read it.

    launcher_v2.go ``uploadOutputArtifacts`` merges each output artifact's ``uri`` from this file over its own
    (``mergeRuntimeArtifacts``) and then uploads from retrieveArtifactPath of that URI: a local path there has no
    recognized scheme, so the launcher would skip the upload and record a local path in MLMD. Every URI goes back to
    the remote one it was mapped from (or, failing that, the inverse of LocalPathForURI). Metadata entries that are
    JSON null are dropped: the launcher turns metadata into MLMD custom properties, and its converter
    (backend/src/v2/metadata, outside the mirror) has no case for null.
    """
    result = copy.deepcopy(executor_output)
    for artifact_list in (result.get("artifacts") or {}).values():
        for artifact in artifact_list.get("artifacts") or []:
            uri = artifact.get("uri")
            if uri in remote:
                artifact["uri"] = remote[uri]
            elif uri and (back := uri_for_local_path(uri)) is not None:
                artifact["uri"] = back
            if isinstance(artifact.get("metadata"), dict):
                artifact["metadata"] = {k: v for k, v in artifact["metadata"].items() if v is not None}
    return result
