import pytest

from labkit.registry import PIPELINES, ParameterError, UnknownPipelineError, get_pipeline, parse_params


def test_params_are_typed_from_the_pipeline_signature() -> None:
    entry = get_pipeline("training")
    params = parse_params(entry, ["epochs=5", "learning-rate=0.05", "source=data.csv"])
    assert params == {"epochs": 5, "learning_rate": 0.05, "source": "data.csv"}


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("epochs=many", "expects int"),
        ("bogus=1", "has no parameter 'bogus'. Valid: epochs"),
        ("epochs", "KEY=VALUE"),
    ],
)
def test_bad_params_name_the_problem(assignment: str, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        parse_params(get_pipeline("training"), [assignment])


def test_unknown_pipeline_lists_known_ones() -> None:
    with pytest.raises(UnknownPipelineError, match=r"Known pipelines: .*training"):
        get_pipeline("trainig")


def test_every_registered_pipeline_loads() -> None:
    for entry in PIPELINES.values():
        assert callable(entry.load()), entry.name
