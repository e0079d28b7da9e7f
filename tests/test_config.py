"""The config: one defaults table, scenario files, validation with one-line errors."""
import dataclasses

import pytest

from gandiag.config import DEFAULTS, FIELDS, Config, ConfigError, load_config, make_config, read_scenario, \
    scenario_dir, scenario_names, to_dict, from_dict
from gandiag.stabilizers.swaps import Swaps
from tiny import toy_session


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
    ({"d_hidden": [[1]]}, "d_hidden = [[1]] is not allowed: expected positive integer widths"),
    ({"data": "grid", "modes": 24}, "modes = 24 is not allowed for data = grid"),
    ({"data": "mixture", "centres": [[0, 0]], "stds": [0.1, 0.2]}, "stds is not allowed: expected 1 positive"),
    ({"data": "mixture", "centres": [[0, 0], [1, 1]], "stds": [0.1, 0.1], "weights": [1, 0]},
     "weights is not allowed: expected 2 positive numbers, one per centre"),
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


#: settings that act only where another calls for them, each given where it does nothing
DOING_NOTHING = [
    ({"loss": "wgan", "label_smoothing": 0.9}, "label_smoothing = 0.9 does nothing with loss = 'wgan'"),
    ({"loss": "hinge", "noisy_labels": True}, "noisy_labels = True does nothing with loss = 'hinge'"),
    ({"loss": "wgan-gp", "label_flip": 0.1}, "label_flip = 0.1 does nothing with loss = 'wgan-gp'"),
    ({"loss": "wgan-gp", "clip": 0.05}, "clip = 0.05 does nothing with loss = 'wgan-gp'"),
    ({"gp_weight": 5.0}, "gp_weight = 5.0 does nothing with loss = 'nonsaturating'"),
    ({"unrolled_first_order": True}, "unrolled_first_order = True does nothing with unrolled = 0"),
    ({"mbd_kernels": 10}, "mbd_kernels = 10 does nothing with minibatch_disc = False"),
    ({"maxout_pieces": 3}, "maxout_pieces = 3 does nothing with d_act = 'relu'"),
    ({"init_std": 0.1}, "init_std = 0.1 does nothing with init = 'orthogonal'"),
    ({"init": "normal", "init_gain": 1.2}, "init_gain = 1.2 does nothing with init = 'normal'"),
    ({"instance_noise_decay": 50}, "instance_noise_decay = 50 does nothing with instance_noise = 0.0"),
    ({"replay_share": 0.3}, "replay_share = 0.3 does nothing with replay_size = 0"),
    ({"swap_for": 10}, "swap_for = 10 does nothing with swap_every = 0"),
    ({"d_opt": "sgd", "d_beta2": 0.9}, "d_beta2 = 0.9 does nothing with d_opt = 'sgd'"),
    ({"d_opt": "sgd", "g_opt": "sgd", "eps": 1e-6}, "eps = 1e-06 does nothing with d_opt = 'sgd' and g_opt"),
    ({"leaky_slope": 0.1}, "leaky_slope = 0.1 does nothing with g_act = 'relu' and d_act = 'relu'"),
    ({"g_width": 8}, "g_width = 8 does nothing with data = 'ring'"),
    ({"data": "mnist", "d_hidden": (16,)}, "d_hidden = [16] does nothing with data = 'mnist'"),
    ({"data": "grid", "modes": 4, "radius": 3.0}, "radius = 3.0 does nothing with data = 'grid'"),
    ({"spacing": 3.0}, "spacing = 3.0 does nothing with data = 'ring'"),
    ({"data_dir": "digits"}, "data_dir = 'digits' does nothing with data = 'ring'"),
    ({"centres": [[0, 0]], "stds": [0.1]}, "centres = [[0, 0]] does nothing with data = 'ring'"),
    ({"weights": [1, 2]}, "weights = [1, 2] does nothing with data = 'ring'"),
]


@pytest.mark.parametrize("options, message", DOING_NOTHING)
def test_a_setting_given_where_it_does_nothing_is_a_one_line_error_naming_it_and_what_it_needs(options, message):
    with pytest.raises(ConfigError) as err:
        load_config("ring8", **options)
    assert message in str(err.value) and "it acts only with" in str(err.value) and "\n" not in str(err.value)


