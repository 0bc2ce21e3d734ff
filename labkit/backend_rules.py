"""What the open-source KFP 2.17 backend refuses, or cannot run, in a compiled pipeline: one rule per upstream check.

Every rule names the code of kubeflow/pipelines at tag 2.17.0 it mirrors (the read-only mirror the project keeps
under ``../shared/upstream``; nothing is copied from it). ``labkit pipeline compile`` runs these on every pipeline
it writes, so a student sees the problem named before uploading; tests/compile runs them on every golden file.

The proto: the backend builds against the ``api`` module of its own tree (go.mod: ``replace
github.com/kubeflow/pipelines/api => ./api``), i.e. ``api/v2alpha1/pipeline_spec.proto`` at 2.17.0. The
kfp-pipeline-spec Python package the kit installs with kfp 2.17.3 is 2.17.3; tests/compile/test_backend_rules.py
checks that its PipelineSpec messages have exactly the fields (names and numbers) of that proto, so a strict
parse here is a parse against the backend's proto.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SCHEMA_VERSION = "2.1.0"
# apiserver/template/v2_template.go NewV2SpecTemplate: the name check, as written there (regexp.MatchString, which
# is unanchored: any name with one lower-case letter or digit passes).
PIPELINE_NAME_PATTERN = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
# objectstore/config.go ParseBucketPathToConfig: the schemes an imported URI may have (importer_launcher.go
# ImportSpecToMLMDArtifact -> ParseProviderFromPath), besides oci:// which it handles before.
IMPORT_SCHEMES = ("gs://", "s3://", "minio://", "mem://", "oci://")
JOB_KEYS = ("pipelineSpec", "runtimeConfig", "displayName", "labels")
SPEC_KEYS = ("pipelineInfo", "root", "deploymentSpec", "components", "pipelineSpec")

V2_TEMPLATE = "backend/src/apiserver/template/v2_template.go"
TEMPLATE = "backend/src/apiserver/template/template.go"
RESOLVE = "backend/src/v2/driver/resolve.go"
DAG = "backend/src/v2/compiler/argocompiler/dag.go"
IMPORTER = "backend/src/v2/component/importer_launcher.go"
LAUNCHER = "backend/src/v2/component/launcher_v2.go"


@dataclass(frozen=True)
class Problem:
    """One thing the backend refuses: the rule, where in the spec, what, and the upstream code that refuses it."""

    rule: str
    where: str
    message: str
    upstream: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.where}: {self.message} [{self.upstream}]"


class BackendRejectError(RuntimeError):
    """A compiled pipeline the KFP 2.17 backend would refuse or could not run; the message names every problem."""

    def __init__(self, package: Path, problems: list[Problem]) -> None:
        self.package = package
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"{package} would not run on the KFP 2.17 backend:\n{lines}")


def documents(text: str) -> list[Any]:
    """The YAML documents of a compiled file, as the API server reads them (v2_template.go NewV2SpecTemplate
    decodes every document; empty ones are skipped)."""
    return [document for document in yaml.safe_load_all(text) if document is not None]


def strict_parse(spec: dict[str, Any], message: str = "PipelineSpec") -> str | None:
    """None if ``spec`` parses into the proto ``message`` with no unknown field; else the parser's complaint.

    The API server uses protojson.Unmarshal, which refuses unknown fields (template.go ``isPipelineSpec``,
    v2_template.go ``NewV2SpecTemplate``); json_format.ParseDict with ignore_unknown_fields=False does the same.
    """
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2

    try:
        json_format.ParseDict(spec, getattr(pipeline_spec_pb2, message)(), ignore_unknown_fields=False)
    except (json_format.ParseError, TypeError, ValueError) as exc:
        return str(exc).split(" Available Fields", 1)[0]
    return None


def _p(rule: str, where: str, message: str, upstream: str) -> Problem:
    return Problem(rule, where, message, upstream)


def _tasks(spec: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = [
        (f"root.dag.tasks.{n}", t) for n, t in (((spec.get("root") or {}).get("dag") or {}).get("tasks") or {}).items()
    ]
    for component_name, component in (spec.get("components") or {}).items():
        for name, task in ((component.get("dag") or {}).get("tasks") or {}).items():
            found.append((f"components.{component_name}.dag.tasks.{name}", task))
    return found


def _components(spec: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [("root", spec.get("root") or {})] + [
        (f"components.{name}", component) for name, component in (spec.get("components") or {}).items()
    ]


def upload_problems(spec: Any) -> list[Problem]:
    """What the API server refuses at upload (apiserver/template: template.go ``New``, ``isPipelineSpec``;
    v2_template.go ``NewV2SpecTemplate``)."""
    if not isinstance(spec, dict):
        return [_p("pipeline-spec", "(document)", "not a mapping", f"{TEMPLATE} isPipelineSpec")]
    problems = [
        _p(
            "bare-spec",
            key,
            "a PipelineJob key: the backend takes a bare PipelineSpec (an unknown field makes it an "
            "'unknown template format')",
            f"{TEMPLATE} New, isPipelineSpec",
        )
        for key in JOB_KEYS
        if key in spec
    ]
    if problems:
        return problems
    if (complaint := strict_parse(spec)) is not None:
        problems.append(
            _p(
                "unknown-field",
                "(spec)",
                f"not a PipelineSpec of the backend's proto ({complaint}); the upload fails 'unknown template format'",
                f"{TEMPLATE} isPipelineSpec (protojson.Unmarshal)",
            )
        )
    version = spec.get("schemaVersion")
    if version != SCHEMA_VERSION:
        problems.append(
            _p(
                "schema-version",
                "schemaVersion",
                f"is {version!r}; KFP only supports schema version {SCHEMA_VERSION}",
                f"{V2_TEMPLATE} NewV2SpecTemplate",
            )
        )
    name = (spec.get("pipelineInfo") or {}).get("name") or ""
    if not name:
        problems.append(_p("pipeline-name", "pipelineInfo.name", "is empty", f"{V2_TEMPLATE} NewV2SpecTemplate"))
    elif not re.search(PIPELINE_NAME_PATTERN, name):
        problems.append(
            _p(
                "pipeline-name",
                "pipelineInfo.name",
                f"{name!r} has no lower-case alphanumeric run",
                f"{V2_TEMPLATE} NewV2SpecTemplate",
            )
        )
    if not spec.get("root"):
        problems.append(_p("root", "root", "root component is empty", f"{V2_TEMPLATE} NewV2SpecTemplate"))
    return problems


def parameter_problems(spec: dict[str, Any]) -> list[Problem]:
    """Task inputs the driver cannot resolve, and parameter definitions it cannot type-check."""
    problems = []
    for where, task in _tasks(spec):
        for name, parameter in ((task.get("inputs") or {}).get("parameters") or {}).items():
            runtime = parameter.get("runtimeValue")
            if runtime is not None and "constant" not in runtime:
                kind = next(iter(runtime), "nothing")
                problems.append(
                    _p(
                        "constant-only",
                        f"{where}.inputs.parameters.{name}.runtimeValue",
                        f"gives {kind!r}; the driver resolves only 'constant' ('not implemented' otherwise)",
                        f"{RESOLVE} resolveInputParameter",
                    )
                )
    for owner, component in _components(spec):
        for side in ("inputDefinitions", "outputDefinitions"):
            for name, parameter in ((component.get(side) or {}).get("parameters") or {}).items():
                declared = parameter.get("parameterType")
                if declared in (None, "PARAMETER_TYPE_ENUM_UNSPECIFIED", 0):
                    old = f" (only the deprecated type: {parameter['type']!r})" if "type" in parameter else ""
                    problems.append(
                        _p(
                            "parameter-type",
                            f"{owner}.{side}.parameters.{name}",
                            f"has no parameterType{old}; the driver type-checks every value against it",
                            f"{RESOLVE} resolveInputs; {V2_TEMPLATE} validatePipelineJobInputs",
                        )
                    )
    return problems


def _artifact_type_problem(where: str, artifact_type: dict[str, Any] | None) -> Problem | None:
    artifact_type = artifact_type or {}
    if artifact_type.get("instanceSchema") or artifact_type.get("schemaTitle"):
        return None
    why = "schemaUri is unsupported" if "schemaUri" in artifact_type else "no instanceSchema or schemaTitle"
    return _p("artifact-type", where, why, f"{LAUNCHER} getArtifactSchema")


def executor_problems(spec: dict[str, Any]) -> list[Problem]:
    """Executors and tasks the Argo compiler, the launcher or the importer cannot run."""
    problems = []
    for label, executor in ((spec.get("deploymentSpec") or {}).get("executors") or {}).items():
        where = f"deploymentSpec.executors.{label}"
        if "resolver" in executor:
            problems.append(
                _p(
                    "resolver",
                    where,
                    "is a Resolver node (e.g. latest blessed model): 'resolver executors not implemented'",
                    f"{DAG} task; argo.go Resolver",
                )
            )
        if "customJob" in executor:
            problems.append(_p("custom-job", where, "a customJob runs on Google Cloud only", f"{DAG} task"))
        if "container" in executor and "lifecycle" in executor["container"]:
            problems.append(
                _p(
                    "lifecycle-ignored",
                    f"{where}.container.lifecycle",
                    "is never run by the backend (TFX's preCacheCheck driver would be skipped)",
                    "backend/src/v2/driver/driver.go initPodSpecPatch; argocompiler/container.go",
                )
            )
        if "importer" in executor:
            importer = executor["importer"]
            uri = importer.get("artifactUri") or {}
            if "constant" in uri:
                value = uri["constant"]
                if not isinstance(value, str) or not value:
                    problems.append(
                        _p(
                            "importer-uri",
                            f"{where}.importer.artifactUri",
                            "empty constant",
                            f"{IMPORTER} ImportSpecToMLMDArtifact",
                        )
                    )
                elif not value.startswith(IMPORT_SCHEMES):
                    problems.append(
                        _p(
                            "importer-uri",
                            f"{where}.importer.artifactUri",
                            f"{value!r} has no object-store scheme ({', '.join(IMPORT_SCHEMES)})",
                            f"{IMPORTER} ImportSpecToMLMDArtifact; objectstore/config.go ParseBucketPathToConfig",
                        )
                    )
            elif not uri.get("runtimeParameter"):
                got = f" (gives {next(iter(uri))!r})" if uri else ""
                problems.append(
                    _p(
                        "importer-uri",
                        f"{where}.importer.artifactUri",
                        f"neither 'constant' nor 'runtimeParameter'{got}: 'artifact uri not provided'",
                        f"{IMPORTER} ImportSpecToMLMDArtifact",
                    )
                )
            if problem := _artifact_type_problem(f"{where}.importer.typeSchema", importer.get("typeSchema")):
                problems.append(problem)
    for owner, component in _components(spec):
        for name, artifact in (((component.get("outputDefinitions") or {}).get("artifacts")) or {}).items():
            where = f"{owner}.outputDefinitions.artifacts.{name}.artifactType"
            if problem := _artifact_type_problem(where, artifact.get("artifactType")):
                problems.append(problem)
    executors = (spec.get("deploymentSpec") or {}).get("executors") or {}
    components = spec.get("components") or {}
    for where, task in _tasks(spec):
        if "artifactIterator" in task:
            problems.append(_p("artifact-iterator", where, "'artifact iterator not implemented yet'", f"{DAG} dag"))
        label = (components.get((task.get("componentRef") or {}).get("name")) or {}).get("executorLabel")
        if label and "importer" in executors.get(label, {}) and (task.get("triggerPolicy") or {}).get("condition"):
            problems.append(
                _p("importer-condition", where, "triggerPolicy.condition on an importer task", f"{DAG} task")
            )
    return problems


def problems(spec: Any) -> list[Problem]:
    """Every rule, on one PipelineSpec given as a dict (the JSON/YAML form)."""
    found = upload_problems(spec)
    if any(problem.rule == "bare-spec" for problem in found) or not isinstance(spec, dict):
        return found
    return found + parameter_problems(spec) + executor_problems(spec)


def file_problems(text: str) -> list[Problem]:
    """Every rule on a compiled file: exactly one PipelineSpec document, optionally a platform spec.

    v2_template.go NewV2SpecTemplate: a document that parses as a PipelineSpec (with a name and a root) is the
    spec ("multiple pipeline specs provided" if two); one that parses as a PlatformSpec with a kubernetes platform
    is the platform spec; anything else is ignored; none is "no pipeline spec is provided".
    """
    try:
        docs = documents(text)
    except yaml.YAMLError as exc:
        return [_p("yaml", "(file)", f"unable to decode yaml document: {exc}", f"{V2_TEMPLATE} NewV2SpecTemplate")]
    specs = [d for d in docs if isinstance(d, dict) and any(key in d for key in SPEC_KEYS)]
    if not specs:
        return [_p("pipeline-spec", "(file)", "no pipeline spec is provided", f"{V2_TEMPLATE} NewV2SpecTemplate")]
    if len(specs) > 1:
        return [_p("pipeline-spec", "(file)", "multiple pipeline specs provided", f"{V2_TEMPLATE} NewV2SpecTemplate")]
    found = problems(specs[0])
    for index, document in enumerate(docs):
        if document is specs[0] or not isinstance(document, dict) or "platforms" not in document:
            continue
        if (complaint := strict_parse(document, "PlatformSpec")) is not None:
            found.append(
                _p(
                    "platform-spec",
                    f"(document {index + 1})",
                    complaint,
                    f"{V2_TEMPLATE} IsPlatformSpecWithKubernetesConfig",
                )
            )
    return found
