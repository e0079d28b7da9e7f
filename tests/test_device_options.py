"""Config `precision`, `channels_last` and `compile` (gandiag.train.device): each changes how the players run
and nothing that a run records or checkpoints beyond its own config entry."""
import json
import math

import pytest
import torch
from click.testing import CliRunner
from torch import nn
from torch.testing import assert_close

from gandiag.cli import main
from gandiag import record as R
from gandiag.config import ConfigError, load_config, make_config
from gandiag.engine import choose
from gandiag.train import resume, run
from gandiag.train.checkpoints import load_checkpoint
from gandiag.engine.reference import train_step
from gandiag.train.session import Session
from tiny import IMAGE, TOY, run_steps, toy_config, toy_session

#: a few milliseconds per step of a DCGAN on 28 x 28 digits

# Dynamo reads `.grad` of non-leaf inputs while tracing and hides the warning that raises with
# torch._logging.hide_warnings (a showwarning hook), which pytest's warnings-as-errors goes around.
DYNAMO_GRAD_NOISE = pytest.mark.filterwarnings("ignore:The .grad attribute of a Tensor that is not a leaf")
# Importing inductor imports torch.utils.mkldnn, which still uses the deprecated torch.jit.script_method.
INDUCTOR_IMPORT_NOISE = pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated")


@pytest.fixture
def env(cache, monkeypatch):
    monkeypatch.setenv("GANDIAG_CACHE", str(cache))
    return cache


def image_session(data: str = "mnist", **overrides) -> Session:
    return Session.for_config(load_config(data, **IMAGE, **overrides), "cpu")


def image_steps(s: Session, steps: int = 2) -> dict:
    for step in range(1, steps + 1):
        stats = train_step(s.players, s.stabilizers, s.cfg, s.sample_real, s.sample_z, s.gen, step)
    return {k: float(v) for k, v in stats.items()}


def output_dtypes(s: Session) -> list[torch.dtype]:
    """From now on, the dtype of every output of G's and D's linear and conv layers, in call order."""
    seen = []
    for net in (s.players.G, s.players.D):
        for layer in net.modules():
            if isinstance(layer, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
                layer.register_forward_hook(lambda m, args, out: seen.append(out.dtype))
    return seen


# --- precision -----------------------------------------------------------------------------------

@pytest.mark.parametrize("precision, inside", [("fp32", torch.float32), ("bf16", torch.bfloat16)])
def test_bf16_runs_the_players_layers_in_bfloat16_and_hands_back_float32(env, precision, inside):
    s = image_session(precision=precision)
    seen = output_dtypes(s)
    stats = image_steps(s)
    assert seen and set(seen) == {inside}
    fakes = s.players.G(s.sample_z(4))
    assert fakes.dtype == torch.float32 and s.players.D(fakes).dtype == torch.float32
    assert all(math.isfinite(v) for v in stats.values())


def test_bf16_covers_the_ac_gan_class_head(env):
    s = image_session(precision="bf16", aux_classifier=True)
    seen = []
    s.players.D.classes.register_forward_hook(lambda m, args, out: seen.append(out.dtype))
    x = s.sample_real(4)
    assert s.players.D.class_logits(x).dtype == torch.float32 and seen == [torch.bfloat16]


def test_bf16_keeps_float32_parameters_and_the_same_checkpoint_keys(env, tmp_path):
    result = run(load_config("mnist", **IMAGE, precision="bf16"), tmp_path / "run", quiet=True)
    reader = R.RunReader(result.path)
    assert reader.status["status"] == R.FINISHED and reader.record["config"]["precision"] == "bf16"
    assert reader.checkpoint_steps() == [2, 4] and reader.snapshot_steps() == [0, 2, 4]
    assert all(math.isfinite(row[k]) for row in reader.metrics()[1:] for k in ("d_loss", "g_loss"))
    ckpt = load_checkpoint(result.path / R.CHECKPOINT_DIR / R.checkpoint_name(4))
    fp32 = image_session()
    for name, net in (("G", fp32.players.G), ("D", fp32.players.D)):
        assert list(ckpt[name]) == list(net.state_dict())
        assert {v.dtype for v in ckpt[name].values() if v.is_floating_point()} == {torch.float32}


@pytest.mark.parametrize("first_order", [False, True])
def test_the_unrolled_d_runs_in_bf16_first_and_second_order(env, first_order):
    s = image_session(precision="bf16", unrolled=2, unrolled_first_order=first_order)
    seen = []
    s.players.D.features[1].register_forward_hook(lambda m, args, out: seen.append(out.dtype))
    stats = image_steps(s, 1)
    # D on reals and fakes for its own step, on both for each of the 2 unrolled steps, on fakes for G's loss:
    # all but the first two calls go through torch.func.functional_call
    assert seen == [torch.bfloat16] * 7
    assert all(math.isfinite(v) for v in stats.values())


# --- channels_last -------------------------------------------------------------------------------

@pytest.mark.parametrize("channels_last", [False, True])
def test_channels_last_puts_conv_weights_and_d_inputs_in_nhwc(env, channels_last):
    # Stacked MNIST: with one channel an NCHW batch is also NHWC-contiguous, so MNIST would prove nothing
    s = image_session("stacked-mnist", channels_last=channels_last)
    weights = [w for net in (s.players.G, s.players.D) for w in net.parameters() if w.dim() == 4]
    assert len(weights) == 6
    assert [w.is_contiguous(memory_format=torch.channels_last) for w in weights] == [channels_last] * 6
    inputs = []
    s.players.D.register_forward_pre_hook(lambda m, args: inputs.append(args[0]))
    stats = image_steps(s)
    assert len(inputs) == 6 and all(x.shape[1] == 3 for x in inputs)
    assert [x.is_contiguous(memory_format=torch.channels_last) for x in inputs] == [channels_last] * 6
    assert all(math.isfinite(v) for v in stats.values())


def test_channels_last_on_toy_data_is_a_one_line_config_error():
    with pytest.raises(ConfigError, match=r"channels_last applies to image data \(mnist, stacked-mnist\)"):
        toy_config(channels_last=True)
    result = CliRunner().invoke(main, ["run", "ring8", "--channels-last", "--device", "cpu"])
    assert result.exit_code != 0 and "channels_last applies to image data" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_the_cli_takes_the_three_options_and_config_json_records_them(env, tmp_path):
    args = [f"--{k.replace('_', '-')}={v}" for k, v in IMAGE.items()]
    result = CliRunner().invoke(main, ["run", "mnist", "--out", str(tmp_path / "r"), *args, "--precision", "bf16",
                                       "--channels-last", "--no-compile", "--no-animate", "--quiet"])
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "r" / R.CONFIG_FILE).read_text())["config"]
    assert (config["precision"], config["channels_last"], config["compile"]) == ("bf16", True, False)


