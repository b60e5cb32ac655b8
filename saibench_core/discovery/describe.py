"""The dry run (SAIBench paper §4.2): read a module's signature into a ``Descriptor``.

Nothing is trained or loaded here; only hardware and software modules run their cheap
probe, so that a missing device is known before planning.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import typing
from collections.abc import Callable
from typing import Any

import attrs

from sail_types import (
    Dataset,
    Device,
    Fail,
    Fitted,
    InvalidSignature,
    ModuleSpec,
    Requirement,
    Runtime,
    SailType,
    Suggestion,
    constraint_names,
)
from sail_types._errors import InvalidValue
from sail_types._modules import ModuleKind, check_name
from sail_types._suggest import PLAIN, plain

from .contained import call_within

SPLIT_SEED = "split_seed"
PROGRESS = "progress"  # a problem's keyword for ``progress(fraction, what)``, passed by the engine (data/setting.py)


@attrs.frozen
class HyperParam:
    """A hyperparameter: a keyword parameter with a default; ``Suggest`` makes a grid."""

    name: str
    grid: tuple[Any, ...]


@attrs.frozen
class Slot:
    """A submodule slot of a model: a keyword-only parameter whose default is ``Require``."""

    name: str
    requirement: Requirement


@attrs.frozen
class Descriptor:
    """Everything the planner knows about one module, read without running it.

    ``input``/``output`` are the SAIL types of a model or converter; for a problem they are
    the types of its inputs and targets; for a metric ``input`` is the target kind it needs.
    ``failure`` holds a ``Fail`` reason given at describe time.
    """

    name: str
    kind: ModuleKind
    plugin: str
    version: str
    spec: ModuleSpec
    input: SailType | None = None
    output: SailType | None = None
    hyper: tuple[HyperParam, ...] = ()
    slots: tuple[Slot, ...] = ()
    failure: str | None = None
    device: Device | None = None
    runtime: Runtime | None = None
    source_hash: str = ""
    doc: str = ""
    takes_split_seed: bool = False  # a problem with a keyword ``split_seed``: the engine varies its split
    fitted: bool = False  # a model returning ``Annotated[Fitted, ...]``: fitted without gradients, no trainer
    fn: Callable[..., Any] = attrs.field(default=None, eq=False, repr=False)

    @property
    def task(self) -> str | None:
        """The task kind's name, for problems and models."""
        return self.spec.task.name if self.spec.task else None


def module_spec(fn: object) -> ModuleSpec | None:
    """The ``ModuleSpec`` a SAIL decorator left on ``fn``, if any."""
    spec = getattr(fn, "__sail__", None)
    return spec if isinstance(spec, ModuleSpec) else None


def _qualname(fn: Callable[..., Any]) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


def _sail(annotation: Any, where: str, who: str, example: str) -> SailType:
    found = SailType.from_annotation(annotation)
    if found is None:
        raise InvalidSignature(who, f"{where} needs a SAIL type annotation, e.g. {example}")
    return found


def _source_hash(fn: Callable[..., Any]) -> str:
    try:
        source = inspect.getsource(fn)
    except (OSError, TypeError):
        source = _qualname(fn)
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def _signature_dims(fields: dict[str, Any]) -> frozenset[str]:
    """The dim names of a module's input and output types."""
    return frozenset().union(*(t.symbols() for t in (fields.get("input"), fields.get("output")) if t is not None))


def _check_constraints(who: str, spec: ModuleSpec, hyper: tuple[HyperParam, ...], fields: dict[str, Any]) -> None:
    """Constraints mention only numeric hyperparameters and the module's signature dims, and
    ``//``/``%`` only integer ones (Z3 has no remainder of reals)."""
    numeric = {h.name for h in hyper if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in h.grid)}
    integral = {h.name for h in hyper if all(isinstance(v, int) and not isinstance(v, bool) for v in h.grid)}
    dims = _signature_dims(fields)
    for expr in spec.constraints:
        unknown = constraint_names(expr) - numeric - dims
        if unknown:
            raise InvalidSignature(who, f"constraint {expr!r} mentions {sorted(unknown)}, which are neither numeric "
                                   f"hyperparameters ({sorted(numeric) or 'none'}) nor signature dims ({sorted(dims) or 'none'})")
        divided = {n.id for op in ast.walk(ast.parse(expr, mode="eval")) if isinstance(op, ast.BinOp)
                   and isinstance(op.op, (ast.FloorDiv, ast.Mod)) for n in ast.walk(op) if isinstance(n, ast.Name)}
        real = divided - integral - dims
        if real:
            raise InvalidSignature(who, f"constraint {expr!r} takes // or % of {sorted(real)}, whose grid has non-integers; "
                                   "'//' and '%' take integer hyperparameters and dims")


