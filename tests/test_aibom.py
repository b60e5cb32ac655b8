"""``results aibom``: the stored campaign as an SPDX 3.0.1 AI bill of materials, checked
against the SPDX model (spdx-python-model), which a mutilated document fails."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

pytest.importorskip("spdx_python_model")
from spdx_python_model import v3_0_1 as spdx  # noqa: E402 - only once it is known to be installed

import saibench_core as sb  # noqa: E402
from saibench_core import cli  # noqa: E402
from saibench_core.discovery import Catalog  # noqa: E402
from saibench_core.execute import fingerprint  # noqa: E402
from saibench_core.planner import Run  # noqa: E402
from saibench_core.results import Outcome, Record, Store  # noqa: E402
from saibench_core.results.aibom import document  # noqa: E402

INF, NAN = float("inf"), float("nan")
CHECKSUM = [hashlib.sha256(f"split {i}".encode()).hexdigest() for i in range(2)]
RECORDED = {"saibench": "0.0.9", "numpy": "1.26.4", "jax": "0.4.30", "saibench-vision": "0.0.1"}


def digits(seed: int, split: int, **kwargs: Any) -> Run:
    return Run("digits", "mlp", "adam", "jax-float32", "cpu", ("flatten",), 1.0, {},
               {"model": {"width": 64}, "trainer": {"lr": 0.003, "epochs": 40}}, ("accuracy", "time_to_95_accuracy"), (),
               seed=seed, split=split, dataset_checksum=CHECKSUM[split], **kwargs)


FIRST, SECOND = digits(0, 0), digits(1, 1)
TUNED = digits(0, 0, start_from=json.dumps(FIRST.to_json(), sort_keys=True))
FITTED = Run("wine", "knn", "fit", "jax-float32", "cpu", (), 0.0, {}, {"model": {"k": 5}}, ("accuracy",), ())


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A campaign stored without training: two seeds of one model (the second with its
    provenance), a fine-tuned run, a fitted model without a checksum, and a failed run."""
    path = tmp_path_factory.mktemp("aibom") / "results.sqlite"
    with Store(path) as store:
        store.put("first", FIRST, Outcome("ok", {"accuracy": 0.9, "time_to_95_accuracy": INF, "peak_device_memory": NAN},
                                          details={"validation_metrics": {"accuracy": 0.85}}))
        store.put("second", SECOND, Outcome("ok", {"accuracy": 0.8, "time_to_95_accuracy": 2.5},
                                            details={"environment": {"distributions": RECORDED, "python": "3.11.2"}}))
        store.put("tuned", TUNED, Outcome("ok", {"accuracy": 0.95, "time_to_95_accuracy": 1.0}))
        store.put("fitted", FITTED, Outcome("ok", {"accuracy": 0.7}))
        store.put("broken", digits(2, 0), Outcome("failed", reason="timed out after 600 s"))
    return path


@pytest.fixture(scope="module")
def bom(db: Path, catalog: Catalog) -> dict[str, Any]:
    """The document of every stored run (the failed one too: ``document`` leaves it out)."""
    with Store.open_readonly(db) as store:
        return document(store.records(), catalog)


def validate(doc: dict[str, Any]) -> spdx.SHACLObjectSet:
    """``doc`` read into the SPDX 3.0.1 model and written out again: reading checks every
    type, property, enumerated value and pattern, linking checks every reference resolves,
    and writing checks every required property and cardinality."""
    objects = spdx.SHACLObjectSet()
    spdx.JSONLDDeserializer().deserialize_data(doc, objects)
    if objects.missing_ids:
        raise ValueError(f"references to no element: {sorted(objects.missing_ids)}")
    spdx.JSONLDSerializer().serialize_data(objects)
    return objects


def by_type(doc: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e for e in doc["@graph"] if e["type"] == kind]


def related(doc: dict[str, Any], source: str, kind: str) -> list[str]:
    [rel] = [e for e in by_type(doc, "Relationship") if e["from"] == source and e["relationshipType"] == kind]
    return list(rel["to"])


def entries(element: dict[str, Any], prop: str) -> dict[str, str | None]:
    return {e["key"]: e.get("value") for e in element[prop]}


