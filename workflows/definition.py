"""The workflow definition format (YAML or JSON, one structure), parsed and validated whole.

`parse_definition` turns untrusted data into a `Definition` or raises `DefinitionError` whose
details name the step (or input) and the problem. `Definition.to_dict()` is the canonical
form: what export writes, what a Run snapshots, and what import reads back unchanged.
"""

import re
from dataclasses import dataclass, field, replace
from graphlib import CycleError, TopologicalSorter
from typing import Any

import yaml
from django.conf import settings
from django.core.exceptions import ValidationError
from jsonschema import SchemaError
from jsonschema.validators import validator_for

from config.safejson import TooDeep, check_depth
from workflows.errors import DefinitionError, InvalidInputs
from workflows.models import (
    DEFAULT_BACKOFF_SECONDS,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_TIMEOUT_SECONDS,
    StepKind,
)
from workflows.templating import TemplateProblem, compile_template, references

KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
INPUT_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
INPUT_TYPES = {
    "string": str,
    "text": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
}
TOP_LEVEL_FIELDS = {"name", "description", "default_model", "parameters", "inputs", "steps"}
STEP_FIELDS = {
    "key",
    "name",
    "kind",
    "prompt",
    "query",
    "when",
    "depends_on",
    "model",
    "parameters",
    "response_schema",
    "retry",
    "timeout",
}
INPUT_FIELDS = {"name", "type", "required", "default", "description"}
PARAMETER_RULES = {
    # name: (type, minimum, maximum)
    "temperature": ((int, float), 0.0, 2.0),
    "top_p": ((int, float), 0.0, 1.0),
    "max_tokens": (int, 1, 100_000),
    "latency_ms": (int, 0, 600_000),  # the offline model's simulated latency
}
DEFAULT_RETRY = {"max_attempts": DEFAULT_MAX_ATTEMPTS, "backoff_seconds": DEFAULT_BACKOFF_SECONDS}
# Ranges (inclusive) of the step fields: the checks below and the JSON Schema
# (workflows/definition_schema.py) both read them.
TIMEOUT_RANGE = (1, 3600)
MAX_ATTEMPTS_RANGE = (1, 10)
BACKOFF_RANGE = (0, 3600)
RETRIEVE_K_RANGE = (1, 50)
MAX_STEPS = 100
PROMPT_REQUIRED = {StepKind.GENERATE, StepKind.TRANSFORM}
TEMPLATE_FIELDS = ("prompt", "query", "when")
SEARCH_MODES = ("hybrid", "keyword", "semantic")
# A retrieve step's parameters: how many documents, how to search, and filters.
RETRIEVE_PARAMETERS = {
    "k": f"a whole number from {RETRIEVE_K_RANGE[0]} to {RETRIEVE_K_RANGE[1]} (default 5)",
    "mode": f"one of {', '.join(SEARCH_MODES)} (default hybrid)",
    "workflow": "a workflow id: only documents made by that workflow",
    "step": "a step key: only documents made by steps with that key",
}


@dataclass(frozen=True)
class InputSpec:
    name: str
    type: str = "string"
    required: bool = True
    default: Any = None
    description: str = ""

    def to_dict(self) -> dict:
        data: dict[str, Any] = {"name": self.name, "type": self.type, "required": self.required}
        if self.default is not None:
            data["default"] = self.default
        if self.description:
            data["description"] = self.description
        return data


