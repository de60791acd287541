"""The two query languages of the churn workflows' definitions: one state graph, its data
handling rendered in JSONPath or in JSONata.

The builders in workflows.py write each state's data handling once, with the values below
(`var`, `state_input`, `result`, `context`, `Concat`, `Merge`, ...), choice conditions
(`Equals`, `OneOf`, `Present`, `AtLeast`, `All`) and the methods of a `Dialect`, which render
them in the definition's language:

- JSONPath: the execution's data travels in the state's input; a state puts what it computes
  at `$.<key>` (ResultPath), reads it back with paths (`"Field.$": "$.config.X"`), and
  computes with intrinsic functions; choice rules are `Variable` rules.
- JSONata (`"QueryLanguage": "JSONata"`): what a state computes is kept in a variable of the
  same name (`Assign`), read back as `$config.X`; `Arguments`, `Output`, `Condition` and a
  Fail's `Error` and `Cause` are `{% %}` expressions over `$states.input`, `$states.result`,
  `$states.errorOutput`, `$states.context` and the variables, with JSONata's functions in
  place of the intrinsic ones (`$uuid()`, `$split`, `$merge`, `$parse`, `&` for
  States.Format).

AWS's page: "Transforming data with JSONata in Step Functions"
(https://docs.aws.amazon.com/step-functions/latest/dg/transforming-data.html) and "Passing
data between states with variables" (.../dg/workflow-variables.html).
"""

import json
from dataclasses import dataclass
from typing import Any, Optional, Union

QUERY_LANGUAGES = ("JSONPath", "JSONata")
State = dict[str, Any]


def query_language(name: str) -> str:
    """The language's name as the States Language spells it, from any case ("jsonata")."""
    for known in QUERY_LANGUAGES:
        if name.lower() == known.lower():
            return known
    raise ValueError("no query language %r: %s" % (name, " or ".join(QUERY_LANGUAGES)))


# -- values computed at run time ---------------------------------------------------------------


class Expr:
    """A value computed when the state runs, in either language."""

    def path(self) -> str:
        """The JSONPath form: a path, or an intrinsic function."""
        raise NotImplementedError

    def jsonata(self) -> str:
        """The JSONata form: an expression (without its `{% %}`)."""
        raise NotImplementedError


@dataclass(frozen=True)
class Ref(Expr):
    """A field of the execution's data (`root` "data": what an earlier state kept, at
    `$.<path>` of the state's input, or the variable `$<path>`), of the state's input
    ("input"), of a task's result ("result": in JSONPath's ResultSelector) or of the context
    object ("context")."""

    where: str
    root: str = "data"

    def path(self) -> str:
        return ("$$." if self.root == "context" else "$.") + self.where

    def jsonata(self) -> str:
        if self.root == "data":
            return "$" + self.where
        return "$states.%s.%s" % (self.root, self.where)


def var(where: str) -> Ref:
    return Ref(where)


def state_input(where: str) -> Ref:
    return Ref(where, "input")


def result(where: str) -> Ref:
    return Ref(where, "result")


def context(where: str) -> Ref:
    return Ref(where, "context")


class Concat(Expr):
    """Text made of literal parts and values: States.Format, or JSONata's `&`."""

    def __init__(self, *parts: Union[str, Expr]) -> None:
        self.parts = parts

    def path(self) -> str:
        template = "".join(_intrinsic_text(p) if isinstance(p, str) else "{}" for p in self.parts)
        values = [p.path() for p in self.parts if isinstance(p, Expr)]
        return "States.Format(%s)" % ", ".join(["'%s'" % template] + values)

    def jsonata(self) -> str:
        texts = (_jsonata_text(p) if isinstance(p, str) else p.jsonata() for p in self.parts)
        return " & ".join(texts)


@dataclass(frozen=True)
class Merge(Expr):
    """`over`'s fields over `base`'s (a shallow merge)."""

    base: Expr
    over: Expr

    def path(self) -> str:
        return "States.JsonMerge(%s, %s, false)" % (self.base.path(), self.over.path())

    def jsonata(self) -> str:
        return "$merge([%s, %s])" % (self.base.jsonata(), self.over.jsonata())


