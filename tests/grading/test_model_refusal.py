"""A model file that points outside itself is refused, and nothing it points at reaches any report.

The numpy reader opens a ``.keras`` file's HDF5 weights with h5py, which follows external links, external
storage and virtual datasets to other files on the grader's machine (or, for a relative path, in the scoring
process's working folder, where the held-out rows are). Read as weights, such data ends up in a numpy error
message; the grader used to copy that message into the student's feedback.
"""

from __future__ import annotations

import io
import json
import stat
import zipfile
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest

from grading.engines import heldout_split
from grading.grader import GradeResult, grade
from grading.reports import FORMATS, gradebook, write_reports
from grading.rubric import Rubric
from tests.grading.hostile import reference_source, write_submission
from tests.grading.replay import MODEL, ReplaySandbox, score_heldout

SECRET = "SECRET-heldout_seed: 4242424242"
CONFIG = {"config": {"layers": [{"class_name": "Dense", "config": {"name": "d", "activation": "softmax"}}]}}


@pytest.fixture(scope="module")
def secrets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A text file and an HDF5 file holding the secret, where the grader can read them and a sandbox cannot."""
    folder = tmp_path_factory.mktemp("secrets")
    (folder / "rubric.yaml").write_text(SECRET + "\n")
    with h5py.File(folder / "secret.h5", "w") as store:
        store.create_dataset("leak", data=np.array([SECRET.encode()]))
        store.create_dataset("layers/dense/vars/0", data=np.array([SECRET.encode()]))
        store.create_dataset("layers/dense/vars/1", data=np.zeros(3))
    return folder


def _keras(weights: Callable[[h5py.File], None], members: dict[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as store:
        weights(store)
        if not isinstance(store.get("layers", getlink=True), h5py.ExternalLink) and "layers/dense/vars/1" not in store:
            store.create_dataset("layers/dense/vars/1", data=np.zeros(3))
    archive_bytes = io.BytesIO()
    with zipfile.ZipFile(archive_bytes, "w") as archive:
        archive.writestr("config.json", json.dumps(CONFIG))
        archive.writestr("model.weights.h5", buffer.getvalue())
        for name, data in (members or {}).items():
            info = zipfile.ZipInfo(name)
            if name.startswith("link:"):
                info = zipfile.ZipInfo(name.removeprefix("link:"))
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, data)
    return archive_bytes.getvalue()


def _external_storage(path: str, size: int) -> Callable[[h5py.File], None]:
    return lambda store: store.create_dataset(
        "layers/dense/vars/0", shape=(1,), dtype=f"S{size}", external=[(path, 0, size)]
    )


def _external_link(file: str, target: str, where: str = "layers/dense/vars/0") -> Callable[[h5py.File], None]:
    def weights(store: h5py.File) -> None:
        store[where] = h5py.ExternalLink(file, target)

    return weights


def _virtual(file: str) -> Callable[[h5py.File], None]:
    def weights(store: h5py.File) -> None:
        layout = h5py.VirtualLayout(shape=(1,), dtype=f"S{len(SECRET)}")
        layout[0] = h5py.VirtualSource(file, "leak", shape=(1,))
        store.create_virtual_dataset("layers/dense/vars/0", layout)

    return weights


def _soft_to_external(file: str) -> Callable[[h5py.File], None]:
    def weights(store: h5py.File) -> None:
        store["elsewhere"] = h5py.ExternalLink(file, "/leak")
        store["layers/dense/vars/0"] = h5py.SoftLink("/elsewhere")

    return weights


def _plain(store: h5py.File) -> None:
    store.create_dataset("layers/dense/vars/0", data=np.zeros((9, 3)))


def hostile_models(secrets: Path) -> dict[str, bytes]:
    text, h5 = str(secrets / "rubric.yaml"), str(secrets / "secret.h5")
    size = len(SECRET) + 1
    return {
        "external_storage_of_a_secret": _keras(_external_storage(text, size)),
        # The scorer's working folder holds the held-out rows, labels included.
        "external_storage_of_the_heldout_rows": _keras(_external_storage("rows.csv", 400)),
        "external_link_to_a_dataset": _keras(_external_link(h5, "/leak")),
        "external_link_to_a_group": _keras(_external_link(h5, "/layers", where="layers")),
        "virtual_dataset": _keras(_virtual(h5)),
        "soft_link_to_an_external_link": _keras(_soft_to_external(h5)),
        "zip_member_is_a_link": _keras(_plain, {"link:assets/rubric": text.encode()}),
        "zip_member_absolute": _keras(_plain, {"/tmp/owned": b"x"}),
        "zip_member_dotdot": _keras(_plain, {"../../owned": b"x"}),
    }


NAMES = [
    "external_storage_of_a_secret",
    "external_storage_of_the_heldout_rows",
    "external_link_to_a_dataset",
    "external_link_to_a_group",
    "virtual_dataset",
    "soft_link_to_an_external_link",
    "zip_member_is_a_link",
    "zip_member_absolute",
    "zip_member_dotdot",
]


def _model(folder: Path, keras: bytes) -> Path:
    folder.mkdir(parents=True)
    visible, _ = heldout_split(0.25, 5)
    from components.common.features import fit_preprocessing

    (folder / "preprocessing.json").write_text(json.dumps(fit_preprocessing(visible)))
    (folder / "model.keras").write_bytes(keras)
    return folder


@pytest.mark.parametrize("name", NAMES)
def test_scoring_refuses_a_model_that_points_outside_itself(name: str, secrets: Path, tmp_path: Path) -> None:
    visible, held_out = heldout_split(0.25, 5)
    with pytest.raises(RuntimeError) as refused:
        score_heldout(_model(tmp_path / "m", hostile_models(secrets)[name]), visible, held_out)
    assert "rechazado" in str(refused.value), str(refused.value)
    assert SECRET not in str(refused.value)


def test_a_plain_model_file_is_still_read(secrets: Path, tmp_path: Path) -> None:
    visible, held_out = heldout_split(0.25, 5)
    summary = score_heldout(_model(tmp_path / "m", _keras(_plain)), visible, held_out)
    assert set(summary) >= {"accuracy", "macro_f1", "baseline_accuracy"}


def _reports(result: GradeResult, folder: Path) -> str:
    written = write_reports(result, folder, FORMATS)
    return "\n".join(path.read_text() for path in written) + gradebook([result])


@pytest.mark.parametrize("name", ["external_storage_of_a_secret", "external_link_to_a_dataset", "virtual_dataset"])
def test_no_report_carries_what_a_refused_model_points_at(
    name: str, secrets: Path, rubric: Rubric, recorded: Path, tmp_path: Path
) -> None:
    keras = hostile_models(secrets)[name]
    submission = write_submission(tmp_path / "ana", {"pipeline.py": reference_source()})
    result = grade(
        submission, rubric, ReplaySandbox(recorded, lambda out: (out / MODEL / "model.keras").write_bytes(keras))
    )
    assert "rechazado" in result.stages["metrics"], result.stages
    metrics = [c for c in result.checks if c.stage == "metrics"]
    assert metrics and all(c.earned == 0 and "rechazado" in c.feedback for c in metrics)
    everything = _reports(result, tmp_path / "reports")
    assert SECRET not in everything and "4242424242" not in everything


def test_no_report_carries_the_heldout_rows(secrets: Path, rubric: Rubric, recorded: Path, tmp_path: Path) -> None:
    keras = hostile_models(secrets)["external_storage_of_the_heldout_rows"]
    submission = write_submission(tmp_path / "ana", {"pipeline.py": reference_source()})
    result = grade(
        submission, rubric, ReplaySandbox(recorded, lambda out: (out / MODEL / "model.keras").write_bytes(keras))
    )
    assert "rechazado" in result.stages["metrics"], result.stages
    _, held_out = heldout_split(rubric.heldout_fraction, rubric.heldout_seed)
    first_row = held_out.to_csv(index=False).splitlines()[1]
    assert first_row[:20] not in _reports(result, tmp_path / "reports")


def test_scoring_errors_reach_the_report_as_fixed_messages(rubric: Rubric, recorded: Path, tmp_path: Path) -> None:
    """Whatever the reader's own error says (here, text from the model file), the report says one fixed line."""
    marker = "TEXT-FROM-THE-MODEL-FILE"
    config = {"config": {"layers": [{"class_name": marker, "config": {"name": marker}}]}}

    def tamper(out: Path) -> None:
        keras = out / MODEL / "model.keras"
        with zipfile.ZipFile(keras) as archive:
            weights = archive.read("model.weights.h5")
        with zipfile.ZipFile(keras, "w") as archive:
            archive.writestr("config.json", json.dumps(config))
            archive.writestr("model.weights.h5", weights)

    submission = write_submission(tmp_path / "ana", {"pipeline.py": reference_source()})
    result = grade(submission, rubric, ReplaySandbox(recorded, tamper))
    assert "no es una red de capas Dense" in result.stages["metrics"], result.stages
    assert marker not in _reports(result, tmp_path / "reports")


