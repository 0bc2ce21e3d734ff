"""Adapt what TFX 1.21's KubeflowV2DagRunner writes into a PipelineSpec the open-source KFP 2.17 backend runs.

Each step below is a plain function on the spec as a dict (the JSON form, camelCase keys), returns what it changed,
and cites the upstream code (kubeflow/pipelines at tag 2.17.0) it satisfies. :func:`for_kfp2` applies them all;
it is idempotent, and works on TFX's schema-2.0.0 output as well as on its ``use_pipeline_spec_2_1`` output, so a
spec compiled either way (the kit's, or a student's in the grader) ends up in the same form.

What is deliberately *not* adapted: Resolver nodes. A Resolver (e.g. latest blessed model) decides which artifacts a
step sees; dropping it would change the pipeline's meaning, so it stays and labkit's backend rules name it
(the Argo compiler refuses it: compiler/argocompiler/dag.go ``task``, "resolver executors not implemented").

Standard library at import time; TFX only inside :func:`compile_for_kfp`, which runs in the TFX image.
"""

from __future__ import annotations

import copy
import json
import tempfile
from pathlib import Path
from typing import Any

# backend/src/apiserver/template/template.go SCHEMA_VERSION_2_1_0, the only one v2_template.go NewV2SpecTemplate takes.
SCHEMA_VERSION = "2.1.0"
TFX_EXECUTOR_MODULE = "tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor"
ENTRYPOINT_MODULE = "components.tfx_kfp.entrypoint"
PRE_CACHE_CHECK_FLAG = "--labkit_pre_cache_check"
INPUTS_SPEC_FLAG = "--json_serialized_inputs_spec_args"
INVOCATION_FLAG = "--json_serialized_invocation_args"
# pipeline_spec.proto PrimitiveType (deprecated) -> ParameterType.
PARAMETER_TYPES = {"INT": "NUMBER_INTEGER", "DOUBLE": "NUMBER_DOUBLE", "STRING": "STRING"}


