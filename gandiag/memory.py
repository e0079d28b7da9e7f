"""What a run of a config holds in memory at once, estimated before anything is allocated or written.

A config can be valid field by field and still not fit: a 10^6-mode mixture (the mode metrics hold an
evaluation-samples x modes distance table), grid_res 100,000 (D's heatmap has grid_res^2 points),
100,000 seeds stacked in one pass. Allocating first fails late (after minutes and folders) and as a
traceback; the estimate refuses such a run in one line that names its largest part, the estimate and
the limit. It counts the large arrays only, so it errs low: a refused run would not have fitted.
On a CUDA device the arrays a run keeps there (the players, batches, replay buffer, evaluation z and
heatmap grid) are measured against the device's free memory, the rest against the host's.
"""
from __future__ import annotations

import os
import resource

import torch

from .config import IMAGE_DATA, Config, ConfigError

FLOAT32, FLOAT64 = 4, 8
#: what each further seed of a pass costs besides its arrays (session, recorder, modules, generators):
#: 100 more seeds of a tiny ring8 config raised the peak RSS by 16 MB
SEED_OVERHEAD = 160_000
#: files each seed of a pass holds open while it trains (its lock and its metrics.jsonl), and the
#: process's own (libraries, the pass's lock) besides
FILES_PER_SEED, FILES_BESIDES = 2, 64
#: the part that stays on the host whatever the run's device: the mode metrics read G's fakes on the CPU
ON_HOST = "the mode metrics' distance table"


def parts(cfg: Config, seeds: int = 1) -> dict[str, tuple[int, tuple[str, ...]]]:
    """{what: (bytes, the options that set it, the usual one first)} for the largest things a run of cfg
    holds at once; what each seed of a stacked pass holds counts once per seed."""
    evaluated = max(cfg.eval_samples, cfg.snapshot_samples)
    modes = cfg.target_modes if cfg.data == "points" else 0 if cfg.data in IMAGE_DATA else \
        len(cfg.centres) if cfg.data == "mixture" else cfg.modes
    each = f" ({seeds:,} seeds)" if seeds > 1 else ""
    return {
        # (N, M, 2) float64 differences, their squares and the (N, M) distances (metrics/coverage.py)
        ON_HOST: (evaluated * modes * 5 * FLOAT64, ("modes", "target_modes", "eval_samples", "snapshot_samples")),
        # grid points, meshgrid, D's scores and the snapshot's copies (record/snapshot.py)
        "D's heatmap grid": (cfg.grid_res ** 2 * 6 * FLOAT32, ("grid_res",)),
        "the replay buffer" + each: (seeds * cfg.replay_size * _sample_size(cfg) * FLOAT32, ("replay_size",)),
        "the evaluation z" + each: (seeds * evaluated * cfg.z_dim * FLOAT32,
                                    ("eval_samples", "snapshot_samples", "z_dim")),
        "the players" + each: (seeds * (_players(cfg) + SEED_OVERHEAD),
                               ("g_hidden and d_hidden", "z_dim", "pack", "maxout_pieces", "unrolled", "g_width",
                                "d_width")),
        "a step's batches" + each: (seeds * _batches(cfg), ("batch", "pack", "unrolled", "d_steps", "mbd_kernels")),
    }


def _sample_size(cfg: Config) -> int:
    return 28 * 28 * (3 if cfg.data == "stacked-mnist" else 1) if cfg.data in IMAGE_DATA else 2


def _players(cfg: Config) -> int:
    """Parameters, gradients and Adam's two moments of both MLP players (image runs: the DCGAN widths)."""
    if cfg.data in IMAGE_DATA:
        params = 25 * 16 * (cfg.g_width ** 2 + cfg.d_width ** 2) + 4 * 4 * 4 * cfg.g_width * cfg.z_dim
    else:
        g = [cfg.z_dim, *cfg.g_hidden, 2]
        d = [2 * cfg.pack, *cfg.d_hidden, 1]
        params = sum(a * b for a, b in zip(g, g[1:])) + sum(a * b for a, b in zip(d, d[1:]))
        params *= cfg.maxout_pieces if cfg.d_act == "maxout" else 1
    return params * 4 * FLOAT32 * (1 + cfg.unrolled)


def _batches(cfg: Config) -> int:
    """A step's activations with their gradients (reals and fakes through D), unrolled copies included."""
    # G makes `pack` samples for each of D's inputs (PacGAN); D's maxout units take their pieces' outputs
    pieces = cfg.maxout_pieces if cfg.d_act == "maxout" else 1
    g_widths = cfg.pack * (cfg.z_dim + sum(cfg.g_hidden) + _sample_size(cfg))
    widths = g_widths + 2 * pieces * sum(cfg.d_hidden)
    if cfg.data in IMAGE_DATA:
        widths += 2 * 28 * 28 * 4 * (cfg.g_width + cfg.d_width)
    step = cfg.batch * widths * 3 * FLOAT32
    if cfg.minibatch_disc:   # the pairwise L1 distances of every kernel (nets/layers.py)
        step += cfg.batch ** 2 * cfg.mbd_kernels * 3 * FLOAT32
    return step * (1 + cfg.unrolled) * max(cfg.d_steps, 1)