class ShortUuid(Expr):
    """The first eight hex characters of a new UUID."""

    def path(self) -> str:
        return "States.ArrayGetItem(States.StringSplit(States.UUID(), '-'), 0)"

    def jsonata(self) -> str:
        return "$split($uuid(), '-')[0]"


@dataclass(frozen=True)
class Plus(Expr):
    value: Expr
    amount: int

    def path(self) -> str:
        return "States.MathAdd(%s, %d)" % (self.value.path(), self.amount)

    def jsonata(self) -> str:
        return "%s + %d" % (self.value.jsonata(), self.amount)


@dataclass(frozen=True)
class ParseJson(Expr):
    """The JSON value a text holds."""

    text: Expr

    def path(self) -> str:
        return "States.StringToJson(%s)" % self.text.path()

    def jsonata(self) -> str:
        return "$parse(%s)" % self.text.jsonata()


def _intrinsic_text(text: str) -> str:
    """A literal in States.Format's template: ' { } and \\ escaped."""
    for special in "\\'{}":
        text = text.replace(special, "\\" + special)
    return text


def _jsonata_text(text: str) -> str:
    return "'%s'" % text.replace("\\", "\\\\").replace("'", "\\'")


def _literal(value: Any) -> str:
    return _jsonata_text(value) if isinstance(value, str) else json.dumps(value)


# -- choice conditions -------------------------------------------------------------------------