def unwrap(written: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(PipelineSpec, runtimeConfig) from TFX's PipelineJob JSON, or (spec, {}) from a bare spec.

    The API server takes a bare PipelineSpec: template.go ``isPipelineSpec`` unmarshals each YAML document into
    PipelineSpec with protojson, which refuses the PipelineJob keys (``pipelineSpec``, ``runtimeConfig``, ...) as
    unknown fields, so a PipelineJob is an "unknown template format" (template.go ``New``).
    """
    if "pipelineSpec" in written:
        return copy.deepcopy(written["pipelineSpec"]), copy.deepcopy(written.get("runtimeConfig") or {})
    return copy.deepcopy(written), {}


def _tasks(spec: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every task of the root DAG and of every sub-DAG, as (where, task)."""
    found = [
        (f"root.{name}", task) for name, task in ((spec.get("root") or {}).get("dag") or {}).get("tasks", {}).items()
    ]
    for component_name, component in (spec.get("components") or {}).items():
        for name, task in ((component.get("dag") or {}).get("tasks") or {}).items():
            found.append((f"{component_name}.{name}", task))
    return found


def _parameter_specs(spec: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every input and output parameter definition of the root and of every component."""
    owners = [("root", spec.get("root") or {}), *list((spec.get("components") or {}).items())]
    found = []
    for owner, component in owners:
        for side in ("inputDefinitions", "outputDefinitions"):
            for name, parameter in ((component.get(side) or {}).get("parameters") or {}).items():
                found.append((f"{owner}.{side}.{name}", parameter))
    return found


def constant_from_value(value: dict[str, Any]) -> Any:
    """The deprecated ``ml_pipelines.Value`` (``{"intValue": "6"}``) as the google.protobuf.Value ``constant``
    holds it (``6``). int64 is a JSON string in proto JSON; the constant is a number."""
    if "intValue" in value:
        return int(value["intValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "stringValue" in value:
        return value["stringValue"]
    raise ValueError(f"not an ml_pipelines.Value: {value!r}")


def _convertible(value: Any) -> bool:
    """A deprecated Value this module knows how to convert (anything else is left for the rules to name)."""
    return (
        isinstance(value, dict) and len(value) == 1 and next(iter(value)) in ("intValue", "doubleValue", "stringValue")
    )


def parameter_types(spec: dict[str, Any]) -> list[str]:
    """``type: INT`` -> ``parameterType: NUMBER_INTEGER`` (and DOUBLE, STRING) in every parameter definition.

    The driver checks every input value against ``parameterType`` (driver/resolve.go ``resolveInputs``,
    handleParamTypeValidationAndConversion): with only the deprecated ``type``, parameterType is
    PARAMETER_TYPE_ENUM_UNSPECIFIED and a string value fails "type mismatch". The API server does the same for
    root inputs (apiserver/template/v2_template.go ``validatePipelineJobInputs``: "has unspecified type").
    """
    changed = []
    for where, parameter in _parameter_specs(spec):
        if parameter.get("type") in PARAMETER_TYPES:
            parameter.setdefault("parameterType", PARAMETER_TYPES[parameter.pop("type")])
            changed.append(where)
    return changed


def constants(spec: dict[str, Any]) -> list[str]:
    """``runtimeValue.constantValue`` -> ``runtimeValue.constant`` in every task input.

    driver/resolve.go ``resolveInputParameter`` resolves a runtimeValue only when it is
    ``ValueOrRuntimeParameter_Constant``; anything else fails "param runtime value spec of type ... not implemented".
    """
    changed = []
    for where, task in _tasks(spec):
        for name, parameter in ((task.get("inputs") or {}).get("parameters") or {}).items():
            runtime = parameter.get("runtimeValue") or {}
            if _convertible(runtime.get("constantValue")):
                runtime["constant"] = constant_from_value(runtime.pop("constantValue"))
                changed.append(f"{where}.{name}")
    return changed


def importer_uris(spec: dict[str, Any]) -> list[str]:
    """An Importer's ``artifactUri.constantValue`` -> ``artifactUri.constant``.

    component/importer_launcher.go ``ImportSpecToMLMDArtifact`` reads ``GetArtifactUri().GetConstant()`` or a
    runtime parameter, and fails "artifact uri not provided" otherwise.
    """
    changed = []
    for name, executor in ((spec.get("deploymentSpec") or {}).get("executors") or {}).items():
        uri = (executor.get("importer") or {}).get("artifactUri") or {}
        if _convertible(uri.get("constantValue")):
            uri["constant"] = constant_from_value(uri.pop("constantValue"))
            changed.append(name)
    return changed


def runtime_defaults(spec: dict[str, Any], runtime_config: dict[str, Any]) -> list[str]:
    """Root parameter values TFX puts in the PipelineJob's runtimeConfig -> the root's ``defaultValue``.

    The wrapper is not uploaded (see :func:`unwrap`); the Argo compiler takes root defaults from the spec
    (compiler/argocompiler/argo.go ``Compile``: ``param.GetDefaultValue()``), so they must move there.
    """
    values = dict(runtime_config.get("parameterValues") or {})
    for name, value in (runtime_config.get("parameters") or {}).items():  # deprecated ml_pipelines.Value map
        if _convertible(value):
            values.setdefault(name, constant_from_value(value))
    changed = []
    root_parameters = ((spec.get("root") or {}).get("inputDefinitions") or {}).get("parameters") or {}
    for name, value in values.items():
        if name in root_parameters and "defaultValue" not in root_parameters[name]:
            root_parameters[name]["defaultValue"] = value
            changed.append(name)
    return changed


def _component_of(spec: dict[str, Any], executor_label: str) -> dict[str, Any]:
    for component in (spec.get("components") or {}).values():
        if component.get("executorLabel") == executor_label:
            return component
    return {}


def _module_of(command: list[str]) -> str | None:
    """``X`` from ``python -m X`` (or python3)."""
    if len(command) == 3 and command[0] in ("python", "python3") and command[1] == "-m":
        return command[2]
    return None


def executors(spec: dict[str, Any], entrypoint: str = ENTRYPOINT_MODULE) -> list[str]:
    """Every TFX step runs the kit's entrypoint, with its pre-cache-check driver and its inputs spec as arguments.

    - command: ``python -m components.tfx_kfp.entrypoint`` instead of TFX's kubeflow_v2_run_executor, which it
      wraps: the launcher hands over remote URIs (``minio://``) while the files are at local paths
      (component/launcher_v2.go ``LocalPathForURI``, ``downloadArtifacts``, ``uploadOutputArtifacts``).
    - ``lifecycle.preCacheCheck`` (ExampleGen's span/fingerprint driver) becomes ``--labkit_pre_cache_check
      MODULE``, run by the entrypoint: nothing in the backend reads ``lifecycle`` (the Argo compiler and the driver
      build the pod from image, command, args, env and resources only: compiler/argocompiler/container.go,
      driver/driver.go ``initPodSpecPatch``), so the driver would never run.
    - ``--json_serialized_inputs_spec_args`` (the component's input definitions) when TFX did not add it: the
      2.17 driver fills only ``parameterValues`` (driver/resolve.go ``resolveInputs``), which TFX's
      entrypoint reads only with an inputs spec (kubeflow_v2_entrypoint_utils ``parse_execution_properties``);
      without one it reads the deprecated ``parameters`` and every execution property would be missing.
    """
    changed = []
    for label, executor in ((spec.get("deploymentSpec") or {}).get("executors") or {}).items():
        container = executor.get("container")
        if not container or _module_of(container.get("command") or []) != TFX_EXECUTOR_MODULE:
            continue
        args = list(container.get("args") or [])
        pre_cache_check = (container.pop("lifecycle", None) or {}).get("preCacheCheck")
        if pre_cache_check and PRE_CACHE_CHECK_FLAG not in args:
            module = _module_of(pre_cache_check.get("command") or [])
            if module is None:
                raise ValueError(f"executor {label!r}: preCacheCheck is not `python -m MODULE`: {pre_cache_check}")
            args = [PRE_CACHE_CHECK_FLAG, module, *args]
        if INPUTS_SPEC_FLAG not in args:  # where TFX's schema-2.1 mode puts it: after the invocation args
            inputs = _component_of(spec, label).get("inputDefinitions") or {}
            at = args.index(INVOCATION_FLAG) + 2 if INVOCATION_FLAG in args else len(args)
            args[at:at] = [INPUTS_SPEC_FLAG, json.dumps(inputs, indent=2, sort_keys=True)]
        container["command"] = ["python", "-m", entrypoint]
        container["args"] = args
        changed.append(label)
    return changed


def for_kfp2(written: dict[str, Any], entrypoint: str = ENTRYPOINT_MODULE) -> dict[str, Any]:
    """The PipelineSpec the KFP 2.17 backend accepts and runs, from TFX's PipelineJob JSON (or a bare spec).

    ``schemaVersion`` is set last: only after the conversions above is the spec really 2.1.0
    (apiserver/template/v2_template.go ``NewV2SpecTemplate``: "KFP only supports schema version 2.1.0").
    """
    spec, runtime_config = unwrap(written)
    parameter_types(spec)
    constants(spec)
    importer_uris(spec)
    runtime_defaults(spec, runtime_config)
    executors(spec, entrypoint)
    spec["schemaVersion"] = SCHEMA_VERSION
    return spec


def compile_for_kfp(pipeline: Any, image: str) -> dict[str, Any]:
    """Compile a TFX pipeline with KubeflowV2DagRunner in its schema-2.1 mode, then :func:`for_kfp2`.

    ``use_pipeline_spec_2_1`` makes TFX itself write schema 2.1.0, ``parameterType``, ``constant`` and the inputs
    spec argument; the adapter then does what TFX cannot know about the OSS backend (entrypoint, preCacheCheck,
    the wrapper). Runs where TFX is installed (the TFX image).
    """
    from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner

    with tempfile.TemporaryDirectory() as tmp:
        runner = kubeflow_v2_dag_runner.KubeflowV2DagRunner(
            config=kubeflow_v2_dag_runner.KubeflowV2DagRunnerConfig(default_image=image, use_pipeline_spec_2_1=True),
            output_dir=tmp,
            output_filename="pipeline.json",
        )
        runner.run(pipeline, write_out=True)
        written = json.loads((Path(tmp) / "pipeline.json").read_text())
    return for_kfp2(written)
