"""Every name of the run folder: file names, metrics.jsonl keys, snapshot keys, statuses and the keys of
the analyzer's files. Writers and readers use these constants, so a key is spelled once; the tables of
docs/reference/keys.md are generated from the descriptions below.
"""
from __future__ import annotations

# --- file names ------------------------------------------------------------------------------
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
STATUS_FILE = "status.json"
LOCK_FILE = ".lock"
SNAPSHOT_DIR = "snapshots"
CHECKPOINT_DIR = "checkpoints"
ANALYSIS_FILE = "analysis.json"
DIAGNOSIS_FILE = "diagnosis.json"
TARGET_FILE = "target.npy"           # a user's own 2D points, when they are the target
SEEDS_FILE = "seeds.json"            # a --seeds pass's folder: its config, seeds and engine

# --- config.json entries (besides the config itself) ------------------------------------------
RUN_ID = "run_id"                    # written in config.json and in every checkpoint: a checkpoint belongs to its run
TRAINER = "trainer"                  # who trained the run: GANDIAG_TRAINER (absent: a user's own loop)

# --- metrics.jsonl keys ----------------------------------------------------------------------
STEP = "step"
D_LOSS = "d_loss"
G_LOSS = "g_loss"
D_REAL = "d_real"
D_FAKE = "d_fake"
D_GRAD_NORM = "d_grad_norm"
G_GRAD_NORM = "g_grad_norm"
MODES = "modes"
MODES_STRICT = "modes_strict"
HQ = "hq"
REVERSE_KL = "reverse_kl"
MODE_COUNTS = "mode_counts"
NEAR_COUNTS = "near_counts"
CLASSIFIER_SCORE = "classifier_score"
FRECHET_DISTANCE = "frechet_distance"
SAT_SHARE = "sat_share"
SAT_DLOGIT_MINIMAX = "sat_dlogit_minimax"
SAT_DLOGIT_NONSAT = "sat_dlogit_nonsat"
SAT_GNORM_MINIMAX = "sat_g_grad_norm_minimax"
SAT_GNORM_NONSAT = "sat_g_grad_norm_nonsat"
N_NONFINITE = "n_nonfinite"

#: the metrics rows' keys, as docs/reference/keys.md lists them
METRIC_KEYS = {
    STEP: "the training step the row describes (0: before the first step)",
    D_LOSS: "D's loss at that step",
    G_LOSS: "G's loss at that step",
    D_REAL: "mean D output on the reals (a probability for the cross-entropy losses, else the critic score)",
    D_FAKE: "mean D output on the fakes",
    D_GRAD_NORM: "L2 norm of D's gradient",
    G_GRAD_NORM: "L2 norm of G's gradient",
    MODES: "modes with at least one high-quality sample (PacGAN, VEEGAN); image runs: classes hit",
    MODES_STRICT: "modes holding at least STRICT_FAIR_SHARE (a tenth) of their fair share 1/M of the samples",
    HQ: "share of the samples within 3 standard deviations of some mode (toy targets)",
    REVERSE_KL: "KL(generated || target) over the modes, in nats",
    MODE_COUNTS: "high-quality samples per mode; image runs: samples per classifier class",
    NEAR_COUNTS: "2D targets: samples nearer a mode than its nearest neighbour mode is, HQ or not (where the "
                 "mass is)",
    N_NONFINITE: "2D targets, in rows where there are any: samples with a NaN or infinite coordinate (on no mode, "
                 "infinitely far; the diagnosis calls them divergence)",
    CLASSIFIER_SCORE: "image runs: the Inception-score formula with gandiag's MNIST classifier",
    FRECHET_DISTANCE: "image runs: Frechet distance in that classifier's feature space",
    SAT_SHARE: "snapshot rows: share of the fixed-z fakes with D(G(z)) below the saturation threshold",
    SAT_DLOGIT_MINIMAX: "snapshot rows: mean |dL_G/dlogit| under the saturating loss log(1 - D(G(z)))",
    SAT_DLOGIT_NONSAT: "snapshot rows: mean |dL_G/dlogit| under the non-saturating loss -log D(G(z))",
    SAT_GNORM_MINIMAX: "snapshot rows: G's gradient norm under the saturating loss",
    SAT_GNORM_NONSAT: "snapshot rows: G's gradient norm under the non-saturating loss",
}

