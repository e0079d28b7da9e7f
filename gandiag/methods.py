"""A run's method: what its config adds to a vanilla GAN, named two ways from one table.

`method_name` is the slug of folder names and config.json's "method" ('unrolled10-pack2'); `method_words`
is the label of figures and comparisons ('unrolled K=10, pack 2'). Both read METHOD_KEYS, so a setting
that makes a method (a loss, a normalisation, a stabilizer) cannot be named by one and missed by the other.
"""
from __future__ import annotations

import json

from .config import DEFAULTS

#: the settings a method is made of, in the order its name lists them
METHOD_KEYS = ("loss", "unrolled", "unrolled_first_order", "g_norm", "d_norm", "minibatch_disc", "spectral_norm",
               "noisy_labels", "conditional", "aux_classifier", "hist_avg", "label_flip", "instance_noise",
               "replay_size", "swap_every", "g_dropout", "r1", "label_smoothing", "pack")


def _changed(config: dict) -> dict:
    """The method settings of a config (as config.to_dict writes it) that are not the defaults."""
    def same(a, b):
        return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    changed = {k: config[k] for k in METHOD_KEYS if k in config and not same(config[k], DEFAULTS[k])}
    if not changed.get("unrolled"):
        # first order only says how an unroll is differentiated: without one it is not a method
        changed.pop("unrolled", None)
        changed.pop("unrolled_first_order", None)
    return changed


def _parts(config: dict) -> list[tuple[str, str]]:
    """(slug, words) for each method setting that is not the default."""
    out = []
    for key, value in _changed(config).items():
        dashed, spaced = key.replace("_", "-"), key.replace("_", " ")
        if key == "loss":
            out.append((str(value), f"{value} loss"))
        elif key == "unrolled":
            first = config.get("unrolled_first_order")
            out.append((f"unrolled{value}" + ("-first-order" if first else ""),
                        f"unrolled K={value}" + (" first order" if first else "")))
        elif key == "unrolled_first_order":
            continue                     # named with the unroll
        elif key in ("g_norm", "d_norm"):
            out.append((f"{key[0]}-{value}-norm", f"{key[0].upper()} {value} norm"))
        elif key == "label_smoothing":
            out.append((f"smooth{value:g}", f"label smoothing {value:g}"))
        elif isinstance(value, bool):
            out.append((dashed, spaced))
        else:
            out.append((f"{dashed}{value:g}", f"{spaced} {value:g}"))
    return out


def method_name(config: dict) -> str:
    """'vanilla', 'unrolled10-pack2', 'wgan-gp-d-batch-norm': for folder names and config.json."""
    return "-".join(slug for slug, _ in _parts(config)) or "vanilla"


def method_words(config: dict) -> str:
    """'vanilla', 'unrolled K=10, pack 2', 'wgan-gp loss, D batch norm': for labels beside other runs."""
    return ", ".join(words for _, words in _parts(config)) or "vanilla"