@dataclass(frozen=True)
class StepSpec:
    key: str
    kind: str
    name: str = ""
    prompt: str = ""
    query: str = ""  # retrieve steps: the search, a template
    when: str = ""
    depends_on: tuple[str, ...] | None = None  # as written; None = "the step before"
    upstream: tuple[str, ...] = ()  # resolved direct dependencies
    model: str = ""
    parameters: dict = field(default_factory=dict)
    response_schema: dict | None = None
    max_attempts: int = DEFAULT_RETRY["max_attempts"]
    backoff_seconds: float = DEFAULT_RETRY["backoff_seconds"]
    timeout: int = DEFAULT_TIMEOUT_SECONDS

    def to_dict(self) -> dict:
        data: dict[str, Any] = {"key": self.key}
        if self.name:
            data["name"] = self.name
        data["kind"] = self.kind
        if self.depends_on is not None:
            data["depends_on"] = list(self.depends_on)
        for attr in ("when", "model", "prompt", "query"):
            if getattr(self, attr):
                data[attr] = getattr(self, attr)
        if self.parameters:
            data["parameters"] = dict(self.parameters)
        if self.response_schema is not None:
            data["response_schema"] = self.response_schema
        data["retry"] = {"max_attempts": self.max_attempts, "backoff_seconds": self.backoff_seconds}
        data["timeout"] = self.timeout
        return data


@dataclass(frozen=True)
class Definition:
    name: str
    steps: tuple[StepSpec, ...]
    description: str = ""
    default_model: str = ""
    parameters: dict = field(default_factory=dict)
    inputs: tuple[InputSpec, ...] = ()

    def to_dict(self) -> dict:
        data: dict[str, Any] = {"name": self.name, "description": self.description}
        if self.default_model:
            data["default_model"] = self.default_model
        if self.parameters:
            data["parameters"] = dict(self.parameters)
        data["inputs"] = [spec.to_dict() for spec in self.inputs]
        data["steps"] = [step.to_dict() for step in self.steps]
        return data

    def step(self, key: str) -> StepSpec:
        return next(step for step in self.steps if step.key == key)

    def ancestors(self, key: str) -> set[str]:
        """Every step upstream of `key`, directly or not."""
        by_key = {step.key: step for step in self.steps}
        seen: set[str] = set()
        stack = list(by_key[key].upstream)
        while stack:
            current = stack.pop()
            if current not in seen:
                seen.add(current)
                stack.extend(by_key[current].upstream)
        return seen

    def descendants(self, key: str) -> set[str]:
        return {step.key for step in self.steps if key in self.ancestors(step.key)}


class _Problems:
    """Collects problems as {"steps": {key: [...]}, "inputs": {name: [...]}, field: [...]}."""

    def __init__(self) -> None:
        self.details: dict[str, Any] = {}

    def add(self, where: str, message: str) -> None:
        self.details.setdefault(where, []).append(message)

    def add_to(self, group: str, name: str, message: str) -> None:
        self.details.setdefault(group, {}).setdefault(name, []).append(message)

    def raise_if_any(self) -> None:
        if not self.details:
            return
        raise DefinitionError(self.first_message(), details=self.details)

    def first_message(self) -> str:
        where, problems = next(iter(self.details.items()))
        if isinstance(problems, dict):
            name, messages = next(iter(problems.items()))
            label = "Step" if where == "steps" else "Input"
            return f"{label} '{name}': {messages[0]}"
        return f"{where}: {problems[0]}"


class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader without anchors/aliases: nested aliases ("billion laughs") would make a
    small file expand into a huge structure for the validators to walk."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(
                None,
                None,
                "aliases (*name) are not allowed in workflow definitions",
                self.peek_event().start_mark,
            )
        return super().compose_node(parent, index)


def load_text(text: str) -> Any:
    """Read a definition from YAML or JSON text (JSON is YAML). No aliases."""
    try:
        return check_depth(yaml.load(text, Loader=_NoAliasLoader))  # noqa: S506 - SafeLoader
    except yaml.YAMLError as exc:
        raise DefinitionError(f"The definition is not valid YAML or JSON: {exc}") from exc
    except (RecursionError, TooDeep):
        raise DefinitionError(
            f"The definition nests deeper than {settings.MAX_JSON_DEPTH} levels."
        ) from None


def dump_yaml(definition: dict) -> str:
    return yaml.safe_dump(definition, sort_keys=False, allow_unicode=True, width=100)


