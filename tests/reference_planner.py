"""The reference planner: the SAIBench paper's Algorithm 1 (backtracking over roles), with
converter chains and submodule fillers found by brute force, dims checked by substitution,
constraints by Python's ``eval``, relations by ``fnmatch`` among all five roles, tasks by
walking ``refines`` by hand, model ``Fail`` by calling the factory, and memory by the
formula of a ``Linear`` layer, a ``Fitted`` model paired with a pseudo-trainer ``fit`` made
here - not by the planner's code. Obviously correct, exponentially slow; used only to check
the real planner."""

from __future__ import annotations

import fnmatch
import itertools
from typing import Any

from saibench_core.discovery import Catalog, Descriptor
from sail_types import Fail, Fitted, Input, ModuleSpec

BYTES_FLOAT32 = 4
# a Fitted model's only trainer: no tasks, relations or hyperparameters of its own
FIT = Descriptor("fit", "trainer", "reference", "0", ModuleSpec("trainer"))


def solves(asked: Any, solver: Any) -> bool:
    """Whether a module solving ``solver`` takes a problem of task ``asked``: ``asked`` is
    ``solver`` or refines it, walking ``refines`` by hand."""
    while asked is not None:
        if asked == solver:
            return True
        asked = asked.refines
    return False


def builds(model: Descriptor, env: dict[str, int], point: tuple[tuple[str, Any], ...]) -> tuple[bool, int | None]:
    """(does not raise Fail, parameter count of its single Linear) at this point."""
    if model.fn is None:
        return True, None
    try:
        layer = model.fn(Input(model.input, dict(env)), **dict(point))
    except Fail:
        return False, None
    if isinstance(layer, Fitted):
        return True, None
    (linear,) = layer.layers
    last = model.input.dims[-1]  # type: ignore[union-attr]
    fan_in = last if isinstance(last, int) else env[last]
    return True, fan_in * linear.features + linear.features

MAX_FALLBACKS = 2


def _match(pattern: tuple[Any, ...], values: list[int], env: dict[str, int]) -> bool:
    if len(pattern) != len(values):
        return False
    for dim, value in zip(pattern, values):
        if isinstance(dim, int):
            if dim != value:
                return False
        elif env.setdefault(dim, value) != value:
            return False
    return True


def _forward(source: tuple[Any, Any], chain: tuple[Descriptor, ...], model: Descriptor) -> dict[str, int] | None:
    (kind, values), target = (source[0].kind, list(source[0].dims)), source[1]
    for conv in chain:
        env: dict[str, int] = {}
        if conv.input.kind != kind or not _match(conv.input.dims, values, env):  # type: ignore[union-attr]
            return None
        values = [d if isinstance(d, int) else eval(d, {}, dict(env)) for d in conv.output.dims]  # type: ignore[union-attr]
        kind = conv.output.kind  # type: ignore[union-attr]
        if any(v < 1 for v in values):
            return None
    env = {}
    if model.input.kind != kind or not _match(model.input.dims, values, env):  # type: ignore[union-attr]
        return None
    if model.output.kind != target.kind or not _match(model.output.dims, list(target.dims), env):  # type: ignore[union-attr]
        return None
    return env


def chains(source: tuple[Any, Any], model: Descriptor, converters: list[Descriptor], max_chain: int) -> list[tuple[tuple[Any, ...], dict[str, int]]]:
    """Every feasible simple chain, cheapest first, with the model's dims."""
    found = []
    for length in range(max_chain + 1):
        for chain in itertools.product(converters, repeat=length):
            kinds = [source[0].kind] + [c.output.kind for c in chain]  # type: ignore[union-attr]
            if len(set(kinds)) != len(kinds):
                continue  # not a simple path
            env = _forward(source, chain, model)
            if env is not None:
                found.append(((sum(c.spec.cost for c in chain), len(chain), tuple(c.name for c in chain)), env))
    return sorted(found, key=lambda f: f[0])


def best(source: tuple[Any, Any], model: Descriptor, converters: list[Descriptor], max_chain: int) -> tuple[Any, ...] | None:
    """(chain names, cost, dims, fallback chains) of the cheapest feasible chain."""
    found = chains(source, model, converters, max_chain)
    if not found:
        return None
    (key, env), rest = found[0], found[1:]
    fallbacks = tuple(k[2] for k, e in rest if e == env)[:MAX_FALLBACKS]
    return key[2], key[0], env, fallbacks


def _bound(sail_type: Any, env: dict[str, int]) -> Any:
    dims = []
    for d in sail_type.dims:
        try:
            dims.append(d if isinstance(d, int) else eval(d, {}, dict(env)))
        except NameError:
            dims.append(d)
    return type(sail_type)(*dims)