class Cond:
    """A choice rule's test: a JSONPath rule (without Next), or a JSONata boolean expression."""

    def rule(self) -> State:
        raise NotImplementedError

    def jsonata(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class Equals(Cond):
    """A text equals a literal, or another value (StringEqualsPath)."""

    value: Ref
    other: Union[str, Ref]

    def rule(self) -> State:
        if isinstance(self.other, Ref):
            return {"Variable": self.value.path(), "StringEqualsPath": self.other.path()}
        return {"Variable": self.value.path(), "StringEquals": self.other}

    def jsonata(self) -> str:
        other = self.other.jsonata() if isinstance(self.other, Ref) else _literal(self.other)
        return "%s = %s" % (self.value.jsonata(), other)


@dataclass(frozen=True)
class OneOf(Cond):
    value: Ref
    texts: tuple[str, ...]

    def rule(self) -> State:
        return {"Or": [{"Variable": self.value.path(), "StringEquals": t} for t in self.texts]}

    def jsonata(self) -> str:
        return "%s in [%s]" % (self.value.jsonata(), ", ".join(map(_literal, self.texts)))


@dataclass(frozen=True)
class Present(Cond):
    value: Ref

    def rule(self) -> State:
        return {"Variable": self.value.path(), "IsPresent": True}

    def jsonata(self) -> str:
        return "$exists(%s)" % self.value.jsonata()


@dataclass(frozen=True)
class Absent(Cond):
    value: Ref

    def rule(self) -> State:
        return {"Variable": self.value.path(), "IsPresent": False}

    def jsonata(self) -> str:
        return "$not($exists(%s))" % self.value.jsonata()


@dataclass(frozen=True)
class AtLeast(Cond):
    value: Ref
    least: int

    def rule(self) -> State:
        return {"Variable": self.value.path(), "NumericGreaterThanEquals": self.least}

    def jsonata(self) -> str:
        return "%s >= %d" % (self.value.jsonata(), self.least)


class All(Cond):
    def __init__(self, *conditions: Cond) -> None:
        self.conditions = conditions

    def rule(self) -> State:
        return {"And": [c.rule() for c in self.conditions]}

    def jsonata(self) -> str:
        return " and ".join(
            "(%s)" % c.jsonata() if isinstance(c, All) else c.jsonata() for c in self.conditions
        )


# -- the states' data-handling fields ----------------------------------------------------------

# A state's template: JSON whose values may be Exprs (in dicts, at any depth).
Template = Any
OUTPUT = ""  # Dialect.result's `into`: the result is the state's output


@dataclass(frozen=True)
class Dialect:
    """Renders the data-handling fields of a state in one query language."""

    language: str = "JSONPath"

    @property
    def jsonata(self) -> bool:
        return self.language == "JSONata"

    def render(self, template: Template) -> Any:
        """`template` with its Exprs as this language writes them: `"Key.$": path` in
        JSONPath, `"Key": "{% expression %}"` in JSONata."""
        if isinstance(template, Expr):
            if not self.jsonata:
                raise TypeError("a JSONPath value is a field of an object: %r" % template)
            return "{%% %s %%}" % template.jsonata()
        if isinstance(template, dict):
            out = {}
            for key, value in template.items():
                if isinstance(value, Expr) and not self.jsonata:
                    out[key + ".$"] = value.path()
                else:
                    out[key] = self.render(value)
            return out
        if isinstance(template, list):
            return [self.render(v) for v in template]
        return template

    def arguments(self, template: Template) -> State:
        """A Task's request."""
        return {("Arguments" if self.jsonata else "Parameters"): self.render(template)}

    def result(self, into: Optional[str], select: Template = None) -> State:
        """What a Task keeps of its result (`select` over `result(...)` values, or all of it):
        as the data's `into` (a variable in JSONata), as the state's output (`into` OUTPUT),
        or nothing (`into` None)."""
        if self.jsonata:
            if into is None:
                return {}
            kept = self.render(select) if select is not None else "{% $states.result %}"
            return {"Output": kept} if into == OUTPUT else {"Assign": {into: kept}}
        fields: State = {}
        if select is not None:
            fields["ResultSelector"] = self.render(select)
        if into != OUTPUT:
            fields["ResultPath"] = None if into is None else "$." + into
        return fields

    def keep(self, template: Template, at: Optional[str] = None) -> State:
        """A Pass state's fields that keep `template` for the following states: in JSONPath
        as the state's output (at `$.<at>` of its input, given `at`), in JSONata as
        variables (the variable `at`, or one per field of `template`)."""
        if self.jsonata:
            return {"Assign": self.render({at: template} if at else template)}
        if at is None:
            return {"Parameters": self.render(template)}
        rendered = self.render(template)
        field = "Parameters" if rendered != template else "Result"  # Result: constants
        return {field: rendered, "ResultPath": "$." + at}

    def update(self, at: str, key: str, value: Ref) -> State:
        """A Pass state's fields that set the field `key` of the data's `at` to `value`."""
        if self.jsonata:
            merged = "$merge([$%s, {%s: %s}])" % (at, _literal(key), value.jsonata())
            return {"Assign": {at: "{%% %s %%}" % merged}}
        return {"InputPath": value.path(), "ResultPath": "$.%s.%s" % (at, key)}

    def output(self, template: Template) -> State:
        """A Pass state's output."""
        return {("Output" if self.jsonata else "Parameters"): self.render(template)}

    def choice(self, condition: Cond, following: str) -> State:
        if self.jsonata:
            return {"Condition": "{%% %s %%}" % condition.jsonata(), "Next": following}
        return dict(condition.rule(), Next=following)

    def fail(self, error: Union[str, Expr], cause: Union[str, Expr]) -> State:
        """A Fail state's Error and Cause, each a text or a value."""
        fields: State = {}
        for name, value in (("Error", error), ("Cause", cause)):
            if not isinstance(value, Expr):
                fields[name] = value
            elif self.jsonata:
                fields[name] = self.render(value)
            else:
                fields[name + "Path"] = value.path()
        return {"Type": "Fail", **fields}

    def catch(self, errors: list[str], following: str, keep: bool = True) -> State:
        """A catcher; with `keep`, the error output is the data's `error`."""
        out: State = {"ErrorEquals": errors}
        if self.jsonata:
            if keep:
                out["Assign"] = {"error": "{% $states.errorOutput %}"}
        else:
            out["ResultPath"] = "$.error" if keep else None
        out["Next"] = following
        return out

    def machine(self, comment: str, start: str, timeout: int, states: dict[str, State]) -> State:
        """The definition: in JSONata, the language named at the top, for every state."""
        language = {"QueryLanguage": "JSONata"} if self.jsonata else {}
        return {
            "Comment": comment,
            **language,
            "StartAt": start,
            "TimeoutSeconds": timeout,
            "States": states,
        }
