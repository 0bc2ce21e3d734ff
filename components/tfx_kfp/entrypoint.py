"""The command of every TFX step in the kit's KFP spec (compiled by components/tfx_kfp/spec.py):

    python -m components.tfx_kfp.entrypoint [--labkit_pre_cache_check MODULE] <TFX's KubeflowV2 executor args>

KFP 2.17's launcher runs it with ``{{$}}`` replaced by the executor input JSON (launcher_v2.go compileCmdAndArgs),
whose artifact URIs are remote (``minio://bucket/key``) while the files are at local paths (``/minio/bucket/key``).
This entrypoint:

1. maps every artifact URI to the local path the launcher downloads to / uploads from (executor_io.localize), drops
   the launcher's own ``executor-logs`` output and fills in input types the driver leaves empty;
2. creates the output folders, as TFX's own launcher does;
3. runs the step's pre-cache-check driver when the spec names one (ExampleGen's span/fingerprint driver, which
   KFP's backend never runs: it does not read ``lifecycle.preCacheCheck``), and carries its artifact metadata over;
4. runs TFX's own KubeflowV2 container entrypoint (``tfx.orchestration.kubeflow.v2.container.
   kubeflow_v2_run_executor``) with the mapped executor input, which writes the output metadata file at
   ``outputs.outputFile`` (the path the launcher reads, launcher_v2.go getExecutorOutputFile);
5. rewrites that file with remote URIs (executor_io.restore_output) and checks it parses strictly as the
   ExecutorOutput proto, as the launcher's protojson.Unmarshal does.

TFX runs as child processes with its own CLI, so this module imports only the standard library (and kfp's
pipeline_spec protos, inside a function, for the final check).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from components.tfx_kfp.executor_io import localize, merge_driver_output, output_dirs, restore_output

TFX_EXECUTOR_MODULE = "tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor"
PRE_CACHE_CHECK_FLAG = "--labkit_pre_cache_check"
INVOCATION_FLAG = "--json_serialized_invocation_args"
INPUTS_SPEC_FLAG = "--json_serialized_inputs_spec_args"


class EntrypointError(RuntimeError):
    """The command line or the files the launcher and TFX exchange are not what this entrypoint expects."""


def flag_value(argv: list[str], flag: str) -> str | None:
    """The value of ``flag`` given as ``--flag value`` or ``--flag=value``; None when absent."""
    for index, arg in enumerate(argv):
        if arg == flag:
            if index + 1 >= len(argv):
                raise EntrypointError(f"{flag} has no value")
            return argv[index + 1]
        if arg.startswith(flag + "="):
            return arg[len(flag) + 1 :]
    return None


def replace_flag(argv: list[str], flag: str, value: str | None) -> list[str]:
    """``argv`` with ``flag``'s value replaced (or the flag removed, when ``value`` is None)."""
    result: list[str] = []
    skip = False
    for index, arg in enumerate(argv):
        if skip:
            skip = False
            continue
        if arg == flag:
            skip = index + 1 < len(argv)
            if value is not None:
                result += [flag, value]
        elif arg.startswith(flag + "="):
            if value is not None:
                result += [flag, value]
        else:
            result.append(arg)
    return result


def _run(module: str, argv: list[str]) -> int:
    return subprocess.call([sys.executable, "-m", module, *argv])


def _read_json(path: str) -> dict[str, Any]:
    with open(path) as handle:
        return json.load(handle)


def check_executor_output(executor_output: dict[str, Any]) -> None:
    """Parse strictly into the ExecutorOutput proto, as launcher_v2.go getExecutorOutputFile does (protojson
    rejects unknown fields)."""
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2

    json_format.ParseDict(executor_output, pipeline_spec_pb2.ExecutorOutput(), ignore_unknown_fields=False)


def main(argv: list[str] | None = None, run_module: Any = _run) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    pre_cache_check = flag_value(argv, PRE_CACHE_CHECK_FLAG)
    tfx_argv = replace_flag(argv, PRE_CACHE_CHECK_FLAG, None)
    invocation = flag_value(tfx_argv, INVOCATION_FLAG)
    if invocation is None:
        raise EntrypointError(f"{INVOCATION_FLAG} is required (KFP puts the executor input there for '{{{{$}}}}')")
    inputs_spec_json = flag_value(tfx_argv, INPUTS_SPEC_FLAG)
    inputs_spec = json.loads(inputs_spec_json) if inputs_spec_json else None
    localized, remote = localize(json.loads(invocation), inputs_spec)
    output_file = (localized.get("outputs") or {}).get("outputFile")
    if not output_file:
        raise EntrypointError("the executor input has no outputs.outputFile")
    for local, uri in sorted(remote.items()):
        print(f"labkit tfx entrypoint: output {uri} -> {local}", file=sys.stderr)
    for folder in [*output_dirs(localized), os.path.dirname(output_file)]:
        os.makedirs(folder, exist_ok=True)

    if pre_cache_check:
        code = run_module(pre_cache_check, replace_flag(tfx_argv, INVOCATION_FLAG, json.dumps(localized)))
        if code != 0:
            return code
        if os.path.exists(output_file):
            merged = merge_driver_output(localized, _read_json(output_file))
            print(f"labkit tfx entrypoint: {pre_cache_check} set metadata of {merged}", file=sys.stderr)

    code = run_module(TFX_EXECUTOR_MODULE, replace_flag(tfx_argv, INVOCATION_FLAG, json.dumps(localized)))
    if code != 0:
        return code
    if not os.path.exists(output_file):
        raise EntrypointError(f"TFX's executor wrote no output metadata at {output_file}")
    restored = restore_output(_read_json(output_file), remote)
    check_executor_output(restored)
    with open(output_file, "w") as handle:
        json.dump(restored, handle, indent=2, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
