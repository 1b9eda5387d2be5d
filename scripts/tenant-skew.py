#!/usr/bin/env python3
"""Tenant skew of the clinic profile at any scale, on paper (README "Beyond one machine, on paper").

The generator (src/generate/world.rs, `allocate`) ranks all providers in a random order, weights
rank r (from 0) by (r + 1)^-provider_skew, fills a provider whose share exceeds its capacity
(eligible working days x day_cap) to capacity and spreads the rest over the others in proportion
(water-filling). Providers and patients are split into even, contiguous blocks per tenant, so a
tenant's appointments are the sum of its providers'. This script repeats that arithmetic (with
Python's RNG for the ranking, not the generator's ChaCha streams, so it gives the distribution, not
the exact dataset) and prints the largest tenant's share. Check it against a real seed at scale 1
(scripts/citus-capacity.sh prints the measured share) before trusting it at scale 1000.

usage: scripts/tenant-skew.py SCALE [TRIALS]
"""
import random
import sys

# datasets/clinic.toml
TENANTS, PROVIDERS, APPOINTMENTS = 20, 200, 1_000_000
PROVIDER_SKEW = 0.4
WORK_UNITS = 40  # 08:00-18:00 on the 15-minute grid
MAX_FILL = 0.85
MEAN_UNITS = (1 * 20 + 2 * 50 + 3 * 15 + 4 * 15) / 100  # slot lengths 15/30/45/60 min, weights 20/50/15/15
DAY_CAP = int(WORK_UNITS * MAX_FILL / MEAN_UNITS)
ELIGIBLE_DAYS = 521  # Monday to Friday from 2024-07-01 to 2026-06-30, less a day at the window's edges


def allocate(np_, total, rng):
    ranks = list(range(np_))
    rng.shuffle(ranks)
    weights = [(r + 1.0) ** -PROVIDER_SKEW for r in ranks]
    cap = ELIGIBLE_DAYS * DAY_CAP
    share = [None] * np_
    remaining = total
    while True:
        active_w = sum(w for w, s in zip(weights, share) if s is None)
        changed = False
        for i in range(np_):
            if share[i] is None and remaining * weights[i] / active_w >= cap:
                share[i] = cap
                remaining -= cap
                changed = True
        if not changed or active_w == 0:
            break
    active_w = sum(w for w, s in zip(weights, share) if s is None)
    return [s if s is not None else remaining * w / active_w for w, s in zip(weights, share)]


def main():
    scale = float(sys.argv[1])
    trials = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    nt, np_ = round(TENANTS * scale), round(PROVIDERS * scale)
    total = round(APPOINTMENTS * scale)
    for seed in range(trials):
        per_provider = allocate(np_, total, random.Random(seed))
        per_tenant = [sum(per_provider[t * np_ // nt:(t + 1) * np_ // nt]) for t in range(nt)]
        largest = max(per_tenant)
        capped = sum(1 for p in per_provider if p >= ELIGIBLE_DAYS * DAY_CAP)
        print(f"scale {scale:g} trial {seed}: {nt} tenants, {np_} providers ({capped} at capacity "
              f"{ELIGIBLE_DAYS * DAY_CAP}), largest tenant {largest:,.0f} appointments = "
              f"{100 * largest / total:.3f}% = {largest / (total / nt):.2f}x the mean")


if __name__ == "__main__":
    main()