def fillings(host: Descriptor, env: dict[str, int], catalog: Catalog, max_chain: int, depth: int) -> list[tuple[Any, ...]] | None:
    """Every combination of fillers of ``host``'s slots, as hashable tuples."""
    if not host.slots:
        return [()]
    if depth <= 0:
        return None
    per_slot = []
    for slot in host.slots:
        req = slot.requirement
        element = host.input.element()  # type: ignore[union-attr]
        per_element = depth == 2 and element is not None and element.kind == req.input.kind
        options = []
        for filler in sorted(catalog.of("model"), key=lambda m: m.name):
            if filler.fitted or not solves(req.task, filler.spec.task):
                continue
            found = best((_bound(req.input, env), _bound(req.output, env)), filler, catalog.of("converter"), max_chain if per_element else 0)
            if found is None:
                continue
            inner = fillings(filler, found[2], catalog, max_chain, depth - 1)
            for sub in inner or []:
                defaults = tuple((h.name, h.grid[0]) for h in filler.hyper)
                options.append((found[1], filler.name, (slot.name, filler.name, found[0], tuple(sorted(found[2].items())), defaults, sub)))
        if not options:
            return None
        per_slot.append([o[2] for o in sorted(options, key=lambda o: (o[0], o[1]))])
    return [tuple(combo) for combo in itertools.product(*per_slot)]


def _refuses(module: Descriptor, partner: Descriptor) -> bool:
    def subject(role: str) -> str | None:
        if role == "field":
            return partner.spec.field if partner.kind == ("model" if module.kind == "problem" else "problem") else None
        return partner.name if partner.kind == role else None

    only: dict[str, list[str]] = {}
    for entry in module.spec.only_with:
        only.setdefault(entry.split(":")[0], []).append(entry.split(":", 1)[1])
    if any(subject(r) is not None and not any(fnmatch.fnmatchcase(subject(r), p) for p in ps) for r, ps in only.items()):  # type: ignore[arg-type]
        return True
    return any(subject(e.split(":")[0]) is not None and fnmatch.fnmatchcase(subject(e.split(":")[0]), e.split(":", 1)[1])  # type: ignore[arg-type]
               for e in module.spec.never_with)


def related(*modules: Descriptor) -> bool:
    return not any(_refuses(a, b) for a in modules for b in modules if a is not b)


def points(module: Descriptor, env: dict[str, int]) -> list[tuple[tuple[str, Any], ...]]:
    names = [h.name for h in module.hyper]
    out = []
    for values in itertools.product(*(h.grid for h in module.hyper)):
        scope = {**env, **dict(zip(names, values))}
        if all(eval(c, {}, scope) for c in module.spec.constraints):
            out.append(tuple(zip(names, values)))
    return out


def _bind_problem(p: Descriptor, hp: tuple[tuple[str, Any], ...]) -> tuple[Any, Any]:
    env = dict(hp)
    return _bound(p.input, env), _bound(p.output, env)


def reference_plan(catalog: Catalog, max_chain: int = 3) -> set[tuple[Any, ...]]:
    """Every feasible run as a hashable tuple."""
    out: set[tuple[Any, ...]] = set()
    converters = catalog.of("converter")
    for p in catalog.of("problem"):
        for m in catalog.of("model"):
            if not solves(p.spec.task, m.spec.task):
                continue
            for hp in points(p, {}):
                found = best(_bind_problem(p, hp), m, converters, max_chain)
                if found is None:
                    continue
                for fills in fillings(m, found[2], catalog, max_chain, 2) or []:
                    for t in [FIT] if m.fitted else [t for t in catalog.of("trainer") if t.name != "fit"]:
                        if t.spec.tasks and not any(solves(p.spec.task, task) for task in t.spec.tasks):
                            continue
                        for sw in catalog.of("software"):
                            for hw in catalog.of("hardware"):
                                if hw.failure or sw.runtime is None or hw.device.platform not in sw.runtime.platforms:  # type: ignore[union-attr]
                                    continue
                                if not related(p, m, t, sw, hw):
                                    continue
                                for hm in points(m, found[2]):
                                    ok, count = builds(m, found[2], hm)
                                    memory = hw.device.memory_bytes  # type: ignore[union-attr]
                                    if not ok or (memory is not None and count is not None and count * BYTES_FLOAT32 > memory):
                                        continue
                                    for ht in points(t, {}):
                                        out.add((p.name, m.name, t.name, sw.name, hw.name, found[0], found[1],
                                                 tuple(sorted(found[2].items())), hp, hm, ht, found[3], fills))
    return out