def parse_definition(data: Any) -> Definition:
    problems = _Problems()
    if not isinstance(data, dict):
        raise DefinitionError("A definition is a mapping with 'name' and 'steps'.")
    for unknown in sorted(set(data) - TOP_LEVEL_FIELDS):
        problems.add(unknown, "unknown field")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.add("name", "required, a non-empty string")
    description = data.get("description") or ""
    if not isinstance(description, str):
        problems.add("description", "must be a string")
    default_model = data.get("default_model") or ""
    if not isinstance(default_model, str):
        problems.add("default_model", "must be a string")
    parameters = _parameters(data.get("parameters"), lambda m: problems.add("parameters", m))
    inputs = _inputs(data.get("inputs"), problems)
    steps = _steps(data.get("steps"), {spec.name for spec in inputs}, problems)
    problems.raise_if_any()
    return Definition(
        name=name.strip(),
        description=description,
        default_model=default_model,
        parameters=parameters,
        inputs=tuple(inputs),
        steps=tuple(steps),
    )


def _parameters(raw: Any, report) -> dict:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        report("must be a mapping")
        return {}
    for name, value in raw.items():
        rule = PARAMETER_RULES.get(name)
        if rule is None:
            report(f"unknown parameter '{name}' (known: {', '.join(PARAMETER_RULES)})")
            continue
        kind, low, high = rule
        if isinstance(value, bool) or not isinstance(value, kind) or not low <= value <= high:
            report(f"'{name}' must be a number from {low} to {high}")
    return dict(raw)


def check_parameters(raw: Any) -> dict:
    """Model parameters as a definition accepts them, or django's ValidationError."""
    problems: list[str] = []
    parameters = _parameters(raw, problems.append)
    if problems:
        raise ValidationError(problems)
    return parameters


def _inputs(raw: Any, problems: _Problems) -> list[InputSpec]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        problems.add("inputs", "must be a list")
        return []
    specs: list[InputSpec] = []
    for index, item in enumerate(raw):
        label = item.get("name") if isinstance(item, dict) else None
        label = label if isinstance(label, str) and label else f"#{index + 1}"

        def report(message: str, label: str = label) -> None:
            problems.add_to("inputs", label, message)

        if not isinstance(item, dict):
            report("must be a mapping with 'name' and 'type'")
            continue
        for unknown in sorted(set(item) - INPUT_FIELDS):
            report(f"unknown field '{unknown}'")
        name = item.get("name")
        if not isinstance(name, str) or not INPUT_NAME_PATTERN.match(name):
            report("'name' must be an identifier (letters, digits, underscore)")
            continue
        if any(spec.name == name for spec in specs):
            report("duplicate input name")
            continue
        type_name = item.get("type", "string")
        if type_name not in INPUT_TYPES:
            report(f"unknown type '{type_name}' (known: {', '.join(INPUT_TYPES)})")
            continue
        required = item.get("required", True)
        if not isinstance(required, bool):
            report("'required' must be true or false")
        default = item.get("default")
        if default is not None and not _matches_type(default, type_name):
            report(f"default {default!r} is not of type {type_name}")
        specs.append(
            InputSpec(
                name=name,
                type=type_name,
                required=bool(required),
                default=default,
                description=str(item.get("description") or ""),
            )
        )
    return specs


def _matches_type(value: Any, type_name: str) -> bool:
    if type_name in ("integer", "number") and isinstance(value, bool):
        return False
    return isinstance(value, INPUT_TYPES[type_name])