def available() -> int:
    """Bytes this process may still take: the memory the system has available, or less under a
    `ulimit -v`."""
    limit = _meminfo_available()
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        limit = min(limit, soft - _address_space())
    return max(limit, 0)


def _meminfo_available() -> int:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _address_space() -> int:
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def device_free(device: torch.device) -> int:
    """Bytes a CUDA device can still give this process: its free memory and what torch's caching
    allocator holds unused."""
    free, _ = torch.cuda.mem_get_info(device)
    return free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)


def check_fits(cfg: Config, seeds: int = 1, limit: int | None = None, device: torch.device | None = None) -> None:
    """Refuse, in one line, a run of `seeds` seeds of cfg on `device` (the CPU where None) that would not
    fit in memory, the host's or the CUDA device's (or, for a pass, in the open files a process may hold)."""
    files, max_files = FILES_PER_SEED * seeds + FILES_BESIDES, resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if seeds > 1 and max_files != resource.RLIM_INFINITY and files > max_files:
        raise ConfigError(f"--seeds {seeds:,} holds {files:,} files open at once (a lock and a metrics file per "
                          f"seed) and this process may open {max_files:,} (ulimit -n): run fewer seeds per pass")
    estimate = parts(cfg, seeds)
    if device is not None and device.type == "cuda":
        on_device = {what: part for what, part in estimate.items() if what != ON_HOST}
        _refuse_beyond(cfg, on_device, device_free(device), f"memory on {device}", seeds)
        estimate = {ON_HOST: estimate[ON_HOST]}
    _refuse_beyond(cfg, estimate, available() if limit is None else limit, "memory", seeds)


def most_seeds(cfg: Config, n: int, device: torch.device | None = None) -> int:
    """The most seeds of cfg, up to n, that one pass holds in memory on `device` (0: not even one)."""
    def fits(k: int) -> bool:
        try:
            check_fits(cfg, k, device=device)
        except ConfigError:
            return False
        return True

    low, high = 0, n   # fits(low) holds (or low = 0); the answer is in [low, high]
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if fits(mid) else (low, mid - 1)
    return low


def _refuse_beyond(cfg: Config, estimate: dict[str, tuple[int, tuple[str, ...]]], limit: int, memory: str,
                   seeds: int) -> None:
    """A ConfigError naming the largest part where the parts add up to more than `limit` bytes, and the
    options to lower for it."""
    total = sum(size for size, _ in estimate.values())
    if total > limit:
        what, (size, options) = max(estimate.items(), key=lambda item: item[1][0])
        option = " or ".join(_raised(cfg, options) or options[:1])
        lower = f"--seeds or {option}" if seeds > 1 and "seeds)" in what else option
        raise ConfigError(f"this run needs about {_gb(total)} of {memory} ({what}: {_gb(size)}), more than the "
                          f"{_gb(limit)} available: lower {lower}")


def out_of_memory(error: BaseException) -> str | None:
    """What ran out, where `error` is an allocation that failed (a CUDA device's, the host's: torch's CPU
    allocator raises a plain RuntimeError for it), else None."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if isinstance(error, torch.OutOfMemoryError):
        return text.split(". GPU")[0]   # "CUDA out of memory. Tried to allocate 2.00 GiB", not the device's census
    if isinstance(error, MemoryError) or (isinstance(error, RuntimeError) and "can't allocate memory" in text):
        return text[text.find("DefaultCPUAllocator"):].split(". Error code")[0] if "DefaultCPUAllocator" in text \
            else f"host memory: {text}"
    return None


def _raised(cfg: Config, options: tuple[str, ...]) -> list[str]:
    """Those of a part's options set above their defaults: what made it large (a group "a and b" counts
    when either is)."""
    defaults = Config()
    return [group for group in options if any(_above(getattr(cfg, name), getattr(defaults, name))
                                              for name in group.split(" and "))]


def _above(value, default) -> bool:
    """Whether a size option (a number, or a list of widths) is larger than its default."""
    if isinstance(value, (list, tuple)):
        return max(value, default=0) > max(default, default=0)
    return value is not None and default is not None and value > default


def _gb(n: int) -> str:
    return f"{n / 1e9:,.1f} GB" if n >= 1e8 else f"{n / 1e6:,.1f} MB"