def _grid(who: str, name: str, values: tuple[Any, ...]) -> tuple[Any, ...]:
    """A hyperparameter's grid as plain Python values (a default is not always a ``Suggest``)."""
    try:
        return tuple(plain(v) for v in values)
    except ValueError as exc:
        raise InvalidValue(who, f"hyperparameter {name!r}: {exc}; defaults and Suggest([...]) values are {PLAIN}") from None


def _text(value: object) -> bool:
    return isinstance(value, str) and value.isprintable()


def _check_probe(who: str, probed: Device | Runtime) -> None:
    """What a probe returned, field by field: it is printed, planned on and stored."""
    if isinstance(probed, Device):
        ok = (_text(probed.platform) and bool(probed.platform) and _text(probed.description)
              and (probed.memory_bytes is None or (type(probed.memory_bytes) is int and probed.memory_bytes > 0)))
        example = "Device('gpu', 'NVIDIA H100', memory_bytes=80 * 2**30)"
    else:
        ok = (all(_text(v) and v for v in (probed.framework, probed.version, probed.precision))
              and isinstance(probed.platforms, tuple) and all(_text(p) and p for p in probed.platforms))
        example = "Runtime('jax', '0.4.30', 'float32', ('cpu', 'gpu'))"
    if not ok:
        raise InvalidValue(who, f"the probe returned {probed!r}: fields are printable strings (memory_bytes a positive "
                           f"int or None, platforms a tuple of str), e.g. {example}")


def _check_problem_dims(who: str, hyper: tuple[HyperParam, ...], fields: dict[str, Any]) -> None:
    """A problem's dims are integers or its integer hyperparameters, which bind them per run."""
    integral = {h.name for h in hyper if all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in h.grid)}
    for where in ("input", "output"):
        free = fields[where].symbols() - integral
        if free:
            raise InvalidSignature(who, f"the problem's {where} type {fields[where]!r} uses dims {sorted(free)} that are not "
                                   f"positive-integer hyperparameters of the problem ({sorted(integral) or 'none'}); "
                                   "use integers, or add e.g. 'window: int = Suggest([8, 16])' and write TimeSeries('window', 1)")


def _check_names_apart(who: str, hyper: tuple[HyperParam, ...], fields: dict[str, Any]) -> None:
    """A module other than a problem names its hyperparameters and its signature dims apart:
    in a constraint ``"k <= 3"`` and in ``x.dims`` a shared name would mean either."""
    dims = _signature_dims(fields)
    shared = sorted(dims & {h.name for h in hyper})
    if shared:
        raise InvalidSignature(who, f"hyperparameter(s) {shared} have the name(s) of dims in its signature "
                               f"({fields.get('input')!r} -> {fields.get('output')!r}), so a constraint or x.dims could "
                               "mean either; rename the hyperparameter (e.g. 'k' -> 'neighbours')")


def _check_label_budget(who: str, spec: ModuleSpec, hyper: tuple[HyperParam, ...]) -> None:
    """A problem's label budget names one of its hyperparameters, every value a fraction in (0, 1]."""
    found = [h for h in hyper if h.name == spec.label_budget]
    if not found:
        raise InvalidSignature(who, f"label_budget={spec.label_budget!r} is not one of its hyperparameters "
                               f"({', '.join(h.name for h in hyper) or 'none'}); add it: {spec.label_budget}: float = 1.0")
    bad = [v for v in found[0].grid if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v <= 1]
    if bad:
        raise InvalidSignature(who, f"label budget {spec.label_budget!r} takes {bad!r}; its values are fractions of the "
                               "labelled training data in (0, 1], e.g. Suggest([1/16, 1/4, 1.0])")


def _check_slots(who: str, slots: tuple[Slot, ...], fields: dict[str, Any]) -> None:
    """A slot's dims must be bound by the model's own signature, or its filler has no size."""
    dims = _signature_dims(fields)
    for slot in slots:
        free = (slot.requirement.input.symbols() | slot.requirement.output.symbols()) - dims
        if free:
            raise InvalidSignature(who, f"slot {slot.name!r} ({slot.requirement!r}) uses dims {sorted(free)} that the model's "
                                   f"input and output do not bind ({sorted(dims) or 'none'}); use those names or integers")


def _check_ranking(who: str, spec: ModuleSpec, positional: list[inspect.Parameter]) -> None:
    """A score takes one positional argument (the metric values), a comparison two."""
    wanted = 2 if spec.order == "partial" else 1
    if len(positional) != wanted:
        form = ("a partial-order ranking compares: def r(a: Mapping[str, float], b: Mapping[str, float]) -> bool"
                if wanted == 2 else "a ranking scores: def r(values: Mapping[str, float]) -> float")
        raise InvalidSignature(who, f"takes {len(positional)} positional argument(s); {form}")