def _steps(raw: Any, input_names: set[str], problems: _Problems) -> list[StepSpec]:
    if not isinstance(raw, list) or not raw:
        problems.add("steps", "required, a non-empty list of steps")
        return []
    if len(raw) > MAX_STEPS:
        problems.add("steps", f"at most {MAX_STEPS} steps")
        return []
    specs: list[StepSpec] = []
    keys: list[str] = []
    for index, item in enumerate(raw):
        spec = _step(item, index, keys, problems)
        if spec is not None:
            specs.append(spec)
            keys.append(spec.key)
    if problems.details.get("steps"):
        return specs
    # Resolve "the step before" and check the graph as a whole.
    resolved: list[StepSpec] = []
    for index, spec in enumerate(specs):
        upstream = (
            spec.depends_on if spec.depends_on is not None else tuple(keys[index - 1 : index])
        )
        for dep in upstream:
            if dep == spec.key:
                problems.add_to("steps", spec.key, "depends on itself")
            elif dep not in keys:
                problems.add_to("steps", spec.key, f"depends on unknown step '{dep}'")
        resolved.append(replace(spec, upstream=tuple(dict.fromkeys(upstream))))
    if problems.details.get("steps"):
        return resolved
    try:
        list(TopologicalSorter({s.key: s.upstream for s in resolved}).static_order())
    except CycleError as exc:
        cycle = " -> ".join(exc.args[1])
        problems.add_to("steps", exc.args[1][0], f"is part of a dependency cycle: {cycle}")
        return resolved
    definition = Definition(name="", steps=tuple(resolved))
    for spec in resolved:
        _check_references(spec, definition.ancestors(spec.key), input_names, problems)
    return resolved


def _step(item: Any, index: int, keys: list[str], problems: _Problems) -> StepSpec | None:
    key = item.get("key") if isinstance(item, dict) else None
    label = key if isinstance(key, str) and key else f"#{index + 1}"

    def report(message: str) -> None:
        problems.add_to("steps", label, message)

    if not isinstance(item, dict):
        report("must be a mapping with 'key' and 'kind'")
        return None
    for unknown in sorted(set(item) - STEP_FIELDS):
        report(f"unknown field '{unknown}'")
    if not isinstance(key, str) or not KEY_PATTERN.match(key):
        report("'key' must be lowercase letters, digits and underscores, starting with a letter")
        return None
    if key in keys:
        report("duplicate key")
        return None
    kind = item.get("kind", StepKind.GENERATE)
    if kind not in StepKind.values:
        report(f"unknown kind '{kind}' (known: {', '.join(StepKind.values)})")
        return None
    texts = {}
    for attr in ("name", "prompt", "query", "when", "model"):
        value = item.get(attr) or ""
        if not isinstance(value, str):
            report(f"'{attr}' must be a string")
            value = ""
        texts[attr] = value
    if kind in PROMPT_REQUIRED and not texts["prompt"].strip():
        report(f"a {kind} step needs a prompt")
    if kind == StepKind.RETRIEVE and not texts["query"].strip():
        report("a retrieve step needs a query")
    if kind != StepKind.RETRIEVE and texts["query"]:
        report("only retrieve steps take a query")
    for attr in TEMPLATE_FIELDS:
        if texts[attr]:
            try:
                compile_template(texts[attr])
            except TemplateProblem as exc:
                report(f"the {attr} template does not parse: {exc}")
    depends_on = item.get("depends_on")
    if depends_on is not None:
        if isinstance(depends_on, str):
            depends_on = [depends_on]
        if not isinstance(depends_on, list) or not all(isinstance(d, str) for d in depends_on):
            report("'depends_on' must be a list of step keys")
            depends_on = None
        else:
            depends_on = tuple(depends_on)
    if kind == StepKind.RETRIEVE:
        parameters = _retrieve_parameters(item.get("parameters"), report)
    else:
        parameters = _parameters(item.get("parameters"), report)
    schema = item.get("response_schema")
    if schema is not None:
        if kind != StepKind.GENERATE:
            report("only generate steps take a response_schema")
        elif not isinstance(schema, dict):
            report("'response_schema' must be a JSON Schema object")
        else:
            try:
                validator_for(schema).check_schema(schema)
            except SchemaError as exc:
                report(f"'response_schema' is not a valid JSON Schema: {exc.message}")
    max_attempts, backoff = _retry(item.get("retry"), report)
    timeout = item.get("timeout", DEFAULT_TIMEOUT_SECONDS)
    low, high = TIMEOUT_RANGE
    if not _whole(timeout) or not low <= timeout <= high:
        report(f"'timeout' must be whole seconds from {low} to {high}")
        timeout = DEFAULT_TIMEOUT_SECONDS
    return StepSpec(
        key=key,
        kind=kind,
        name=texts["name"],
        prompt=texts["prompt"],
        query=texts["query"],
        when=texts["when"],
        depends_on=depends_on,
        model=texts["model"],
        parameters=parameters,
        response_schema=schema if isinstance(schema, dict) else None,
        max_attempts=max_attempts,
        backoff_seconds=backoff,
        timeout=timeout,
    )