def test_a_scenario_files_setting_that_does_nothing_is_refused_as_a_flag_is(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('loss = "hinge"\nlabel_smoothing = 0.9\n')
    with pytest.raises(ConfigError, match="label_smoothing = 0.9 does nothing with loss = 'hinge'"):
        load_config(str(path))


def test_a_mixture_file_that_forgets_data_mixture_is_refused_rather_than_trained_as_the_ring(tmp_path):
    # without data = "mixture" the defaults' ring of 8 trained and the file's blobs were never used
    path = tmp_path / "three.toml"
    path.write_text("centres = [[0.0, 0.0], [1.5, 1.5]]\nstds = [0.05, 0.1]\n")
    with pytest.raises(ConfigError) as err:
        load_config(str(path))
    assert str(err.value) == ("centres = [[0.0, 0.0], [1.5, 1.5]] does nothing with data = 'ring': it acts only "
                              "with --data mixture; otherwise drop it")
    assert load_config(str(path), data="mixture").centres == ((0.0, 0.0), (1.5, 1.5))


def test_a_scenarios_own_setting_is_let_be_where_a_flag_changes_what_decides_it():
    # stacked-mnist's slope 0.3 is for its leaky D, ring8-veegan's radius 1 for its ring
    assert load_config("stacked-mnist", d_act="relu").leaky_slope == 0.3
    assert load_config("ring8-veegan", data="grid", modes=4).radius == 1.0
    with pytest.raises(ConfigError, match="leaky_slope = 0.5 does nothing"):
        load_config("stacked-mnist", d_act="relu", leaky_slope=0.5)


def test_swaps_that_would_never_act_in_the_run_s_steps_are_a_one_line_error():
    # the first swap point (step swap_every) only saves the players: a run of fewer than two swap intervals
    # trained as though --swap-every were off, and nothing said so
    with pytest.raises(ConfigError) as err:
        load_config("ring8", swap_every=100, steps=199)
    assert str(err.value) == ("swap_every = 100 never swaps in a run of 199 step(s): step 100 saves the players and "
                              "the first swap is at step 200; choose --swap-every 99 or less, or --steps 200 or more")
    with pytest.raises(ConfigError, match="in a run of 1 step.s.: .*; choose --steps 2 or more$"):
        load_config("ring8", swap_every=1, swap_for=1, steps=1)
    # at two intervals the run swaps, at its last step
    cfg = load_config("ring8", swap_every=100, swap_for=10, steps=200)
    swaps, players = Swaps(cfg.swap_every, cfg.swap_for), toy_session().players
    for step in range(1, cfg.steps + 1):
        swaps.before_step(step, players)
    assert swaps.swaps == 1
    # a folder trained before such swaps were refused still reads
    assert from_dict({**to_dict(make_config()), "swap_every": 100, "swap_for": 10, "steps": 150}).swap_every == 100


def test_a_run_folder_with_a_setting_that_did_nothing_still_reads():
    # folders trained before such settings were refused keep their config.json readable
    table = {**to_dict(make_config()), "loss": "wgan", "label_smoothing": 0.9}
    assert from_dict(table).label_smoothing == 0.9


def test_an_unknown_key_close_to_a_field_names_the_field():
    with pytest.raises(ConfigError, match=r"unknown key 'unroled' \(did you mean 'unrolled'\?\)"):
        load_config("ring8", unroled=5)


def test_a_shipped_scenarios_file_name_that_is_no_file_here_names_the_scenario(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="'ring8.toml' not found: for the shipped scenario give its name, ring8$"):
        read_scenario("ring8.toml")


def test_a_shipped_scenarios_name_is_that_scenario_beside_a_folder_or_file_of_the_same_name(tmp_path, monkeypatch):
    # an earlier `gandiag run grid25 --out grid25` leaves such a folder where the next run starts
    monkeypatch.chdir(tmp_path)
    (tmp_path / "grid25").mkdir()
    assert load_config("grid25") == load_config(str(scenario_dir() / "grid25.toml"))
    (tmp_path / "grid25").rmdir()
    (tmp_path / "grid25").write_text("steps = 3\n")
    assert load_config("grid25").data == "grid"
    assert (load_config("./grid25").data, load_config("./grid25").steps) == ("ring", 3)