N_SAMPLES = "n_samples"              # the samples behind a row's mode metrics (also a coverage report's)
NUMBER, COUNTS = "a number", "a list of numbers"
#: the JSON type of each known metrics key besides STEP (null, how a non-finite value is written, fits every
#: key): readers read a value of another type (a stray edit) as null, so the row keeps its other values
METRIC_TYPES = {**{key: NUMBER for key in METRIC_KEYS if key != STEP}, N_SAMPLES: NUMBER,
                MODE_COUNTS: COUNTS, NEAR_COUNTS: COUNTS}

#: share of D(G(z)) below which a fake counts as saturated (the saturation probe)
SATURATED_BELOW = 1e-3

#: the stricter coverage count: a mode needs this fraction of its fair share 1/M of the samples
#: (1.25 % for ring8's 8 modes, 0.4 % for grid25, 0.01 % for Stacked MNIST's 1000 classes)
STRICT_FAIR_SHARE = 0.1

# --- snapshot keys ---------------------------------------------------------------------------
SNAP_STEP = "step"
SNAP_FAKES = "fakes"
SNAP_ARROWS = "arrows"
SNAP_FAKE_LOGITS = "fake_logits"
SNAP_GRID_X = "grid_x"
SNAP_GRID_Y = "grid_y"
SNAP_D_GRID = "d_grid"
SNAP_MANIFOLD = "manifold"
SNAP_IMAGES = "images"

#: a snapshot's arrays, as docs/reference/keys.md lists them
SNAPSHOT_KEYS = {
    SNAP_STEP: "the step of the snapshot",
    SNAP_FAKES: "(S, 2) G(z) for the fixed z batch, the same z in every snapshot (toy targets)",
    SNAP_ARROWS: "(S, 2) -dL_G/dx at each fake: where G's loss pushes it",
    SNAP_FAKE_LOGITS: "(S,) D's logits on the fakes",
    SNAP_GRID_X: "(R,) x coordinates of D's grid",
    SNAP_GRID_Y: "(R,) y coordinates of D's grid",
    SNAP_D_GRID: "(R, R) D's output on the grid: row i is y = grid_y[i], column j is x = grid_x[j]",
    SNAP_MANIFOLD: "(Q, Q, 2) a grid of z pushed through G (only when G's input is 2D)",
    SNAP_IMAGES: "(S, C, H, W) G(z) for the fixed z batch (image targets)",
}

#: each snapshot array's shape as readers check it (numbers, any dtype else is damage): a number is that
#: size, a letter a size of at least 1 that every array of the snapshot naming it shares, ... any further axes
#: (a user's D may give its logits as (S, 1))
SNAPSHOT_SHAPES = {SNAP_STEP: (), SNAP_FAKES: ("S", 2), SNAP_ARROWS: ("S", 2), SNAP_FAKE_LOGITS: ("S", ...),
                   SNAP_GRID_X: ("R",), SNAP_GRID_Y: ("R",), SNAP_D_GRID: ("R", "R"), SNAP_MANIFOLD: ("Q", "Q", 2),
                   SNAP_IMAGES: ("S", "C", "H", "W")}

# --- a cell's outcome over its later half (gandiag reproduce, from the analyzer's verdicts) ------
OUTCOME_SPREAD, OUTCOME_HOPS, OUTCOME_COLLAPSED, OUTCOME_PARTIAL = "spread", "hops", "collapsed", "partial"

#: what each outcome means, as docs/reference/keys.md lists them
OUTCOMES = {
    OUTCOME_HOPS: "the analyzer's mode_hopping verdict: the mass moves between modes, near few at once",
    OUTCOME_COLLAPSED: "the mode_collapse verdict without mode_hopping: good samples on few modes",
    OUTCOME_SPREAD: "neither verdict, and the last metrics row holds every mode (strict count)",
    OUTCOME_PARTIAL: "none of the above: some modes held, no collapse or hopping found",
}

# --- status ----------------------------------------------------------------------------------
RUNNING, FINISHED, DIVERGED, INTERRUPTED = "running", "finished", "diverged", "interrupted"
FAILED = "failed"                    # an unexpected error (a bug, out of memory); status.json names it
STOPPED = "stopped"                  # read only: status.json says running, but no process holds the folder

