"""A run's method: what its config adds to a vanilla GAN, named two ways from one table.

`method_name` is the slug of folder names and config.json's "method" ('unrolled10-pack2'); `method_words`
is the label of figures and comparisons ('unrolled K=10, pack 2'). Both read METHOD_KEYS, so a setting
that makes a method (a loss, a normalisation, a stabilizer) cannot be named by one and missed by the other.
"""
from __future__ import annotations

from pathlib import Path

from .config import DEFAULTS, same_setting

#: the settings a method is made of, in the order its name lists them
METHOD_KEYS = ("loss", "g_loss", "d_loss", "unrolled", "unrolled_first_order", "g_norm", "d_norm", "minibatch_disc",
               "spectral_norm", "noisy_labels", "conditional", "aux_classifier", "hist_avg", "label_flip",
               "instance_noise", "replay_size", "swap_every", "g_dropout", "r1", "label_smoothing", "pack")


def _parts(config: dict) -> list[tuple[str, str, str]]:
    """(setting, slug, words) for each method setting of a config (as config.to_dict writes it) that is not
    the default; first order is named with its unroll, and without one it is not a method."""
    changed = {k: config[k] for k in METHOD_KEYS if k in config and not same_setting(config[k], DEFAULTS[k])}
    first = changed.pop("unrolled_first_order", False)
    return [(key, *_name(key, value, first)) for key, value in changed.items()]


def _name(key: str, value, first_order: bool) -> tuple[str, str]:
    """(slug, words) of one method setting's value."""
    dashed, spaced = key.replace("_", "-"), key.replace("_", " ")
    # a user's own loop records its config as it likes: a value of another type is written as it is
    shown = f"{value:g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)
    if key == "loss":
        return str(value), f"{value} loss"
    if key in ("g_loss", "d_loss"):   # FILE.py:FUNCTION or MODULE:FUNCTION, named by its file's name
        where, _, function = shown.rpartition(":")
        return f"{key[0]}-loss-{function}", f"own {key[0].upper()} loss {Path(where).name}:{function}"
    if key == "unrolled":
        return (f"unrolled{shown}" + ("-first-order" if first_order else ""),
                f"unrolled K={shown}" + (" first order" if first_order else ""))
    if key in ("g_norm", "d_norm"):
        return f"{key[0]}-{value}-norm", f"{key[0].upper()} {value} norm"
    if key == "label_smoothing":
        return f"smooth{shown}", f"label smoothing {shown}"
    if isinstance(DEFAULTS[key], bool):
        return dashed, spaced
    return f"{dashed}{shown}", f"{spaced} {shown}"


def method_name(config: dict) -> str:
    """'vanilla', 'unrolled10-pack2', 'wgan-gp-d-batch-norm': for folder names and config.json."""
    return "-".join(slug for _, slug, _ in _parts(config)) or "vanilla"


def method_words(config: dict) -> str:
    """'vanilla', 'unrolled K=10, pack 2', 'wgan-gp loss, D batch norm': for labels beside other runs."""
    return ", ".join(words for _, _, words in _parts(config)) or "vanilla"


def stabilizer_words(config: dict) -> list[str]:
    """The words of each method setting but the loss (['unrolled K=10', 'pack 2']), for a title that names
    the loss anyway."""
    return [words for key, _, words in _parts(config) if key != "loss"]