def test_cli_writes_a_valid_aibom_of_every_ok_run(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "bom.spdx.json"
    done = CliRunner().invoke(cli.main, ["results", "aibom", "--db", str(db), "-o", str(out)])
    assert done.exit_code == 0, done.output
    assert f"4 model(s) written to {out}" in " ".join(done.stderr.split())  # the console wraps long paths
    doc = json.loads(out.read_text())
    objects = validate(doc)
    models = {e.name: e for e in objects.foreach_type(spdx.ai_AIPackage)}
    assert "digits × mlp by adam on jax-float32/cpu, seed 0, split 0" in models
    assert "wine × knn fitted on jax-float32/cpu, seed 0, split 0" in models
    assert len(models) == 4  # the failed run trained no model
    [document_] = by_type(doc, "SpdxDocument")
    assert sorted(document_["rootElement"]) == sorted(f"https://saibench.invalid/run/{k}" for k in ("first", "second", "tuned", "fitted"))
    assert set(document_["element"]) == {e["spdxId"] for e in doc["@graph"] if e["type"] not in ("CreationInfo", "SpdxDocument")}
    [creation] = doc["@graph"][:1]
    assert creation["type"] == "CreationInfo" and creation["specVersion"] == "3.0.1"
    assert [a.name for a in objects.foreach_type(spdx.SoftwareAgent)] == ["saibench"]


def test_models_carry_hyperparameters_metrics_domain_and_their_relationships(bom: dict[str, Any]) -> None:
    doc = bom
    first = next(e for e in by_type(doc, "ai_AIPackage") if e["spdxId"].endswith("/run/first"))
    assert entries(first, "ai_hyperparameter") == {"model.width": "64", "trainer.lr": "0.003", "trainer.epochs": "40"}
    metrics = entries(first, "ai_metric")
    assert metrics["accuracy"] == "0.9" and metrics["validation.accuracy"] == "0.85"
    assert metrics["time_to_95_accuracy"] == "Infinity"  # never reached
    assert "peak_device_memory" in metrics and metrics["peak_device_memory"] is None  # not measured: no value
    assert first["ai_domain"] == ["vision"] and first["ai_typeOfModel"] == ["mlp"]
    assert first["software_primaryPurpose"] == "model" and first["software_packageVersion"] == "0.1.0"
    assert "through flatten" in first["ai_informationAboutTraining"]
    [dataset] = related(doc, first["spdxId"], "trainedOn")
    assert related(doc, first["spdxId"], "testedOn") == [dataset]
    tuned = next(e["spdxId"] for e in by_type(doc, "ai_AIPackage") if e["spdxId"].endswith("/run/tuned"))
    assert related(doc, first["spdxId"], "ancestorOf") == [tuned]  # fine-tuned from the first run's weights
    assert related(doc, tuned, "trainedOn") == [dataset]  # same problem point and split: one dataset


def test_datasets_have_their_checksum_and_no_assertion_licence(bom: dict[str, Any]) -> None:
    doc = bom
    datasets = {e["name"]: e for e in by_type(doc, "dataset_DatasetPackage")}
    assert set(datasets) == {"digits, split 0", "digits, split 1", "wine, split 0"}
    for split in (0, 1):
        [digest] = datasets[f"digits, split {split}"]["verifiedUsing"]
        assert digest == {"type": "Hash", "algorithm": "sha256", "hashValue": CHECKSUM[split]}
        assert datasets[f"digits, split {split}"]["dataset_datasetType"] == ["image", "categorical"]
    assert "verifiedUsing" not in datasets["wine, split 0"]  # stored without a measured checksum
    for dataset in datasets.values():
        assert related(doc, dataset["spdxId"], "hasDeclaredLicense") == ["expandedlicensing_NoAssertionLicense"]


def test_packages_are_the_recorded_versions_else_the_installed_ones(bom: dict[str, Any]) -> None:
    doc = bom
    packages = {e["spdxId"]: (e["name"], e["software_packageVersion"]) for e in by_type(doc, "software_Package")}
    models = {e["spdxId"].rsplit("/", 1)[1]: e["spdxId"] for e in by_type(doc, "ai_AIPackage")}
    second = {packages[p] for p in related(doc, models["second"], "dependsOn")}
    assert second == {*RECORDED.items(), ("python", "3.11.2")}
    first = {packages[p] for p in related(doc, models["first"], "dependsOn")}
    installed = {name: fingerprint.installed(name) for name in ("saibench", "jax", "jaxlib", "optax", "numpy", "saibench-vision")}
    assert {(name, version) for name, version in installed.items() if version} <= first
    assert ("python", fingerprint.libraries()["python"]) in first
    expression = {e["spdxId"]: e["simplelicensing_licenseExpression"] for e in by_type(doc, "simplelicensing_LicenseExpression")}
    ours = next(p for p in related(doc, models["first"], "dependsOn") if packages[p][0] == "saibench")
    [licence] = related(doc, ours, "hasDeclaredLicense")
    assert expression[licence] == metadata.metadata("saibench")["License-Expression"] == "Apache-2.0"  # pyproject's licence
    # a version the run recorded that is not the one installed: its licence is not known here
    old = next(p for p in related(doc, models["second"], "dependsOn") if packages[p] == ("saibench", "0.0.9"))
    assert related(doc, old, "hasDeclaredLicense") == ["expandedlicensing_NoAssertionLicense"]


def test_a_run_whose_modules_are_gone_is_still_described_and_valid(catalog: Catalog) -> None:
    gone = Run("retired", "old_net", "sgd", "jax-float32", "cpu", (), 0.0, {}, {"problem": {"n": 3}}, ("mae",), ())
    record = Record("gone", gone, "ok", "", {"mae": 0.5}, {}, 1.0)
    doc = document([record], catalog, created=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    validate(doc)
    assert _element(doc, "CreationInfo")["created"] == "2026-01-02T03:04:05Z"
    [dataset] = by_type(doc, "dataset_DatasetPackage")
    assert dataset["name"] == "retired (n=3), split 0" and dataset["dataset_datasetType"] == ["noAssertion"]
    [model] = by_type(doc, "ai_AIPackage")
    assert "ai_domain" not in model and entries(model, "ai_metric") == {"mae": "0.5"}


def test_api_writes_the_same_document_and_counts_models(db: Path, tmp_path: Path, catalog: Catalog) -> None:
    out = tmp_path / "bom.spdx.json"
    assert sb.aibom(out, db=db, catalog=catalog) == 4
    validate(json.loads(out.read_text()))


def test_bad_output_or_database_is_one_clear_error(tmp_path: Path, db: Path) -> None:
    with pytest.raises(sb.InvalidInput, match="the folder '/no/such/dir' does not exist"):
        sb.aibom("/no/such/dir/bom.json", db=db)
    with pytest.raises(sb.StoreError, match="cannot open results database"):
        sb.aibom(tmp_path / "bom.json", db=tmp_path / "missing.sqlite")
    done = CliRunner().invoke(cli.main, ["results", "aibom", "-o", "/no/such/dir/bom.json"])
    assert done.exit_code == 2 and "-o/--output '/no/such/dir/bom.json'" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def _element(doc: dict[str, Any], kind: str) -> dict[str, Any]:
    return by_type(doc, kind)[0]


MUTILATIONS: dict[str, Callable[[dict[str, Any]], object]] = {
    "a model without creationInfo": lambda d: _element(d, "ai_AIPackage").pop("creationInfo"),
    "a dataset without its type": lambda d: _element(d, "dataset_DatasetPackage").pop("dataset_datasetType"),
    "a hash without its value": lambda d: _element(d, "dataset_DatasetPackage")["verifiedUsing"][0].pop("hashValue"),
    "a hyperparameter without its key": lambda d: _element(d, "ai_AIPackage")["ai_hyperparameter"][0].pop("key"),
    "a relationship to nothing": lambda d: _element(d, "Relationship").pop("to"),
    "a relationship to a missing element": lambda d: _element(d, "Relationship").update(to=["https://saibench.invalid/none"]),
    "an unknown relationship type": lambda d: _element(d, "Relationship").update(relationshipType="trainedWith"),
    "an unknown hash algorithm": lambda d: _element(d, "dataset_DatasetPackage")["verifiedUsing"][0].update(algorithm="sha257"),
    "a malformed creation time": lambda d: _element(d, "CreationInfo").update(created="2026-01-01 12:00"),
    "no spec version": lambda d: _element(d, "CreationInfo").pop("specVersion"),
    "creation info no node holds": lambda d: _element(d, "ai_AIPackage").update(creationInfo="_:nothing"),
    "created by a model, not an agent": lambda d: _element(d, "CreationInfo").update(createdBy=[_element(d, "ai_AIPackage")["spdxId"]]),
    "an element without its IRI": lambda d: _element(d, "software_Package").pop("spdxId"),
    "a property the AI profile lacks": lambda d: _element(d, "ai_AIPackage").update(ai_accuracy="0.9"),
}


@pytest.mark.parametrize("mutilate", MUTILATIONS.values(), ids=MUTILATIONS.keys())
def test_a_mutilated_document_fails_validation(bom: dict[str, Any], mutilate: Callable[[dict[str, Any]], object]) -> None:
    validate(bom)  # the document itself is valid: the mutilation is what fails
    doc = copy.deepcopy(bom)
    mutilate(doc)
    with pytest.raises((ValueError, KeyError, TypeError)):
        validate(doc)