# --- analysis.json, diagnosis.json, `gandiag metrics` (gandiag.analysis; definitions: docs/analyzer.md)
# a coverage report has MODES, MODES_STRICT, HQ, REVERSE_KL, MODE_COUNTS, N_NONFINITE (above) and these:
JS_UNIFORM, ENTROPY = "js_uniform", "entropy"          # and N_SAMPLES (above)
LOG_LIKELIHOOD, GRID_KL, GRID_JS = "log_likelihood", "grid_kl", "grid_js"
KNN_PRECISION, KNN_RECALL, KNN_DENSITY, KNN_COVERAGE = "knn_precision", "knn_recall", "knn_density", "knn_coverage"
# {key: why} for each metric of a report that could not be computed (its value: null)
NOT_COMPUTED = "not_computed"
# analysis.json sections; coverage holds SERIES (metrics rows), SNAPSHOTS (a report per snapshot), FINAL
A_RUN, A_STATUS, A_LOSS = "run", "status", "loss"
A_TRAINER = "trainer"                # "gandiag" (its own trainer) or "own loop" (a user's loop, through the Recorder)
GANDIAG_TRAINER, OWN_LOOP = "gandiag", "own loop"   # also config.json's TRAINER
A_COVERAGE, A_OSCILLATION, A_SATURATION = "coverage", "oscillation", "saturation"
A_JUDGED = "judged"                  # diagnosis.json's fields but the verdicts: which rules could judge the run
SERIES, SNAPSHOTS, FINAL = "series", "snapshots", "final"
N_CLASSES = "n_classes"              # an image run's coverage series: the classes each scored row counted over
# oscillation section
OSC_INDEX, OSC_MODE_INDEX, OSC_LOSS_INDEX = "index", "mode_index", "loss_index"
OSC_SOURCE, OSC_STEPS, OSC_DOMINANT = "source", "steps", "dominant_modes"
OSC_SWITCH_RATE, OSC_DOMINANT_SHARE = "switch_rate", "dominant_share"
# a window: {steps, visited, covered, hq_covered, index}
OSC_WINDOWS, OSC_VISITED, OSC_COVERED = "windows", "visited", "covered"
OSC_HQ_COVERED, OSC_WINDOW = "hq_covered", "window"   # modes held at high quality at once; entries per window
OSC_DRIFT, OSC_D_CYCLE, OSC_G_CYCLE = "angular_drift", "d_loss_cycle", "g_loss_cycle"
DRIFT_PER_SNAPSHOT, DRIFT_MEAN, DRIFT_TURNS = "per_snapshot", "mean", "turns"
CYCLE_PERIOD, CYCLE_AMPLITUDE, CYCLE_PEAK_SHARE = "period_steps", "amplitude", "peak_share"
CYCLE_PERSISTENCE, CYCLE_STRENGTH = "persistence", "strength"
# saturation section: SAT_* and D_GRAD_NORM series under SERIES, plus
SAT_MAX_SHARE, SAT_LAST, SAT_GNORM_RATIO = "max_sat_share", "last", "g_grad_norm_ratio"
# diagnosis.json: {VERDICTS: [{RULE, TITLE, SEVERITY, MESSAGE, EVIDENCE, REMEDIES}], RULES_CHECKED: [...],
# RULES_UNJUDGED: {rule: metrics rows it needs}, for the rules that found nothing in a run with fewer rows,
# DIAGNOSED_ROWS: the run's rows, RESUME_STEPS: the `gandiag resume --steps` total that gives every rule its
# rows (None: not a run of gandiag's trainer, or none needed)}
VERDICTS, RULES_CHECKED = "verdicts", "rules_checked"
RULES_UNJUDGED, DIAGNOSED_ROWS, RESUME_STEPS = "rules_unjudged", "rows", "resume_steps"
V_RULE, V_TITLE, V_SEVERITY, V_MESSAGE, V_EVIDENCE, V_REMEDIES = (
    "rule", "title", "severity", "message", "evidence", "remedies")
EV_STEPS = "steps"                   # every verdict's evidence: [first, last] step it rests on
# `gandiag probe saturation`: RUN/<SATURATION_PROBE>_step_XXXXXXXX_dsteps_N_dlr_LR.json and .png
SATURATION_PROBE = "saturation_probe"
PROBE_D_STEP = "d_step"               # rows also hold D_LOSS and the SAT_* keys at that D step
PROBE_D_LR = "d_lr"                   # the fresh D's learning rate (the file: {STEP, PROBE_D_LR, SERIES: rows})