# --- compile -------------------------------------------------------------------------------------

@DYNAMO_GRAD_NOISE
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_compile_compiles_both_players_in_place_and_trains_as_without(compile_counter, precision):
    plain = toy_session(precision=precision, engine="reference")
    compiled = toy_session(precision=precision, compile=True, engine="reference")
    for net in (compiled.players.G, compiled.players.D):
        assert net._compiled_call_impl is not None
    assert compile_counter.frame_count == 0  # compiling happens on the first call
    expected, stats = run_steps(plain, 1, 3), run_steps(compiled, 1, 3)
    assert compile_counter.frame_count >= 2  # at least G's and D's forward went through dynamo
    assert_close(stats, expected)
    for name in ("G", "D"):
        assert list(getattr(compiled.players, name).state_dict()) == list(getattr(plain.players, name).state_dict())


@DYNAMO_GRAD_NOISE
def test_a_compiled_run_records_its_probes_and_resumes(compile_counter, tmp_path):
    # the saturation probe at every snapshot differentiates through the compiled players (gandiag.record.snapshot)
    cfg = toy_config(compile=True, engine="reference", steps=2, snapshot_every=1, checkpoint_every=1)
    result = run(cfg, tmp_path / "r", quiet=True)
    result = resume(result.path, steps=4, quiet=True)
    reader = R.RunReader(result.path)
    assert reader.status["status"] == R.FINISHED and reader.snapshot_steps() == [0, 1, 2, 3, 4]
    assert all(math.isfinite(row["g_loss"]) for row in reader.metrics()[1:])


@pytest.mark.slow
@DYNAMO_GRAD_NOISE
@INDUCTOR_IMPORT_NOISE
def test_compile_with_the_default_backend_trains_as_without(fresh_compile):
    expected = run_steps(toy_session(engine="reference"), 1, 2)
    assert_close(run_steps(toy_session(compile=True, engine="reference"), 1, 2), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("overrides", [{"loss": "wgan-gp"}, {"r1": 1.0}])
def test_compile_with_a_gradient_penalty_is_a_config_error(overrides):
    with pytest.raises(ConfigError, match="torch.compile has no double backward") as error:
        toy_config(compile=True, **overrides)
    assert str(error.value).endswith("drop --compile or the penalty")


def test_compile_with_a_second_order_unroll_needs_the_fast_engine():
    with pytest.raises(ConfigError, match="no double backward; engine = reference") as error:
        choose(toy_config(compile=True, unrolled=2, engine="reference"))
    assert str(error.value).endswith("use --unrolled-first-order or drop --compile")
    assert choose(toy_config(compile=True, unrolled=2)).name == "fast"
    first_order = toy_config(compile=True, unrolled=2, unrolled_first_order=True, engine="reference")
    assert choose(first_order).name == "reference"


# --- engine --------------------------------------------------------------------------------------

@DYNAMO_GRAD_NOISE
@pytest.mark.parametrize("data, overrides, reason", [
    ("ring", {}, None),
    ("ring", {"compile": True}, None),
    ("ring", {"precision": "bf16"}, "precision = 'bf16': the fast path implements only the default ('fp32')"),
    ("mnist", {"channels_last": True}, "data = 'mnist': the fast path supports ring, grid, mixture, points"),
])
def test_the_fast_engine_takes_compile_and_steps_aside_for_the_other_device_options(env, compile_counter, tmp_path,
                                                                                     data, overrides, reason):
    base = TOY if data == "ring" else IMAGE
    cfg = make_config({**base, "data": data, "steps": 2, "log_every": 1, "device": "cpu", **overrides})
    engine = json.loads((run(cfg, tmp_path / "r", quiet=True).path / R.CONFIG_FILE).read_text())["engine"]
    assert engine == ({"name": "fast", "requested": "auto", "path": "closed form"} if reason is None else
                      {"name": "reference", "requested": "auto", "reason": reason})