@pytest.mark.parametrize(
    "preprocessing",
    [
        {"categorical": {"species": ["Adelie", "Chinstrap", "Gentoo"]}},  # the label as an input it copies through
        {"numeric": {"row_id": {"mean": 0.0, "std": 1.0}}},
        {"classes": ["Gentoo", "Chinstrap", "Adelie"]},
        {"categorical": {"island": ["Biscoe", "Atlantis"]}},
    ],
    ids=["label_as_input", "unknown_column", "classes_reordered", "unknown_category"],
)
def test_a_model_outside_the_kit_schema_is_refused(preprocessing: dict, tmp_path: Path) -> None:
    """The scorer gives a model only the held-out features and reads it only with the kit's schema: an untrained
    model that declares ``species`` as an input and copies it through gets nothing to copy, and is refused."""
    from components.common.features import fit_preprocessing
    from grading.champion import write_dense_model

    visible, held_out = heldout_split(0.25, 5)
    declared = {**fit_preprocessing(visible), **preprocessing}
    width = sum(1 for _ in declared["numeric"]) + sum(len(v) for v in declared["categorical"].values())
    model = write_dense_model(tmp_path / "m", np.zeros((width, 3)), np.zeros(3), declared)
    with pytest.raises(RuntimeError, match="no usa las columnas y clases del esquema del kit"):
        score_heldout(model, visible, held_out)
