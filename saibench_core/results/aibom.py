"""The stored campaign as an AI bill of materials: SPDX 3.0.1 JSON-LD, AI and Dataset profiles.

Each successful stored run is one trained model, an ``ai_AIPackage`` named by its problem,
model, trainer, seed and split, whose IRI holds the run key; its hyperparameters and its
metrics are ``DictionaryEntry`` lists (``ai_hyperparameter``, ``ai_metric``). Each dataset
it was trained and tested on (a problem at one point and split) is a
``dataset_DatasetPackage`` verified by saibench's SHA-256 checksum of its arrays. Each
software package it ran with (saibench, the plugins' distributions, JAX, jaxlib, optax,
NumPy, Python) is a ``software_Package``: the versions the run recorded in its provenance
where it has one, else those installed now. Relationships say which model was
``trainedOn``/``testedOn`` which dataset, ``dependsOn`` which packages and, when fine-tuned,
which model is its ``ancestorOf``; each dataset and package ``hasDeclaredLicense``: the
distribution's ``License-Expression`` where its metadata has one for the version used, else
``NoAssertionLicense`` (no problem declares its data's licence). One ``SpdxDocument`` holds
every element, the models its roots, created by saibench (a ``SoftwareAgent``, using the
``Tool``).

The engine writes the JSON itself, in the shape of the SPDX 3.0.1 JSON-LD serialization
(compact names of the SPDX context, one ``@graph``); the tests check it against the SPDX
model with spdx-python-model, a test dependency only.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..discovery import Catalog, Descriptor
from ..execute import fingerprint
from ..planner import Run
from .export import hyper_columns
from .provenance import normalised
from .store import Record

CONTEXT = "https://spdx.org/rdf/3.0.1/spdx-context.jsonld"
SPEC_VERSION = "3.0.1"
BASE = "https://saibench.invalid/"  # .invalid (RFC 2606) is nobody's domain: these IRIs name, they do not locate
CREATION = "_:creation"
NO_ASSERTION = "expandedlicensing_NoAssertionLicense"
PROFILES = ("core", "software", "ai", "dataset", "simpleLicensing", "expandedLicensing")
# the SAIL kinds of a problem's inputs and targets, as SPDX dataset types
DATASET_TYPES = {"Image": "image", "TimeSeries": "timeseries", "Tensor": "numeric", "Scalar": "numeric",
                 "Label": "categorical", "Sequence": "structured", "Set": "structured", "Atom": "structured",
                 "Atoms": "structured", "Configuration": "structured"}
SHA256 = re.compile(r"[0-9a-f]{64}")


def _iri(*parts: str) -> str:
    return BASE + "/".join(quote(p, safe="") for p in parts)


def _element(kind: str, spdx_id: str, **properties: Any) -> dict[str, Any]:
    """An SPDX element of ``kind``; properties that are ``None`` or empty are left out."""
    kept = {k: v for k, v in properties.items() if v is not None and v != "" and v != []}
    return {"type": kind, "spdxId": spdx_id, "creationInfo": CREATION, **kept}


def _relationship(source: str, kind: str, targets: Iterable[str]) -> dict[str, Any]:
    return _element("Relationship", f"{source}/{kind}", **{"from": source, "relationshipType": kind, "to": list(targets)})


def _entries(values: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``DictionaryEntry`` items, values as JSON text; a float is written as Python and
    JavaScript read it back (``Infinity``: never reached), NaN (not measured) with no value."""
    out = []
    for key, value in values.items():
        entry: dict[str, Any] = {"type": "DictionaryEntry", "key": key}
        if isinstance(value, float) and math.isinf(value):
            entry["value"] = "Infinity" if value > 0 else "-Infinity"
        elif not (isinstance(value, float) and math.isnan(value)):
            entry["value"] = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
        out.append(entry)
    return out


def _summary(descriptor: Descriptor | None) -> str:
    doc = descriptor.doc.strip() if descriptor is not None else ""
    return doc.split("\n\n")[0].replace("\n", " ") if doc else ""


def model_name(run: Run) -> str:
    """A stored run's model as a reader names it: ``digits × mlp by adam on jax-float32/cpu, seed 0, split 0``."""
    how = "fitted" if run.trainer == "fit" else f"by {run.trainer}"
    return f"{run.problem} × {run.started_label} {how} on {run.software}/{run.hardware}, seed {run.seed}, split {run.split}"