def _retrieve_parameters(raw: Any, report) -> dict:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        report("'parameters' must be a mapping")
        return {}
    checks = {
        "k": lambda v: _whole(v) and RETRIEVE_K_RANGE[0] <= v <= RETRIEVE_K_RANGE[1],
        "mode": lambda v: v in SEARCH_MODES,
        "workflow": lambda v: _whole(v) and v >= 1,
        "step": lambda v: isinstance(v, str) and bool(KEY_PATTERN.match(v)),
    }
    for name, value in raw.items():
        if name not in checks:
            known = ", ".join(RETRIEVE_PARAMETERS)
            report(f"unknown parameter '{name}' for a retrieve step (known: {known})")
        elif not checks[name](value):
            report(f"'{name}' must be {RETRIEVE_PARAMETERS[name]}")
    return dict(raw)


def _retry(raw: Any, report) -> tuple[int, float]:
    if raw is None:
        return DEFAULT_RETRY["max_attempts"], DEFAULT_RETRY["backoff_seconds"]
    if not isinstance(raw, dict) or set(raw) - set(DEFAULT_RETRY):
        report("'retry' takes max_attempts and backoff_seconds")
        return DEFAULT_RETRY["max_attempts"], DEFAULT_RETRY["backoff_seconds"]
    attempts = raw.get("max_attempts", DEFAULT_RETRY["max_attempts"])
    backoff = raw.get("backoff_seconds", DEFAULT_RETRY["backoff_seconds"])
    low, high = MAX_ATTEMPTS_RANGE
    if not _whole(attempts) or not low <= attempts <= high:
        report(f"'retry.max_attempts' must be a whole number from {low} to {high}")
        attempts = DEFAULT_RETRY["max_attempts"]
    low, high = BACKOFF_RANGE
    number = isinstance(backoff, int | float) and not isinstance(backoff, bool)
    if not number or not low <= backoff <= high:
        report(f"'retry.backoff_seconds' must be a number from {low} to {high}")
        backoff = DEFAULT_RETRY["backoff_seconds"]
    return attempts, float(backoff)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_references(
    spec: StepSpec, upstream: set[str], input_names: set[str], problems: _Problems
) -> None:
    for attr in TEMPLATE_FIELDS:
        source = getattr(spec, attr)
        if not source:
            continue
        steps, inputs = references(source)
        for key in sorted(steps - upstream):
            problems.add_to(
                "steps", spec.key, f"the {attr} refers to step '{key}', which is not upstream"
            )
        for name in sorted(inputs - input_names):
            problems.add_to("steps", spec.key, f"the {attr} refers to unknown input '{name}'")


def validate_inputs(definition: Definition, values: Any) -> dict:
    """The run's inputs with defaults applied, or InvalidInputs naming each bad one."""
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise InvalidInputs("Inputs must be an object of name: value.")
    problems: dict[str, list[str]] = {}
    known = {spec.name: spec for spec in definition.inputs}
    for name in values:
        if name not in known:
            problems.setdefault(name, []).append("unknown input")
    result: dict[str, Any] = {}
    for spec in definition.inputs:
        if values.get(spec.name) is None:
            if spec.default is not None:
                result[spec.name] = spec.default
            elif spec.required:
                problems.setdefault(spec.name, []).append("required")
            else:
                result[spec.name] = ""
            continue
        value = values[spec.name]
        if not _matches_type(value, spec.type):
            problems.setdefault(spec.name, []).append(f"must be of type {spec.type}")
            continue
        result[spec.name] = value
    if problems:
        name, messages = next(iter(problems.items()))
        raise InvalidInputs(f"Input '{name}': {messages[0]}.", details={"inputs": problems})
    return result
