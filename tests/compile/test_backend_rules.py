"""Every compiled pipeline passes the KFP 2.17 backend's own checks, read from its source (labkit/backend_rules.py).

Goldens are parsed strictly into the PipelineSpec proto (no unknown field, as the API server's protojson does),
then the API server's upload checks (apiserver/template/v2_template.go, template.go) and the driver's, Argo
compiler's, launcher's and importer's rules are applied. Adversarial specs check that each rule names its
problem. The proto the kit parses with is checked against the backend's own (the mirror's pipeline_spec.proto).
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2
from typer.testing import CliRunner

from labkit import backend_rules
from labkit.backend_rules import BackendRejectError, file_problems, problems
from labkit.registry import PIPELINES

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
PROTO = "github.com/kubeflow/pipelines@2.17.0/api/v2alpha1/pipeline_spec.proto"


def golden(name: str) -> dict[str, Any]:
    return yaml.safe_load((GOLDEN / f"{name}.yaml").read_text())


def named(spec: Any) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for problem in problems(spec):
        found.setdefault(problem.rule, []).append(str(problem))
    return found


@pytest.mark.parametrize("name", sorted(PIPELINES))
def test_golden_parses_strictly_into_the_backends_pipeline_spec(name: str) -> None:
    message = json_format.ParseDict(golden(name), pipeline_spec_pb2.PipelineSpec(), ignore_unknown_fields=False)
    assert message.schema_version == "2.1.0"
    assert message.pipeline_info.name and message.root.dag.tasks


@pytest.mark.parametrize("name", sorted(PIPELINES))
def test_golden_passes_every_backend_rule(name: str) -> None:
    assert file_problems((GOLDEN / f"{name}.yaml").read_text()) == []


# ------------------------------------------------------------------------------------------ adversarial specs


def test_schema_version_2_0_0_is_named() -> None:
    spec = golden("training")
    spec["schemaVersion"] = "2.0.0"
    [message] = named(spec)["schema-version"]
    assert "'2.0.0'" in message and "2.1.0" in message and "v2_template.go NewV2SpecTemplate" in message


def test_a_constant_value_is_named_with_its_task() -> None:
    spec = golden("tfx-penguin")
    spec["root"]["dag"]["tasks"]["Trainer"]["inputs"]["parameters"]["module_file"]["runtimeValue"] = {
        "constantValue": {"stringValue": "/opt/labkit/pipelines/tfx_penguin/trainer.py"}
    }
    [message] = named(spec)["constant-only"]
    assert "root.dag.tasks.Trainer.inputs.parameters.module_file" in message
    assert "'constantValue'" in message and "resolve.go resolveInputParameter" in message


def test_a_constant_value_inside_a_sub_dag_is_named_too() -> None:
    spec = golden("continuous-training")
    component, task = next(
        (name, task)
        for name, component in spec["components"].items()
        for task in (component.get("dag") or {}).get("tasks", {}).values()
        if task.get("inputs", {}).get("parameters")
    )
    parameter = next(iter(task["inputs"]["parameters"]))
    task["inputs"]["parameters"][parameter] = {"runtimeValue": {"constantValue": {"intValue": "1"}}}
    assert any(f"components.{component}.dag.tasks." in m for m in named(spec)["constant-only"])


def test_a_resolver_executor_is_named() -> None:
    spec = golden("tfx-penguin")
    spec["deploymentSpec"]["executors"]["latest_blessed_model_resolver_executor"] = {
        "resolver": {"outputArtifactQueries": {"model": {"filter": 'schema_title="tfx.Model"'}}}
    }
    [message] = named(spec)["resolver"]
    assert "latest_blessed_model_resolver_executor" in message and "dag.go" in message


def test_an_unknown_field_is_named() -> None:
    spec = golden("sweep")
    spec["root"]["dag"]["tasks"]["pick-best"]["retryPolicyy"] = {"maxRetryCount": 2}
    [message] = named(spec)["unknown-field"]
    assert '"retryPolicyy"' in message and "unknown template format" in message and "isPipelineSpec" in message
    top = golden("training")
    top["pipelineRoot"] = "minio://mlpipeline/x"
    assert '"pipelineRoot"' in named(top)["unknown-field"][0]


def test_a_pipeline_job_wrapper_is_named() -> None:
    job = {"pipelineSpec": golden("training"), "runtimeConfig": {}, "displayName": "x"}
    found = named(job)
    assert set(found) == {"bare-spec"} and len(found["bare-spec"]) == 3


def test_deprecated_type_without_parameter_type_is_named() -> None:
    spec = golden("training")
    component = next(c for c in spec["components"].values() if c.get("inputDefinitions", {}).get("parameters"))
    name, parameter = next(iter(component["inputDefinitions"]["parameters"].items()))
    parameter.pop("parameterType")
    parameter["type"] = "STRING"
    [message] = named(spec)["parameter-type"]
    assert f"parameters.{name}" in message and "deprecated type: 'STRING'" in message


def test_importer_rules() -> None:
    spec = golden("tfx-penguin")
    executors = spec["deploymentSpec"]["executors"]
    executors["a_executor"] = {"importer": {"artifactUri": {"constantValue": {"stringValue": "minio://b/m"}}}}
    executors["b_executor"] = {
        "importer": {"artifactUri": {"constant": "/labkit/baseline"}, "typeSchema": {"schemaTitle": "tfx.Model"}}
    }
    executors["c_executor"] = {
        "importer": {"artifactUri": {"constant": "minio://b/m"}, "typeSchema": {"schemaUri": "gs://x"}}
    }
    found = named(spec)
    assert any("a_executor" in m and "'constantValue'" in m for m in found["importer-uri"])
    assert any("b_executor" in m and "'/labkit/baseline'" in m for m in found["importer-uri"])
    assert any("a_executor" in m and "no instanceSchema" in m for m in found["artifact-type"])
    assert any("c_executor" in m and "schemaUri is unsupported" in m for m in found["artifact-type"])


def test_a_lifecycle_hook_is_named_as_never_run() -> None:
    spec = golden("tfx-penguin")
    container = spec["deploymentSpec"]["executors"]["CsvExampleGen_executor"]["container"]
    container["lifecycle"] = {"preCacheCheck": {"command": ["python", "-m", "x"], "args": []}}
    assert "CsvExampleGen_executor.container.lifecycle" in named(spec)["lifecycle-ignored"][0]


def test_upload_checks_on_names_root_and_documents() -> None:
    spec = golden("training")
    spec["pipelineInfo"]["name"] = ""
    spec.pop("root")
    assert set(named(spec)) == {"pipeline-name", "root"}
    text = (GOLDEN / "training.yaml").read_text()
    assert [p.message for p in file_problems(text + "\n---\n" + text)] == ["multiple pipeline specs provided"]
    assert [p.message for p in file_problems("platforms: {}\n")] == ["no pipeline spec is provided"]
    platform = yaml.safe_dump({"platforms": {"kubernetes": {"deploymentSpec": {}}}, "bogus": 1})
    assert [p.rule for p in file_problems(text + "\n---\n" + platform)] == ["platform-spec"]
    assert file_problems(text + "\n---\n" + yaml.safe_dump({"platforms": {"kubernetes": {"deploymentSpec": {}}}})) == []


def test_problems_cite_the_upstream_code() -> None:
    spec = golden("tfx-penguin")
    spec["schemaVersion"] = "2.0.0"
    spec["root"]["dag"]["tasks"]["Pusher"]["inputs"]["parameters"]["custom_config"]["runtimeValue"] = {
        "runtimeParameter": "x"
    }
    for problem in problems(spec):
        assert re.search(r"\.go\b", problem.upstream), problem


# ------------------------------------------------------------------------------------------ the compile CLI


def test_compile_names_a_backend_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A student compiling sees the rule, not a bare failure: here kfp is made to write schema 2.0.0."""
    from kfp import compiler

    from labkit.cli import app

    real = compiler.Compiler.compile

    def old_schema(self: Any, pipeline_func: Any, package_path: str, **kwargs: Any) -> None:
        real(self, pipeline_func, package_path=package_path, **kwargs)
        spec = yaml.safe_load(Path(package_path).read_text())
        spec["schemaVersion"] = "2.0.0"
        Path(package_path).write_text(yaml.safe_dump(spec))

    monkeypatch.setattr(compiler.Compiler, "compile", old_schema)
    result = CliRunner().invoke(app, ["pipeline", "compile", "training", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "schema-version" in result.output and "2.1.0" in result.output
    assert (tmp_path / "training.yaml").is_file(), "the file stays, to read"
    with pytest.raises(BackendRejectError, match="schema-version"):
        from labkit.compiler import compile_pipeline

        compile_pipeline(PIPELINES["training"], tmp_path)


# ------------------------------------------------------------------------------------------ the proto version


def _proto_fields(text: str) -> dict[str, dict[str, int]]:
    """{message or enum path: {field or value name: number}} from a .proto, by a small brace-tracking reader."""
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.DOTALL)
    found: dict[str, dict[str, int]] = {}
    stack: list[tuple[str, str]] = []  # (kind, name)
    for statement in re.findall(r"[^{};]*[{};]", text):
        body = statement.strip()
        if body == "}":
            stack.pop()
            continue
        if body.endswith("{"):
            kind, _, name = body[:-1].strip().partition(" ")
            stack.append((kind, name.strip()))
            if kind in ("message", "enum"):
                found[".".join(n for k, n in stack if k in ("message", "enum"))] = {}
            continue
        if not stack or re.match(r"(reserved|option|syntax|package|import)\b", body):
            continue
        owner = ".".join(n for k, n in stack if k in ("message", "enum"))
        field = r"(?:map\s*<[^>]*>|[\w.]+(?:\s+[\w.]+)?)\s+(\w+)\s*=\s*(\d+)"  # [label] type name = N
        enum_value = r"(\w+)\s*=\s*(-?\d+)"
        if match := re.match(field, body) or re.match(enum_value, body):
            found[owner][match[1]] = int(match[2])
    return found


def _descriptor_fields() -> dict[str, dict[str, int]]:
    found: dict[str, dict[str, int]] = {}

    def walk(descriptor: Any, prefix: str) -> None:
        path = prefix + descriptor.name
        if hasattr(descriptor, "fields"):
            found[path] = {field.name: field.number for field in descriptor.fields}
            for nested in descriptor.nested_types:
                if not nested.GetOptions().map_entry:
                    walk(nested, path + ".")
            for enum in descriptor.enum_types:
                walk(enum, path + ".")
        else:
            found[path] = {value.name: value.number for value in descriptor.values}

    for message in pipeline_spec_pb2.DESCRIPTOR.message_types_by_name.values():
        walk(message, "")
    for enum in pipeline_spec_pb2.DESCRIPTOR.enum_types_by_name.values():
        walk(enum, "")
    return found


def test_the_installed_proto_is_the_one_the_2_17_backend_builds_with(mirror: Path) -> None:
    """The backend compiles against api/ of its own tree (go.mod replaces github.com/kubeflow/pipelines/api with
    ./api), so its proto is api/v2alpha1/pipeline_spec.proto at 2.17.0. kfp 2.17.3 installs kfp-pipeline-spec
    2.17.3: every message, field (name and number) and enum value must be the same, or a strict parse here would
    not be a parse against the backend's proto."""
    proto = mirror / PROTO
    if not proto.is_file():
        pytest.skip(f"the upstream mirror at {mirror} has no {PROTO}")
    upstream, installed = _proto_fields(proto.read_text()), _descriptor_fields()
    assert "PipelineSpec" in upstream and "PipelineSpec.RuntimeParameter" in upstream
    assert "ValueOrRuntimeParameter" in upstream and upstream["ValueOrRuntimeParameter"]["constant"] == 3
    assert upstream == installed


def test_the_proto_reader_sees_nested_messages_maps_oneofs_and_enums() -> None:
    found = _proto_fields(
        """
        message A {
          // a comment { with a brace
          reserved 2;
          optional string maybe = 5;
          map<string, B> bs = 1;
          message C { repeated int64 n = 1 [deprecated = true]; }
          oneof kind { string s = 3; google.protobuf.Value v = 4; }
          enum E { X = 0; Y = 1; }
        }
        """
    )
    assert found == {"A": {"bs": 1, "maybe": 5, "s": 3, "v": 4}, "A.C": {"n": 1}, "A.E": {"X": 0, "Y": 1}}


def test_rules_module_cites_only_files_of_the_backend() -> None:
    cited = set(re.findall(r"backend/src/[\w/]+\.go", Path(backend_rules.__file__).read_text()))
    assert cited, "the rules cite upstream files"
    mirror_root = backend_rules_mirror()
    if mirror_root is None:
        pytest.skip("no upstream mirror to check the citations against")
    for path in cited:
        assert (mirror_root / path).is_file(), path


def backend_rules_mirror() -> Path | None:
    from labkit.manifests import default_mirror

    found = default_mirror()
    root = found / "github.com/kubeflow/pipelines@2.17.0" if found else None
    return root if root is not None and (root / "backend").is_dir() else None


def test_compiled_goldens_have_not_been_edited_by_hand_into_passing() -> None:
    """A guard on the test itself: the rules do refuse the raw TFX output (tests/unit/fixtures)."""
    raw = yaml.safe_load(
        (Path(__file__).resolve().parents[1] / "unit" / "fixtures" / "tfx121-penguin-schema-2.0.0.yaml").read_text()
    )
    assert {"schema-version", "constant-only", "parameter-type"} <= set(named(copy.deepcopy(raw)))