def describe(fn: Callable[..., Any], plugin: str, version: str, *, probe_limit: float | None = None) -> Descriptor:
    """Describe one SAIL module.

    Args:
        probe_limit: seconds a hardware or software probe may take (``None``: no limit).

    Raises:
        InvalidSignature: the annotations do not say what the module needs, with a fix.
        PluginFailure: the probe did not return within ``probe_limit``.
    """
    spec = module_spec(fn)
    who = _qualname(fn)
    if spec is None:
        raise InvalidSignature(who, "is not a SAIL module; decorate it with @problem, @model, ...")
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception as exc:  # a NameError in an annotation, typically
        raise InvalidSignature(who, f"annotations cannot be evaluated: {exc}") from None
    params = list(inspect.signature(fn).parameters.values())
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    keyword = [p for p in params if p.kind is p.KEYWORD_ONLY]
    slots = tuple(Slot(p.name, p.default) for p in keyword if isinstance(p.default, Requirement))
    # a problem's ``split_seed`` is not a hyperparameter: it is the run's split (``--repeat`` varies it); nor is its
    # ``progress``, the engine's callback
    takes_split_seed = spec.kind == "problem" and any(p.name == SPLIT_SEED for p in keyword)
    hyper = tuple(
        HyperParam(p.name, _grid(who, p.name, p.default.values if isinstance(p.default, Suggestion) else (p.default,)))
        for p in keyword
        if not isinstance(p.default, Requirement) and not (takes_split_seed and p.name == SPLIT_SEED)
        and not (spec.kind == "problem" and p.name == PROGRESS)
    )
    if slots and spec.kind != "model":
        raise InvalidSignature(who, "only a model can Require a submodule")
    missing = [p.name for p in params if p.kind is p.KEYWORD_ONLY and p.default is p.empty]
    if missing:
        raise InvalidSignature(who, f"hyperparameter(s) {missing} need a default value or Suggest([...])")
    fields: dict[str, Any] = {}
    ret = hints.get("return")
    if spec.kind == "problem":
        if typing.get_origin(ret) is not Dataset:
            raise InvalidSignature(who, "a problem returns Dataset[X, Y]; annotate '-> Dataset[Annotated[..., Image(8, 8, 1)], Annotated[..., Label(10)]]'")
        x, y = typing.get_args(ret)
        fields["input"] = _sail(x, "Dataset's input type", who, "Annotated[NDArray[np.float32], Tensor(4)]")
        fields["output"] = _sail(y, "Dataset's target type", who, "Annotated[NDArray[np.int64], Label(3)]")
    elif spec.kind in ("model", "converter"):
        if len(positional) != 1:
            raise InvalidSignature(who, f"a {spec.kind} takes exactly one positional input, then keyword-only hyperparameters after '*'")
        fields["input"] = _sail(hints.get(positional[0].name), f"input {positional[0].name!r}", who, 'Annotated[Input, Tensor("d")]')
        fields["output"] = _sail(ret, "the return value", who, 'Annotated[Layer, Label("k")]')
        if spec.kind == "model" and typing.get_args(ret)[0] is Fitted:
            if slots:
                raise InvalidSignature(who, "a Fitted model cannot Require submodules: it is fitted as a whole")
            fields["fitted"] = True
    elif spec.kind == "ranking":
        _check_ranking(who, spec, positional)
    elif spec.kind == "metric":
        if len(positional) != 1:
            raise InvalidSignature(who, "a metric takes one positional argument: ev: Evaluation")
        fields["input"] = SailType.from_annotation(hints.get(positional[0].name))
    elif spec.kind in ("hardware", "software"):
        try:
            probed = call_within(fn, probe_limit, f"the {spec.kind} probe {who}()")
        except Fail as fail:
            fields["failure"] = str(fail.reason)
        else:
            expected = Device if spec.kind == "hardware" else Runtime
            if not isinstance(probed, expected):
                raise InvalidSignature(who, f"a {spec.kind} module returns {expected.__name__}(...) or raises Fail(reason); got {probed!r}")
            _check_probe(who, probed)
            fields["device" if spec.kind == "hardware" else "runtime"] = probed
    _check_constraints(who, spec, hyper, fields)
    if spec.kind == "problem" and spec.label_budget:
        _check_label_budget(who, spec, hyper)
    if spec.kind == "problem":
        _check_problem_dims(who, hyper, fields)
    else:
        _check_names_apart(who, hyper, fields)
    _check_slots(who, slots, fields)
    return Descriptor(
        name=check_name(spec.name or getattr(fn, "__name__", None), "module name", who),
        kind=spec.kind,
        plugin=plugin,
        version=version,
        spec=spec,
        hyper=hyper,
        slots=slots,
        source_hash=_source_hash(fn),
        doc=inspect.getdoc(fn) or "",
        takes_split_seed=takes_split_seed,
        fn=fn,
        **fields,
    )