def _dataset(run: Run, catalog: Catalog) -> dict[str, Any]:
    """The data a run was trained and tested on: its problem at its point and split."""
    problem = catalog.get("problem", run.problem)
    point = dict(run.hyper.get("problem", {}))
    identity = run.dataset_checksum or json.dumps([point, run.split], sort_keys=True)
    at = ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(point.items()))
    kinds = [] if problem is None else [t.kind for t in (problem.input, problem.output) if t is not None]
    types = list(dict.fromkeys(DATASET_TYPES.get(k, "other") for k in kinds)) or ["noAssertion"]
    checksum = run.dataset_checksum if SHA256.fullmatch(run.dataset_checksum) else ""
    return _element(
        "dataset_DatasetPackage", _iri("dataset", run.problem, hashlib.sha256(identity.encode()).hexdigest()[:16]),
        name=f"{run.problem}{f' ({at})' if at else ''}, split {run.split}", description=_summary(problem),
        software_packageVersion=problem.version if problem is not None else None, software_primaryPurpose="data",
        dataset_datasetType=types,
        verifiedUsing=[{"type": "Hash", "algorithm": "sha256", "hashValue": checksum}] if checksum else [])


def _training(run: Run, catalog: Catalog) -> str:
    """How a run's model was trained, in words: ``trained by adam (Adam ...) with jax-float32 on cpu, ...``."""
    about = _summary(catalog.get("trainer", run.trainer))
    how = "fitted without gradients" if run.trainer == "fit" else f"trained by {run.trainer}" + (f" ({about})" if about else "")
    chain = f", through {' → '.join(run.chain)}" if run.chain else ""
    origin = f", starting from the weights of {run.origin}" if run.origin else ""
    return f"{how} with {run.software} on {run.hardware}{chain}{origin}; seed {run.seed}, split {run.split}"


def _model(rec: Record, catalog: Catalog) -> dict[str, Any]:
    """One stored run's trained model: its hyperparameters (``role.name``, as the export's
    ``hyper.`` columns) and its test and validation (``validation.name``) metrics."""
    run = rec.run
    problem, model = catalog.get("problem", run.problem), catalog.get("model", run.model)
    hyper = {k.removeprefix("hyper."): v for k, v in hyper_columns(run).items()}
    metrics = {**rec.metrics, **{f"validation.{k}": v for k, v in rec.details.get("validation_metrics", {}).items()}}
    return _element(
        "ai_AIPackage", _iri("run", rec.key), name=model_name(run), description=_summary(model),
        software_packageVersion=model.version if model is not None else None, software_primaryPurpose="model",
        ai_domain=[problem.spec.field] if problem is not None else [], ai_typeOfModel=[run.model_label],
        ai_informationAboutApplication=f"{problem.task} on {run.problem}" if problem is not None else None,
        ai_informationAboutTraining=_training(run, catalog), ai_hyperparameter=_entries(hyper), ai_metric=_entries(metrics))


def environment(catalog: Catalog) -> dict[str, str]:
    """The distributions installed now, by name (saibench, the numerical libraries, the
    loaded plugins'), and ``python``; not installed ones left out."""
    found = {"saibench": fingerprint.installed("saibench"), **fingerprint.libraries(),
             **{dist: version for _, dist, version in fingerprint.plugins(catalog) if dist != "broken"}}
    return {name: version for name, version in found.items() if version}


def software(rec: Record, current: Mapping[str, str]) -> dict[str, str]:
    """The distributions a run ran with: what its pod recorded (``details["environment"]``,
    ``results.provenance``), else ``current``."""
    provenance = rec.details.get("environment")
    if not isinstance(provenance, dict) or not isinstance(provenance.get("distributions"), dict) \
            or not provenance["distributions"]:
        return dict(current)  # a run stored before provenance was
    found = {str(name): str(version) for name, version in provenance["distributions"].items() if version}
    python = provenance.get("python")
    if isinstance(python, str) and python.split():
        found["python"] = python.split()[0]
    return found


