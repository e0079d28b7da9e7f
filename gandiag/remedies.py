"""What to try, for each failure the diagnosis finds: the seeds' remedies (ganhacks' "track failures
early", the lecture notes, the papers in shared/reference), each told in the light of the run's config.

A remedy the run already applies is never suggested again: it is dropped, or replaced by what follows
from it (a run that already unrolls 10 steps is told to unroll more, or to combine). Nor is one whose
flags the run's config would refuse (label smoothing for a WGAN critic: gandiag.config refuses a setting
given where it does nothing). A config of {} (a run from a user's own loop, or an unknown one) gets every
remedy as written. One remedy is told by the data, not the config: standardising, only of data far from
where the run's G started, with the data's centre and scale.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .config import IMAGE_DATA, TARGET_LOSSES


@dataclass(frozen=True)
class Remedy:
    text: str                                             # as it reads for a run of unknown config
    done: Callable[[dict], bool] | None = None            # the run's config already has this
    # what to say then (None: say nothing), given the config and the last step the run reached (None: unknown)
    then: Callable[[dict, int | None], str | None] | None = None
    takes: Callable[[dict], bool] | None = None           # the run's config can take its flags (None: any)
    # told only of data far from where G starts (gandiag.facts.Spread; None: not): how, given the config and it
    on_data: Callable[[dict, object], str] | None = None

    def for_run(self, config: dict, reached: int | None = None, data=None) -> str | None:
        if self.on_data is not None:
            return None if data is None else f"{self.text}: {self.on_data(config, data)}"
        if config and self.takes is not None and not self.takes(config):
            return None
        if not config or self.done is None or not self.done(config):
            return self.text
        return self.then(config, reached) if self.then is not None else None


def for_run(remedies: tuple[Remedy, ...], config: dict, reached: int | None = None, data=None) -> tuple[str, ...]:
    """The remedies as they read for a run with this config that reached step `reached` (and whose data,
    a gandiag.facts.Spread, lies far from where its G started; None: it does not), those it already
    applies left out."""
    return tuple(text for text in (r.for_run(config, reached, data) for r in remedies) if text)


def _uses(field: str) -> Callable[[dict], bool]:
    return lambda c: bool(c.get(field))


def _more_unrolling(c: dict, _reached: int | None) -> str:
    k = int(c["unrolled"])
    more = max(10, 2 * k)
    combine = "" if c.get("minibatch_disc") else \
        f", or combine it with minibatch discrimination: --unrolled {k} --minibatch-disc"
    return f"more unroll steps: --unrolled {more} (this run unrolls {k}){combine}"


def _more_packing(c: dict, _reached: int | None) -> str | None:
    p = int(c["pack"])
    return f"more packing: --pack {p + 1} (this run packs {p}; PacGAN uses 2-4)" if p < 4 else None


#: above this a learning rate is far from any published GAN setting (Adam at 1e-4 to 2e-4 in the papers)
_FAR_OFF_LR = 1e-2


def _lower_rates(c: dict, _reached: int | None) -> str:
    d, g = float(c["d_lr"]), float(c["g_lr"])
    if max(d, g) > _FAR_OFF_LR:
        lower = "the published settings use Adam at 1e-4 to 2e-4: --d-lr 1e-4 --g-lr 1e-4"
    else:
        lower = f"try a tenth: --d-lr {d / 10:g} --g-lr {g / 10:g}"
    return f"lower the learning rates (this run: --d-lr {d:g} --g-lr {g:g}); {lower}"


def _d_more(c: dict, _reached: int | None) -> str:
    wider = f"--d-width (now {c.get('d_width', 'the default')})" if c.get("data") in IMAGE_DATA else \
        f"--d-hidden (now {','.join(str(w) for w in c.get('d_hidden', ())) or 'the default'})"
    return f"give D more steps or capacity: --d-steps {int(c['d_steps']) + 1} (now {c['d_steps']}), a wider {wider}"


def _trains_to_targets(c: dict) -> bool:
    return c.get("loss") in (None, *TARGET_LOSSES)   # None: a loss the config does not name


def _d_sees_only_labeled_inputs(c: dict) -> bool:
    """Packs, unrolled copies of D and replayed fakes are D inputs of unknown class, which a class-label
    run refuses (gandiag.nets.dcgan.build_dcgan)."""
    return not (c.get("conditional") or c.get("aux_classifier"))


def resume_total(c: dict, reached: int | None, more: int = 0) -> int:
    """The --steps total to resume a run to: `more` steps past the step it reached, and at least the
    total it was started for (an interrupted run has not had its planned steps yet)."""
    planned = int(c["steps"])
    return max(planned, (planned if reached is None else reached) + more)


def _train_longer(c: dict, reached: int | None) -> str:
    planned = int(c["steps"])
    # twice what it trained: an interrupted run's planned total says nothing of how far it got
    total = resume_total(c, reached, planned if reached is None else reached)
    trained = f"{planned} steps" if reached is None or reached >= planned else \
        f"its rows reach step {reached} of the {planned} planned"
    return (f"train longer: gandiag resume RUN --steps {total} (this run: {trained}; the "
            "Unrolled GAN paper trains ring8 for 25,000)")


def _standardise(c: dict, data) -> str:
    centre = ", ".join(f"{v:.3g}" for v in data.centre)
    what = f"subtract its centre ({centre}) and divide by its scale {data.scale:.3g}"
    file = c.get("data_file")
    if file:
        copy = Path(file).with_name(f"{Path(file).stem}_std.npy").as_posix()
        # one scale for both coordinates keeps the modes' shapes (and the modes fitted to them) as they are
        return (f"{what}; gandiag has no option that rescales the data, so write a standardised copy and train on "
                f"it: python -c \"import numpy as np; from gandiag.data.points import load_samples; "
                f"x = load_samples('{file}'); np.save('{copy}', (x - x.mean(0)) / np.sqrt(x.var(0).mean()))\" "
                f"then --data-file {copy}")
    if c.get("data"):   # a scenario's mixture: its own settings place it
        return f"{what}: set the scenario's centres, radius or spacing and stds in those units"
    return f"{what} in your loop before training on it"


UNROLL = Remedy("unrolled D (Metz et al.): --unrolled 10", _uses("unrolled"), _more_unrolling,
                takes=_d_sees_only_labeled_inputs)
MINIBATCH = Remedy("minibatch discrimination: --minibatch-disc", _uses("minibatch_disc"))
PACK = Remedy("packing (PacGAN): --pack 2", lambda c: int(c.get("pack", 1)) > 1, _more_packing,
              takes=_d_sees_only_labeled_inputs)
REPLAY = Remedy("experience replay of old fakes: --replay-size 10000", _uses("replay_size"),
                takes=_d_sees_only_labeled_inputs)
HIST_AVG = Remedy("historical averaging: --hist-avg 0.1", _uses("hist_avg"))
SWAPS = Remedy("swap in old checkpoints now and then: --swap-every 1000", _uses("swap_every"))
SMOOTHING = Remedy("one-sided label smoothing: --label-smoothing 0.9", lambda c: c.get("label_smoothing", 1.0) != 1.0,
                   takes=_trains_to_targets)
SMOOTHING_GRADIENTS = Remedy("one-sided label smoothing keeps D from giving G very large gradients: "
                             "--label-smoothing 0.9", SMOOTHING.done, takes=_trains_to_targets)
INSTANCE_NOISE = Remedy("instance noise on D's inputs, decayed: --instance-noise 0.1 --instance-noise-decay <steps>",
                        _uses("instance_noise"))
NOISY_LABELS = Remedy("noisy labels or occasional flips: --noisy-labels, --label-flip 0.05",
                      lambda c: bool(c.get("noisy_labels")) or c.get("label_flip", 0) > 0, takes=_trains_to_targets)
NONSATURATING = Remedy("the non-saturating G loss keeps G's gradient alive: --loss nonsaturating",
                       lambda c: c.get("loss") == "nonsaturating")
PENALTY = Remedy("a gradient penalty: --loss wgan-gp, or --r1 10",
                 lambda c: c.get("loss") == "wgan-gp" or c.get("r1", 0) > 0)
WGAN_GP = Remedy("a Wasserstein loss with gradient penalty: --loss wgan-gp", lambda c: c.get("loss") == "wgan-gp")
SPECTRAL = Remedy("spectral normalisation on D: --spectral-norm", _uses("spectral_norm"))
LOWER_RATES = Remedy("lower the learning rates (--d-lr, --g-lr)", lambda c: "d_lr" in c and "g_lr" in c, _lower_rates)
BETAS = Remedy("Adam with beta1 0.5: --d-beta1 0.5 --g-beta1 0.5",
               lambda c: c.get("d_beta1") == 0.5 and c.get("g_beta1") == 0.5)
D_MORE = Remedy("give D more capacity or steps: --d-steps 2, a wider --d-hidden (image runs: --d-width)",
                lambda c: "d_steps" in c, _d_more)
LOOK = Remedy("G is fooling D with garbage: look at the samples (gandiag animate RUN)")
TRAIN_LONGER = Remedy("train longer (a run of gandiag's trainer: gandiag resume RUN --steps <a larger total>)",
                      lambda c: "steps" in c,
                      _train_longer)
STANDARDISE = Remedy("standardise the data, which lie far from where G starts", on_data=_standardise)
WATCH = Remedy("watch the samples sharpen: gandiag animate RUN, or gandiag report RUN")
