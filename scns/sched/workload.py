"""A synthetic, reproducible workload, so policies can be compared without a real trace.

The model (every draw from random.Random(seed), in a fixed order, so a seed names a trace):
- Width: 90% narrow jobs, a power of two from 1 to a quarter node, each power equally likely;
  10% wide jobs, uniform from half a node to a full node (inclusive).
- Run time: lognormal with median 10 minutes and sigma 2 (heavy-tailed: many jobs of seconds,
  a few of hours), rounded up to whole seconds and clamped to 1 s .. 1 day.
- Estimate (requested time): run time x uniform[1, 5], rounded up to the next of 5, 15, 30, 60
  minutes, 2, 4, 8, 12 or 24 hours; users over-estimate, as in real traces.
- Arrivals: a Poisson process whose rate makes the offered load (sum of cpus x run time over
  the arrival span) equal `load` times the cluster's CPUs, using the drawn jobs' mean work.
"""

import math
import random

from scns.sched.swf import SwfJob

WIDE_FRACTION = 0.1
RUN_MEDIAN_S = 600.0
RUN_SIGMA = 2.0
RUN_MAX_S = 86_400
ESTIMATE_FACTOR_MAX = 5.0
NICE_LIMITS_S = (300, 900, 1800, 3600, 7200, 14_400, 28_800, 43_200, 86_400)


def generate(
    n: int, seed: int, *, cpus_per_node: int = 32, nodes: int = 4, load: float = 0.9
) -> list[SwfJob]:
    """n jobs of the model above for nodes x cpus_per_node CPUs at the given offered load."""
    if n < 0 or cpus_per_node < 1 or nodes < 1 or load <= 0:
        raise ValueError("need n >= 0, cpus_per_node >= 1, nodes >= 1 and load > 0")
    rng = random.Random(seed)
    shapes = [_draw_shape(rng, cpus_per_node) for _ in range(n)]
    if not shapes:
        return []
    mean_work = sum(cpus * run_s for cpus, run_s, _ in shapes) / n
    rate_per_s = load * nodes * cpus_per_node / mean_work
    jobs, clock = [], 0.0
    for job_id, (cpus, run_s, limit_s) in enumerate(shapes, start=1):
        jobs.append(SwfJob(job_id, int(clock), run_s, cpus, limit_s))
        clock += rng.expovariate(rate_per_s)
    return jobs


def _draw_shape(rng: random.Random, cpus_per_node: int) -> tuple[int, int, int]:
    cpus = _draw_cpus(rng, cpus_per_node)
    run_s = min(RUN_MAX_S, max(1, math.ceil(rng.lognormvariate(math.log(RUN_MEDIAN_S), RUN_SIGMA))))
    estimate_s = run_s * rng.uniform(1.0, ESTIMATE_FACTOR_MAX)
    limit_s = next((nice for nice in NICE_LIMITS_S if nice >= estimate_s), NICE_LIMITS_S[-1])
    return cpus, run_s, limit_s


def _draw_cpus(rng: random.Random, cpus_per_node: int) -> int:
    if rng.random() < WIDE_FRACTION:
        return rng.randint((cpus_per_node + 1) // 2, cpus_per_node)
    largest_power = max(0, int(math.log2(max(1, cpus_per_node // 4))))
    return 2 ** rng.randint(0, largest_power)