def _package(name: str, version: str) -> dict[str, Any]:
    purpose = "platform" if name == "python" else "framework" if normalised(name) == "saibench" else "library"
    return _element("software_Package", _iri("package", normalised(name), version), name=name,
                    software_packageVersion=version, software_primaryPurpose=purpose)


def declared_licence(name: str, version: str) -> str | None:
    """The SPDX licence expression a distribution declares (``License-Expression``), when
    the version installed is ``version``; ``None`` when unknown."""
    if name == "python" or fingerprint.installed(name) != version:
        return None
    declared = metadata.metadata(name).get_all("License-Expression") or []
    return str(declared[0]) if declared else None


class _Graph:
    """The elements of one document, each once by IRI, in the order first added."""

    def __init__(self) -> None:
        self.elements: dict[str, dict[str, Any]] = {}

    def add(self, element: dict[str, Any]) -> str:
        """Add ``element`` unless one with its IRI is there; its IRI."""
        spdx_id: str = element["spdxId"]
        self.elements.setdefault(spdx_id, element)
        return spdx_id

    def licence(self, subject: str, expression: str | None) -> None:
        """``subject`` declares the licence ``expression``; ``None``: no assertion is made."""
        target = NO_ASSERTION if expression is None else self.add(_element(
            "simplelicensing_LicenseExpression", _iri("licence", expression), simplelicensing_licenseExpression=expression))
        self.add(_relationship(subject, "hasDeclaredLicense", [target]))


def _spec(run: Run) -> str:
    return json.dumps(run.to_json(), sort_keys=True)


def document(records: Iterable[Record], catalog: Catalog, *, created: datetime | None = None) -> dict[str, Any]:
    """The AI bill of materials of ``records`` as an SPDX 3.0.1 JSON-LD document (a dict
    ready for ``json.dumps``); runs that did not end ``ok`` trained no model and are left out.

    Args:
        records: stored runs.
        catalog: the modules, for their versions, fields, tasks and docs (a run whose
            modules are no longer installed is described without them).
        created: when the document was made (default: now), in UTC.
    """
    ok = [rec for rec in records if rec.status == "ok"]
    when = (created or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    graph, current = _Graph(), environment(catalog)
    agent = graph.add(_element("SoftwareAgent", _iri("agent", "saibench"), name="saibench"))
    tool = graph.add(_element("Tool", _iri("tool", "saibench", current.get("saibench", "unknown")),
                              name=f"saibench {current.get('saibench', '')}".strip()))
    models = [graph.add(_model(rec, catalog)) for rec in ok]
    by_spec = {_spec(rec.run): model for rec, model in zip(ok, models, strict=True)}
    for rec, model in zip(ok, models, strict=True):
        dataset = graph.add(_dataset(rec.run, catalog))
        graph.licence(dataset, None)
        packages = []
        for name, version in sorted(software(rec, current).items()):
            packages.append(package := graph.add(_package(name, version)))
            graph.licence(package, declared_licence(name, version))
        graph.add(_relationship(model, "trainedOn", [dataset]))
        graph.add(_relationship(model, "testedOn", [dataset]))
        graph.add(_relationship(model, "dependsOn", packages))
        if rec.run.start_from and (before := by_spec.get(json.dumps(json.loads(rec.run.start_from), sort_keys=True))):
            graph.add(_relationship(before, "ancestorOf", [model]))
    digest = hashlib.sha256(json.dumps([when, sorted(rec.key for rec in ok)]).encode()).hexdigest()[:16]
    doc = _element("SpdxDocument", _iri("aibom", digest), name=f"saibench campaign: {len(models)} trained model(s)",
                   profileConformance=list(PROFILES), rootElement=models, element=list(graph.elements))
    creation = {"type": "CreationInfo", "@id": CREATION, "specVersion": SPEC_VERSION, "created": when,
                "createdBy": [agent], "createdUsing": [tool]}
    return {"@context": CONTEXT, "@graph": [creation, doc, *graph.elements.values()]}


def write(records: Iterable[Record], catalog: Catalog, path: Path) -> int:
    """Write the AI bill of materials of ``records`` to ``path``; returns the number of models."""
    bom = document(records, catalog)
    path.write_text(json.dumps(bom, indent=1, ensure_ascii=False, allow_nan=False) + "\n")
    return sum(1 for element in bom["@graph"] if element["type"] == "ai_AIPackage")
