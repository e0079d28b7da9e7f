"""The config: one defaults table, scenario files, validation with one-line errors."""
import dataclasses

import pytest

from gandiag.config import DEFAULTS, FIELDS, Config, ConfigError, load_config, make_config, read_scenario, \
    scenario_names, to_dict, from_dict


def test_config_is_frozen():
    cfg = make_config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.steps = 3


def test_defaults_table_is_the_dataclass_defaults():
    assert DEFAULTS == {k: getattr(Config(), k) for k in FIELDS}


def test_every_shipped_scenario_loads_and_names_itself():
    names = scenario_names()
    assert {"ring8", "ring8-pacgan", "ring8-veegan", "grid25"} <= set(names)
    for name in names:
        cfg = load_config(name)
        assert cfg.scenario == name and cfg.description


def test_ring8_scenario_has_the_unrolled_gan_paper_setting():
    cfg = load_config("ring8")
    assert (cfg.modes, cfg.radius, cfg.std, cfg.z_dim, cfg.g_hidden, cfg.d_hidden) == \
        (8, 2.0, 0.02, 256, (128, 128), (128,))
    assert (cfg.init, cfg.init_gain, cfg.d_input_scale, cfg.d_lr, cfg.g_lr, cfg.d_beta1, cfg.batch, cfg.steps) == \
        ("orthogonal", 0.8, 0.25, 1e-4, 1e-4, 0.5, 512, 25000)


def test_overrides_win_over_scenario_values_and_none_means_not_given():
    cfg = load_config("ring8", batch=64, steps=None)
    assert cfg.batch == 64 and cfg.steps == 25000


def test_config_survives_a_json_round_trip():
    cfg = load_config("ring8", g_hidden="64,32")
    assert from_dict(to_dict(cfg)) == cfg


def test_custom_mixture_from_a_user_file(tmp_path):
    path = tmp_path / "three.toml"
    path.write_text('data = "mixture"\ncentres = [[0, 0], [1, 1], [-1, 2]]\nstds = [0.1, 0.1, 0.2]\n'
                    'weights = [2, 1, 1]\nsteps = 10\n')
    cfg = load_config(str(path))
    assert cfg.scenario == "three" and cfg.centres == ((0, 0), (1, 1), (-1, 2))


@pytest.mark.parametrize("values, message", [
    ({"stepz": 10}, "unknown key 'stepz'"),
    ({"steps": "many"}, "steps = 'many' is not allowed: expected an integer >= 1"),
    ({"steps": 0}, "steps = 0 is not allowed: expected an integer >= 1"),
    ({"d_lr": -1.0}, "d_lr = -1.0 is not allowed: expected a number > 0"),
    ({"d_lr": float("nan")}, "d_lr = nan is not allowed"),
    ({"loss": "magic"}, "loss = 'magic' is not allowed: expected one of minimax, nonsaturating"),
    ({"g_hidden": [128, 0]}, "g_hidden = [128, 0] is not allowed"),
    ({"data": "grid", "modes": 24}, "modes = 24 is not allowed for data = grid"),
    ({"data": "mixture", "centres": [[0, 0]], "stds": [0.1, 0.2]}, "stds is not allowed: expected 1 positive"),
    ({"unrolled_first_order": 1}, "unrolled_first_order = 1 is not allowed: expected true or false"),
])
def test_bad_values_give_one_line_errors_naming_the_key(values, message):
    with pytest.raises(ConfigError) as err:
        make_config(values)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_unknown_scenario_lists_the_known_ones():
    with pytest.raises(ConfigError, match="unknown scenario 'ring9': choose one of .*ring8"):
        read_scenario("ring9")


def test_invalid_toml_is_a_one_line_error(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("steps = = 3\n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        read_scenario(str(path))
