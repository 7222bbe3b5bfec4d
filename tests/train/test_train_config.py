"""Config checking: unknown keys, wrong types, YAML's '1e-4'-as-string, --set overrides, shipped presets."""

from __future__ import annotations

import pytest

from irtool.errors import UsageError
from irtool.train import config


def test_unknown_key_is_named_with_a_suggestion(tiny_config):
    data = tiny_config(optim={"lrr": 1e-3})
    with pytest.raises(UsageError, match=r"unknown key 'optim\.lrr'.*did you mean 'lr'"):
        config.from_dict(data)


def test_unknown_top_level_section(tiny_config):
    data = {**tiny_config(), "optimiser": {}}
    with pytest.raises(UsageError, match="unknown key 'optimiser'"):
        config.from_dict(data)


@pytest.mark.parametrize(
    ("section", "values", "message"),
    [
        ("optim", {"lr": "fast"}, r"optim\.lr: expected a number, got 'fast'"),
        ("data", {"batch_size": 2.5}, r"data\.batch_size: expected an integer"),
        ("run", {"channels_last": "yes"}, r"run\.channels_last: expected true/false"),
        ("optim", {"loss": "mse"}, r"optim\.loss: expected one of 'l1' \| 'l2' \| 'charbonnier'"),
        ("data", {"roots": "T91"}, r"data\.roots: expected a list"),
    ],
)
def test_wrong_types_are_reported_with_the_dotted_key(tiny_config, section, values, message):
    with pytest.raises(UsageError, match=message):
        config.from_dict(tiny_config(**{section: values}))


def test_missing_required_key(tiny_config):
    data = tiny_config()
    del data["schedule"]["steps"]
    with pytest.raises(UsageError, match=r"missing required key 'schedule\.steps'"):
        config.from_dict(data)


def test_numeric_strings_are_coerced(tiny_config, tmp_path):
    # PyYAML reads `1e-4` (no dot) as a string: the HAT i-LN config trap. Written as YAML to go through the parser.
    path = tmp_path / "c.yaml"
    import yaml

    data = tiny_config()
    text = yaml.safe_dump(data).replace("lr: 0.001", "lr: 1e-4")
    text += "\n"
    path.write_text(text.replace("steps: 6", "steps: '6'"))
    assert "lr: 1e-4" in path.read_text()
    cfg = config.load(path)
    assert cfg.optim.lr == 1e-4 and isinstance(cfg.optim.lr, float)
    assert cfg.schedule.steps == 6 and isinstance(cfg.schedule.steps, int)


def test_overrides_set_nested_values_and_are_validated(tiny_config):
    cfg = config.from_dict(
        tiny_config(), ["optim.lr=2e-4", "run.seed=7", "data.sigma_range=[0, 50]", "model.options.width=8"]
    )
    assert cfg.optim.lr == 2e-4 and cfg.run.seed == 7 and cfg.data.sigma_range == [0.0, 50.0]
    assert cfg.model.options == {"width": 8}
    with pytest.raises(UsageError, match="unknown key 'run.sed'"):
        config.from_dict(tiny_config(), ["run.sed=1"])
    with pytest.raises(UsageError, match="KEY=VALUE"):
        config.from_dict(tiny_config(), ["optim.lr"])


def test_cross_field_rules(tiny_config):
    with pytest.raises(UsageError, match="not a multiple of data.scale"):
        config.from_dict(tiny_config(data={"patch_size": 15}))
    with pytest.raises(UsageError, match="exactly one of data.sigma"):
        config.from_dict(tiny_config(data={"task": "denoise", "scale": 1}))
    with pytest.raises(UsageError, match="same length"):
        config.from_dict(tiny_config(progressive={"patch_sizes": [16, 32], "batch_sizes": [2], "steps": [3, 3]}))


def test_every_shipped_model_has_a_valid_preset():
    names = config.list_presets()
    assert {"sr-x2", "sr-x3", "sr-x4", "denoise"} <= set(names)
    for name in names:
        cfg = config.load(config.preset_path(name))
        assert cfg.val.dataset, f"preset {name} has no validation set"
    with pytest.raises(UsageError, match="unknown preset"):
        config.preset_path("sr-x5")


def test_the_real_section_is_checked(tiny_config):
    with pytest.raises(UsageError, match="data.real applies to task 'real'"):
        config.from_dict(tiny_config(data={"real": {}}))
    with pytest.raises(UsageError, match=r"data\.real\.first\.jpeg_quality"):
        config.from_dict(tiny_config(data={"task": "real", "real": {"first": {"jpeg_quality": [50, 20]}}}))
    with pytest.raises(UsageError, match=r"unknown key 'data\.real\.first\.nois_sigma'"):
        config.from_dict(tiny_config(data={"task": "real", "real": {"first": {"nois_sigma": [1, 2]}}}))
    cfg = config.from_dict(tiny_config(data={"task": "real", "scale": 1, "patch_size": 16}))
    assert cfg.data.scale == 1
