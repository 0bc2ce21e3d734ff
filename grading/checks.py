"""What each rubric ``kind`` means. A check returns the fraction earned (0..1) and a detail for the feedback.

Static kinds read only the parsed IR; metric kinds read only the grader's own evaluation on held-out rows.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from grading.ir import PipelineIR, Task


@dataclass
class RunOutcome:
    """One named run of a multi-run rubric (see grading.datasets): what ran, and whether it finished."""

    tasks: set[str] = field(default_factory=set)  # the roles of the tasks that finished (see grader._tasks_ran)
    ok: bool = False
    error: str = ""


@dataclass
class Context:
    ir: PipelineIR | None = None
    ran: bool = False
    tasks_ran: set[str] = field(default_factory=set)  # the roles of the tasks that finished, in any run
    evaluation: dict[str, Any] | None = None
    runs: dict[str, RunOutcome] = field(default_factory=dict)  # named runs, when the rubric has them
    seeded_champion: str = ""  # the version of the champion the grader registered before the runs
    evidence: dict[str, dict[str, str]] = field(default_factory=dict)  # run -> task -> status, signed by the worker


Outcome = tuple[float, str]
CheckFunction = Callable[[Context, dict[str, Any]], Outcome]
KINDS: dict[str, CheckFunction] = {}


def kind(name: str) -> Callable[[CheckFunction], CheckFunction]:
    def register(function: CheckFunction) -> CheckFunction:
        KINDS[name] = function
        return function

    return register


def _each(ir: PipelineIR, component: str) -> list[Task]:
    """Every task that runs ``component``: a check on a kind holds for each of them, not just the first."""
    tasks = ir.by_component(component)
    if not tasks:
        raise LookupError(f"falta el paso {component}")
    return tasks


def _ratio(good: int, total: int, missing: list[str], what: str) -> Outcome:
    if not missing:
        return 1.0, ""
    joined = ", ".join(missing)
    return (good / total if total else 0.0), f"{what}: {joined}" if what else joined


def _named(task: Task, tasks: list[Task]) -> str:
    """How feedback names one of several tasks of a kind."""
    return f"{task.component} ({task.name})" if len(tasks) > 1 else task.component


@kind("steps_present")
def steps_present(ctx: Context, params: dict[str, Any]) -> Outcome:
    assert ctx.ir
    wanted = list(params["components"])
    missing = [name for name in wanted if not ctx.ir.by_component(name)]
    return _ratio(len(wanted) - len(missing), len(wanted), missing, "faltan los pasos")


@kind("runs_after")
def runs_after(ctx: Context, params: dict[str, Any]) -> Outcome:
    """Every ``task`` waits for an ``after`` (directly or transitively), by data or by ``.after()``."""
    assert ctx.ir
    tasks, before = _each(ctx.ir, params["task"]), {t.name for t in _each(ctx.ir, params["after"])}
    early = [_named(task, tasks) for task in tasks if not before & ctx.ir.ancestors(task)]
    return _ratio(len(tasks) - len(early), len(tasks), early, f"no esperan a {params['after']}")


@kind("input_from")
def input_from(ctx: Context, params: dict[str, Any]) -> Outcome:
    """Each listed input of every ``task`` is the named output of the named producer component; with
    ``producer_parameters: {input: {producer input: pipeline parameter}}``, that producer also reads those
    pipeline parameters (e.g. split's dataset comes from the ingest of ``batch``, not of ``reference``)."""
    assert ctx.ir
    tasks = _each(ctx.ir, params["task"])
    wrong = []
    for task in tasks:
        for input_name, wanted in params["inputs"].items():
            producer_component, output = wanted.split(".")
            actual = task.artifact_inputs.get(input_name)
            producer = ctx.ir.tasks.get(actual[0]) if actual else None
            if not (producer and producer.component == producer_component and actual and actual[1] == output):
                got = f"{producer.component}.{actual[1]}" if producer and actual else "nada"
                wrong.append(f"{input_name} de {_named(task, tasks)} recibe {got} (se espera {wanted})")
            elif unwired := _unwired(producer, params.get("producer_parameters", {}).get(input_name, {})):
                wrong.append(f"{input_name} de {_named(task, tasks)} viene de un {producer_component} que {unwired}")
    total = len(tasks) * len(params["inputs"])
    return _ratio(total - len(wrong), total, wrong, params["task"])


def _unwired(task: Task, wanted: dict[str, str]) -> str:
    """What of ``wanted`` (input -> pipeline parameter) ``task`` does not read, or ""."""
    missing = [
        f"no lee {parameter} en {input_name}"
        for input_name, parameter in wanted.items()
        if task.parameter_inputs.get(input_name, {}).get("componentInputParameter") != parameter
    ]
    return ", ".join(missing)


@kind("parameter_wired")
def parameter_wired(ctx: Context, params: dict[str, Any]) -> Outcome:
    """Each listed input of every ``task`` comes from the pipeline parameter of the given name."""
    assert ctx.ir
    tasks = _each(ctx.ir, params["task"])
    wrong = [
        f"{input_name} de {_named(task, tasks)} (debería venir del parámetro {parameter})"
        for task in tasks
        for input_name, parameter in params["inputs"].items()
        if task.parameter_inputs.get(input_name, {}).get("componentInputParameter") != parameter
    ]
    total = len(tasks) * len(params["inputs"])
    return _ratio(total - len(wrong), total, wrong, "no reciben")


_TYPES = {"int": "NUMBER_INTEGER", "float": "NUMBER_DOUBLE", "str": "STRING", "bool": "BOOLEAN"}


@kind("parameters")
def parameters(ctx: Context, params: dict[str, Any]) -> Outcome:
    """The pipeline declares each parameter with the given type and a default value."""
    assert ctx.ir
    wanted: dict[str, str] = params["required"]
    problems = []
    for name, type_name in wanted.items():
        declared = ctx.ir.parameters.get(name)
        if declared is None:
            problems.append(f"{name} no existe")
        elif declared.get("parameterType") != _TYPES[type_name]:
            problems.append(f"{name} no es {type_name}")
        elif "defaultValue" not in declared:
            problems.append(f"{name} no tiene valor por defecto")
    return _ratio(len(wanted) - len(problems), len(wanted), problems, "parámetros")


@kind("gated_by")
def gated_by(ctx: Context, params: dict[str, Any]) -> Outcome:
    """Every ``task`` runs only inside a dsl.If whose condition reads an output of ``producer``.

    The shape only: whether the condition gates on quality is for a behavioural check (``task_skipped`` in a
    run whose bound cannot be reached)."""
    assert ctx.ir
    tasks = _each(ctx.ir, params["task"])
    ungated = [_named(task, tasks) for task in tasks if not _inside_gate(ctx.ir, task, params["producer"])]
    what = f"no están dentro de un dsl.If sobre la salida de {params['producer']}"
    return _ratio(len(tasks) - len(ungated), len(tasks), ungated, what)


def _inside_gate(ir: PipelineIR, task: Task, producer: str) -> bool:
    parent = ir.tasks.get(task.parent) if task.parent else None
    while parent is not None:
        producers = {
            source.get("taskOutputParameter", {}).get("producerTask")
            for source in parent.parameter_inputs.values()
            if isinstance(source, dict)
        }
        if parent.condition and producer in {ir.tasks[p].component for p in producers if p in ir.tasks}:
            return True
        parent = ir.tasks.get(parent.parent) if parent.parent else None
    return False


def _constant(task: Task, name: str) -> Any:
    """A task input given as a constant in the IR: ``constant`` (kfp, and TFX compiled for KFP 2.17 by
    components/tfx_kfp/spec.py) or TFX's default typed ``constantValue``. TFX writes lists, dicts and protos as JSON
    text in either, so a string constant is read as JSON when it is JSON (only session 6 checks constants)."""
    source = task.parameter_inputs.get(name)
    runtime = source.get("runtimeValue", {}) if isinstance(source, dict) else {}
    if "constant" in runtime:
        value = runtime["constant"]
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value
    raw = runtime.get("constantValue", {})
    if "stringValue" in raw:
        try:  # TFX writes lists, dicts and protos as JSON text
            return json.loads(raw["stringValue"])
        except ValueError:
            return raw["stringValue"]
    if "intValue" in raw:
        return int(raw["intValue"])
    if "doubleValue" in raw:
        return float(raw["doubleValue"])
    raise LookupError(f"{task.component} no recibe {name} como constante")


def _at_path(value: Any, keys: list[str]) -> list[Any]:
    """Every value at the dotted path, looking through lists at each level (protos as JSON nest lists)."""
    if isinstance(value, list):
        return [found for item in value for found in _at_path(item, keys)]
    if not keys:
        return [value]
    if isinstance(value, dict) and keys[0] in value:
        return _at_path(value[keys[0]], keys[1:])
    return []


@kind("constant_parameter")
def constant_parameter(ctx: Context, params: dict[str, Any]) -> Outcome:
    """A constant input of every ``task`` (optionally the values at a dotted ``path`` inside it) ``equals`` a
    value or is at least ``min``. E.g. SchemaGen's ``exclude_splits``."""
    assert ctx.ir
    tasks = _each(ctx.ir, params["task"])
    wrong = [problem for task in tasks if (problem := _constant_problem(task, params, _named(task, tasks)))]
    return _ratio(len(tasks) - len(wrong), len(tasks), wrong, "")


def _constant_problem(task: Task, params: dict[str, Any], name: str) -> str | None:
    try:
        value = _constant(task, params["input"])
    except LookupError as exc:
        return str(exc)
    where = f"{name}.{params['input']}"
    values = _at_path(value, params["path"].split(".")) if "path" in params else [value]
    if not values:
        return f"{where} no define {params['path']}"
    if "equals" in params and params["equals"] not in values:
        return f"{where} = {json.dumps(values[0])[:80]} (se espera {json.dumps(params['equals'])})"
    if "min" in params and not any(isinstance(v, int | float) and v >= params["min"] for v in values):
        return f"{where}: {json.dumps(values)[:80]} (se espera al menos {params['min']})"
    return None


@kind("quality_bound")
def quality_bound(ctx: Context, params: dict[str, Any]) -> Outcome:
    """Every ``task``'s TFMA ``input`` (an eval_config) bounds one of the quality ``metrics`` from below by at
    least ``min``. A bound on another metric (say ExampleCount), an upper bound where a lower one belongs, or a
    bound every model reaches (0.0) lets any model through, so none of them counts."""
    assert ctx.ir
    tasks = _each(ctx.ir, params["task"])
    wrong = []
    for task in tasks:
        try:
            config = _constant(task, params["input"])
        except LookupError as exc:
            wrong.append(str(exc))
            continue
        bounds = [
            bound
            for metric in _at_path(config, ["metrics_specs", "metrics"])
            if isinstance(metric, dict) and metric.get("class_name") in params["metrics"]
            for bound in _at_path(metric, ["threshold", "value_threshold", "lower_bound"])
        ]
        if not any(isinstance(b, int | float) and not isinstance(b, bool) and b >= params["min"] for b in bounds):
            found = f"cotas inferiores {json.dumps(bounds)[:60]}" if bounds else "ninguna cota inferior"
            wrong.append(f"{_named(task, tasks)}: {found} sobre {'/'.join(params['metrics'])} (mínimo {params['min']})")
    return _ratio(len(tasks) - len(wrong), len(tasks), wrong, "")


@kind("backend_accepts")
def backend_accepts(ctx: Context, params: dict[str, Any]) -> Outcome:
    """The compiled spec has nothing the open-source KFP backend rejects (e.g. a TFX Resolver node).

    The submission's spec is what TFX writes; the kit's cluster compile adapts that form for the backend
    (components/tfx_kfp/spec.py), so what counts is what is left after the same adaptation: what it cannot fix.
    """
    from components.tfx_kfp.spec import for_kfp2
    from labkit.tfx import backend_problems

    assert ctx.ir
    try:
        adapted = for_kfp2(ctx.ir.spec)
    except (ValueError, TypeError, AttributeError) as exc:  # a spec too odd to adapt: say so, score 0
        return 0.0, f"el spec no se puede adaptar al backend de KFP: {exc}"[:300]
    problems = backend_problems(adapted)
    return (0.0, "; ".join(problems)[:300]) if problems else (1.0, "")


@kind("pipeline_runs")
def pipeline_runs(ctx: Context, params: dict[str, Any]) -> Outcome:
    if ctx.ran:
        return 1.0, ""
    failed = [f"{name}: {run.error or 'no terminó'}" for name, run in ctx.runs.items() if not run.ok]
    return 0.0, f"fallaron las corridas {'; '.join(failed)}" if failed else "la corrida no terminó bien"


def _run(ctx: Context, params: dict[str, Any]) -> RunOutcome:
    """The named run ``params['run']``, which must have finished; without ``run``, every run together."""
    if "run" not in params:
        return RunOutcome(tasks=ctx.tasks_ran, ok=ctx.ran)
    run = ctx.runs.get(params["run"])
    if run is None:
        raise LookupError(f"la corrida {params['run']!r} no existe o no corrió")
    if not run.ok:
        raise LookupError(f"la corrida {params['run']!r} no terminó bien: {run.error or 'sin mensaje'}")
    return run


@kind("task_ran")
def task_ran(ctx: Context, params: dict[str, Any]) -> Outcome:
    """Each listed component ran (in the named ``run``, when given)."""
    ran = _run(ctx, params).tasks
    missing = [name for name in params["components"] if name not in ran]
    where = f" en la corrida {params['run']}" if "run" in params else ""
    return _ratio(len(params["components"]) - len(missing), len(params["components"]), missing, f"no corrieron{where}")


@kind("task_skipped")
def task_skipped(ctx: Context, params: dict[str, Any]) -> Outcome:
    """No listed component ran in the named ``run``, which finished, and every component in ``after`` ran
    (the step that decides to skip): a run that stopped early earns nothing."""
    run = _run(ctx, params)
    undecided = [name for name in params.get("after", []) if name not in run.tasks]
    if undecided:
        return 0.0, f"en la corrida {params['run']} no corrió {', '.join(undecided)}"
    ran = [name for name in params["components"] if name in run.tasks]
    return _ratio(len(params["components"]) - len(ran), len(params["components"]), ran, f"corrieron en {params['run']}")


def _metric(ctx: Context, name: str) -> float:
    if ctx.evaluation is None:
        raise LookupError("no hay modelo evaluado")
    return float(ctx.evaluation[name])


@kind("metric_at_least")
def metric_at_least(ctx: Context, params: dict[str, Any]) -> Outcome:
    value = _metric(ctx, params["metric"])
    minimum = float(params["min"])
    verdict = f"{params['metric']} en datos reservados = {value:.3f} (mínimo {minimum})"
    return (1.0 if value >= minimum else 0.0), verdict


@kind("metric_at_most")
def metric_at_most(ctx: Context, params: dict[str, Any]) -> Outcome:
    """For metrics where lower is better (a language model's perplexity, or its ratio to the baseline's)."""
    value = _metric(ctx, params["metric"])
    maximum = float(params["max"])
    verdict = f"{params['metric']} en datos reservados = {value:.3f} (máximo {maximum})"
    return (1.0 if value <= maximum else 0.0), verdict


@kind("beats_baseline")
def beats_baseline(ctx: Context, params: dict[str, Any]) -> Outcome:
    model, baseline = _metric(ctx, "accuracy"), _metric(ctx, "baseline_accuracy")
    margin = float(params.get("margin", 0.0))
    verdict = f"accuracy {model:.3f} contra baseline de clase mayoritaria {baseline:.3f}"
    return (1.0 if model > baseline + margin else 0.0), verdict


@kind("champion_replacement")
def champion_replacement(ctx: Context, params: dict[str, Any]) -> Outcome:
    """With the grader's champion in the registry: the registry changed champion exactly when the challenger
    beat it (and the baseline) on the test rows of the pipeline's own split."""
    if ctx.evaluation is not None and ctx.evaluation.get("replaced_earlier"):
        return 1.0, "una corrida anterior ya había registrado un modelo: esta comparación no se juzga"
    if ctx.evaluation is None or "replaced" not in ctx.evaluation:
        raise LookupError("el corrector no sembró un campeón en el registro")
    replaced, should = bool(ctx.evaluation["replaced"]), bool(ctx.evaluation["should_replace"])
    duel = (
        f"challenger {ctx.evaluation['challenger_test_accuracy']:.3f} contra campeón "
        f"{ctx.evaluation['champion_test_accuracy']:.3f} en el test del lote"
    )
    if replaced == should:
        return 1.0, f"{duel}: {'se reemplazó' if replaced else 'se mantuvo'} el campeón"
    if replaced:
        return 0.0, f"{duel}: un challenger que no ganó reemplazó al campeón"
    return 0.0, f"{duel}: el challenger ganó y no se registró"


@kind("stage_ok")
def stage_ok(ctx: Context, params: dict[str, Any]) -> Outcome:
    """Earned whenever the check's stage ran: the grader blocks it (with the reason) when the stage failed."""
    return 1.0, ""
