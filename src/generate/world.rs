//! The world plan: everything about a dataset that must be decided before any row is written.
//!
//! Tenants with their time zones and working-day windows (converted from local hours to UTC once per
//! tenant and day), the ids of providers and patients (appointments reference them), which patients
//! are soft-deleted and when, and how many appointments each provider has on each local day (checked
//! to leave every appointment a free patient, see `patients`). The
//! per-day counts are allocated up front so that the appointment rows themselves can then be generated
//! for any month partition independently, on any thread, with the exact total the profile asks for.

use std::ops::Range;

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use chrono_tz::Tz;

use super::copy::{MICROS_PER_DAY, MICROS_PER_MIN, pg_micros_from_unix};
use super::patients::check_capacity;
use super::rng::{self, Permutation, Stream, Weighted, Zipf};
use crate::dataset::{Counts, IdKind, Profile, add_months};
use crate::error::{Error, Result};

/// One month partition of `appointment`.
#[derive(Debug, Clone)]
pub struct Month {
    /// The month's first day; the partition holds appointments from it to the next month's.
    pub first: NaiveDate,
    /// [lo, hi) in microseconds since 2000-01-01 UTC.
    pub lo: i64,
    /// Exclusive end of the range: the next month's first midnight UTC.
    pub hi: i64,
    /// The leaf's name, as `create_appointment_partition` names it.
    pub leaf: String,
}

/// One tenant (a clinic group), with its time zone, its entity ranges and its working days.
#[derive(Debug, Clone)]
pub struct Tenant {
    /// The tenant's uuid.
    pub id: [u8; 16],
    /// Display name, `<city> Health <n>` after the zone's city.
    pub name: String,
    /// Time zone the working hours are local to.
    pub zone: Tz,
    /// The tenant's providers, as indexes into `World::provider_ids`.
    pub providers: Range<usize>,
    /// The tenant's patients, as indexes into `World::patient_ids`.
    pub patients: Range<usize>,
    /// The working window [start, end) in UTC micros of each local day (by day index), if it works.
    pub windows: Vec<Option<(i64, i64)>>,
    /// Day indexes whose whole window lies inside the covered months: the days that get appointments.
    pub eligible_days: Vec<u32>,
    /// How often each patient is booked: ranks with the profile's `patient_skew`.
    pub patient_rank: Zipf,
    /// Maps a popularity rank to a patient (offset into `patients`), so popular patients are
    /// scattered.
    pub patient_perm: Permutation,
}

/// The stream families (keys) of a dataset.
pub struct Keys {
    /// Key of the appointment streams (one stream per provider and day).
    pub appointment: [u8; 32],
    /// Key of the provider row stream.
    pub provider_row: [u8; 32],
    /// Key of the patient row streams (one per tenant).
    pub patient_row: [u8; 32],
    /// Key of the streams that pick each appointment's patient (one per tenant and week).
    pub patient_week: [u8; 32],
    /// Key of the tenant row stream.
    pub tenant_row: [u8; 32],
}

/// Every decision about a dataset taken before its rows are written (see the module docs).
pub struct World {
    /// The profile the dataset is generated from.
    pub profile: Profile,
    /// Scale factor applied to the profile's per-scale counts.
    pub scale: f64,
    /// Seed of every random stream.
    pub seed: u64,
    /// Rows per table at this scale.
    pub counts: Counts,
    /// The `appointment` month partitions, in order.
    pub months: Vec<Month>,
    /// The profile's "now", midnight UTC of `as_of`, in micros since 2000-01-01: past vs. upcoming.
    pub as_of: i64,
    /// [first month start, last month end) in micros.
    pub window: (i64, i64),
    /// Day index 0; windows and allocations are indexed from here.
    pub first_day: NaiveDate,
    /// Days covered from `first_day` (the months plus two days either side).
    pub ndays: usize,
    /// Days from the Monday of `first_day`'s week to `first_day` (0 to 6): calendar weeks.
    pub week_offset: i64,
    /// Most appointments a patient has per calendar week (`patients.max_per_week`, 1 to 7).
    pub max_per_week: u8,
    /// Layout of appointment ids (`ids.appointment`).
    pub appointment_ids: IdKind,
    /// Appointments start on this grid (minutes): the gcd of the slot lengths.
    pub grid_min: i64,
    /// Slot lengths in grid units, ascending, and the weighted choice among them.
    pub slot_units: Vec<u32>,
    /// Weighted choice of a slot length (index into `slot_units`).
    pub slot_pick: Weighted,
    /// Most appointments a provider gets on one day.
    pub day_cap: u32,
    /// Every tenant, by tenant index.
    pub tenants: Vec<Tenant>,
    /// Provider uuids, by provider index.
    pub provider_ids: Vec<[u8; 16]>,
    /// Tenant index of each provider.
    pub provider_tenant: Vec<u32>,
    /// Patient uuids, by patient index.
    pub patient_ids: Vec<[u8; 16]>,
    /// deleted_at in micros, `i64::MAX` for live patients.
    pub patient_deleted: Vec<i64>,
    /// Appointments per provider and day: `alloc[provider * ndays + day]`.
    pub alloc: Vec<u8>,
    /// Latest created_at of any tenant, provider or patient: before every appointment is booked.
    pub entities_created_before: i64,
    /// Weighted choice among `PAST_STATUS` (completed, no-show, cancelled) for appointments before
    /// `as_of`.
    pub past_status: Weighted,
    /// Weighted choice among `FUTURE_STATUS` (booked, cancelled) for appointments after `as_of`.
    pub future_status: Weighted,
    /// Weighted choice among `CHANNELS`, the booking channel.
    pub channels: Weighted,
    /// Keys of the per-table random streams.
    pub keys: Keys,
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Local date and time in `zone` to UTC micros. A local time skipped by a DST jump is taken an hour
/// later; an ambiguous one (clocks going back) is the earlier instant.
pub fn local_to_micros(zone: &Tz, local: NaiveDateTime) -> i64 {
    let resolved = zone.from_local_datetime(&local).earliest().or_else(|| {
        zone.from_local_datetime(&(local + chrono::Duration::hours(1)))
            .earliest()
    });
    let secs = match resolved {
        Some(dt) => dt.timestamp(),
        None => local.and_utc().timestamp(),
    };
    pg_micros_from_unix(secs)
}

fn date_micros(d: NaiveDate) -> i64 {
    pg_micros_from_unix(d.and_time(NaiveTime::MIN).and_utc().timestamp())
}

impl World {
    /// Plans the dataset. Fails only when the profile cannot hold its appointments at this scale.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_possible_wrap,
        reason = "profile values are bounded by dataset validation (see issue: bounded input)"
    )]
    pub fn plan(profile: &Profile, scale: f64, seed: u64) -> Result<World> {
        let spec = &profile.spec;
        let counts = profile.counts(scale);
        let months: Vec<Month> = profile
            .months()
            .into_iter()
            .map(|first| Month {
                first,
                lo: date_micros(first),
                hi: date_micros(add_months(first, 1)),
                leaf: format!("appointment_y{:04}m{:02}", first.year(), first.month()),
            })
            .collect();
        let window = (months[0].lo, months[months.len() - 1].hi);
        let as_of = date_micros(profile.as_of);
        let first_day = months[0].first - chrono::Duration::days(2);
        let last_day = add_months(months[months.len() - 1].first, 1) + chrono::Duration::days(2);
        let ndays = (last_day - first_day).num_days() as usize;
        let week_offset = i64::from(first_day.weekday().num_days_from_monday());

        let grid = spec.slots.iter().fold(0, |g, s| gcd(g, s.minutes));
        let mut slots: Vec<(u32, f64)> = spec
            .slots
            .iter()
            .map(|s| (s.minutes / grid, s.weight))
            .collect();
        slots.sort_by_key(|s| s.0);
        let slot_units: Vec<u32> = slots.iter().map(|s| s.0).collect();
        let slot_weights: Vec<f64> = slots.iter().map(|s| s.1).collect();
        let mean_units = slot_units
            .iter()
            .zip(&slot_weights)
            .map(|(u, w)| f64::from(*u) * w)
            .sum::<f64>()
            / slot_weights.iter().sum::<f64>();
        let work_units = ((profile.work_end - profile.work_start).num_minutes() as u32) / grid;
        let day_cap = ((f64::from(work_units) * spec.hours.max_fill / mean_units).floor() as u32)
            .clamp(1, (work_units / slot_units[0]).clamp(1, 255));

        // Entities exist before the first appointment can be booked.
        let max_lead = (spec.booking.max_lead_days * MICROS_PER_DAY as f64) as i64;
        let entities_created_before = window.0 - max_lead - MICROS_PER_DAY;

        // Tenants, their providers and patients in contiguous, even blocks.
        let nt = counts.tenants as usize;
        let (np, npat) = (counts.providers as usize, counts.patients as usize);
        let mut trng = Stream::new(&rng::key(seed, "tenant"), 0);
        let mut perm_rng = Stream::new(&rng::key(seed, "patient-perm"), 0);
        let mut tenants = Vec::with_capacity(nt);
        for t in 0..nt {
            let zone = profile.zones[t % profile.zones.len()];
            let city = zone
                .name()
                .rsplit('/')
                .next()
                .unwrap_or("UTC")
                .replace('_', " ");
            let patients = (t * npat / nt)..((t + 1) * npat / nt);
            let n = patients.len() as u64;
            let mut windows = vec![None; ndays];
            let mut eligible_days = Vec::new();
            for (day, slot) in windows.iter_mut().enumerate() {
                let date = first_day + chrono::Duration::days(day as i64);
                if !profile.work_days[date.weekday().num_days_from_monday() as usize] {
                    continue;
                }
                let ws = local_to_micros(&zone, date.and_time(profile.work_start));
                let we = local_to_micros(&zone, date.and_time(profile.work_end));
                if we <= ws {
                    continue;
                }
                *slot = Some((ws, we));
                if ws >= window.0 && we <= window.1 {
                    eligible_days.push(day as u32);
                }
            }
            tenants.push(Tenant {
                id: trng.uuid(),
                name: format!("{city} Health {}", t + 1),
                zone,
                providers: (t * np / nt)..((t + 1) * np / nt),
                patients,
                windows,
                eligible_days,
                patient_rank: Zipf::new(n, spec.popularity.patient_skew),
                patient_perm: Permutation::new(n, &mut perm_rng),
            });
        }

        let mut provider_tenant = vec![0u32; np];
        for (t, tenant) in tenants.iter().enumerate() {
            for p in tenant.providers.clone() {
                provider_tenant[p] = t as u32;
            }
        }
        let mut prng = Stream::new(&rng::key(seed, "provider-id"), 0);
        let provider_ids: Vec<[u8; 16]> = (0..np).map(|_| prng.uuid()).collect();

        // Patients: ids, and which are soft-deleted when. The first patient of a tenant stays live,
        // so every tenant has someone to book.
        let mut patient_ids = Vec::with_capacity(npat);
        let mut patient_deleted = vec![i64::MAX; npat];
        let mut drng = Stream::new(&rng::key(seed, "patient-id"), 0);
        let del_lo = (window.0 - MICROS_PER_DAY).max(as_of - 365 * MICROS_PER_DAY);
        for tenant in &tenants {
            for (i, p) in tenant.patients.clone().enumerate() {
                patient_ids.push(drng.uuid());
                let deleted = drng.chance(spec.patients.deleted_share);
                let when = drng.between(del_lo, as_of - MICROS_PER_MIN);
                if deleted && i > 0 {
                    patient_deleted[p] = when;
                }
            }
        }

        let alloc = allocate(
            profile,
            scale,
            &counts,
            &tenants,
            &provider_tenant,
            day_cap,
            ndays,
            seed,
        )?;

        let st = &spec.status;
        let world = World {
            profile: profile.clone(),
            scale,
            seed,
            counts,
            months,
            as_of,
            window,
            first_day,
            ndays,
            week_offset,
            max_per_week: spec.patients.max_per_week.clamp(1, 7) as u8,
            appointment_ids: spec.ids.appointment,
            grid_min: i64::from(grid),
            slot_units,
            slot_pick: Weighted::new(&slot_weights),
            day_cap,
            tenants,
            provider_ids,
            provider_tenant,
            patient_ids,
            patient_deleted,
            alloc,
            entities_created_before,
            past_status: Weighted::new(&[st.past.completed, st.past.no_show, st.past.cancelled]),
            future_status: Weighted::new(&[st.future.booked, st.future.cancelled]),
            channels: Weighted::new(&spec.booking.channels.weighted().map(|c| c.1)),
            keys: Keys {
                appointment: rng::key(seed, "appointment"),
                provider_row: rng::key(seed, "provider"),
                patient_row: rng::key(seed, "patient"),
                patient_week: rng::key(seed, "patient-week"),
                tenant_row: rng::key(seed, "tenant-row"),
            },
        };
        check_capacity(&world)?;
        Ok(world)
    }

    /// Day index of a date (may be out of range: callers clamp).
    pub fn day_index(&self, d: NaiveDate) -> i64 {
        (d - self.first_day).num_days()
    }

    /// Appointments of provider `p` on day `day`.
    #[inline]
    pub fn day_count(&self, p: usize, day: usize) -> u32 {
        u32::from(self.alloc[p * self.ndays + day])
    }
}

/// Splits the appointments over providers, then over each provider's working days.
///
/// Providers are ranked in a random order and weighted `(rank + 1)^-skew`; a provider whose share
/// exceeds its capacity (eligible days x `day_cap`) is filled to capacity and the rest goes to the
/// others in proportion (water-filling), with integer rounding by largest remainder, so the total is
/// exact. A provider's count is then spread evenly over its days and shuffled by random one-at-a-time
/// moves between days, which gives quiet and busy days without ever exceeding `day_cap`.
#[allow(clippy::too_many_arguments)]
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "draws below n index slices of length n; the float target is >= 0 and capped; a day's \
              count is at most day_cap <= 255"
)]
fn allocate(
    profile: &Profile,
    scale: f64,
    counts: &Counts,
    tenants: &[Tenant],
    provider_tenant: &[u32],
    day_cap: u32,
    ndays: usize,
    seed: u64,
) -> Result<Vec<u8>> {
    let np = provider_tenant.len();
    let caps: Vec<u64> = provider_tenant
        .iter()
        .map(|t| tenants[*t as usize].eligible_days.len() as u64 * u64::from(day_cap))
        .collect();
    let capacity: u64 = caps.iter().sum();
    let total = counts.appointments;
    if total > capacity {
        return Err(Error::Dataset(format!(
            "profile `{}` at scale {scale} asks for {total} appointments but its providers' working days \
             hold at most {capacity}: add providers, months, working hours or days, or raise hours.max_fill",
            profile.name
        )));
    }
    let mut rank_rng = Stream::new(&rng::key(seed, "provider-rank"), 0);
    let mut ranks: Vec<usize> = (0..np).collect();
    for i in (1..np).rev() {
        ranks.swap(i, rank_rng.below(i as u64 + 1) as usize);
    }
    let skew = profile.spec.popularity.provider_skew;
    let weights: Vec<f64> = ranks
        .iter()
        .map(|r| (*r as f64 + 1.0).powf(-skew))
        .collect();

    let mut per_provider: Vec<Option<u64>> = vec![None; np];
    let mut remaining = total;
    loop {
        let active_w: f64 = (0..np)
            .filter(|i| per_provider[*i].is_none())
            .map(|i| weights[i])
            .sum();
        let mut changed = false;
        for i in 0..np {
            if per_provider[i].is_none()
                && remaining as f64 * weights[i] / active_w >= caps[i] as f64
            {
                per_provider[i] = Some(caps[i]);
                remaining -= caps[i];
                changed = true;
            }
        }
        if !changed || active_w == 0.0 {
            break;
        }
    }
    let active: Vec<usize> = (0..np).filter(|i| per_provider[*i].is_none()).collect();
    let active_w: f64 = active.iter().map(|i| weights[*i]).sum();
    let mut fracs = Vec::with_capacity(active.len());
    let mut assigned = 0u64;
    for &i in &active {
        let target = remaining as f64 * weights[i] / active_w;
        let base = (target.floor() as u64).min(caps[i]);
        per_provider[i] = Some(base);
        assigned += base;
        fracs.push((target - target.floor(), i));
    }
    fracs.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut left = remaining - assigned;
    while left > 0 {
        let before = left;
        for &(_, i) in &fracs {
            if left == 0 {
                break;
            }
            let c = per_provider[i].get_or_insert(0);
            if *c < caps[i] {
                *c += 1;
                left -= 1;
            }
        }
        if before == left {
            break; // cannot happen: total <= capacity
        }
    }

    let mut alloc = vec![0u8; np * ndays];
    let key = rng::key(seed, "alloc");
    for p in 0..np {
        let c = per_provider[p].unwrap_or(0);
        let days = &tenants[provider_tenant[p] as usize].eligible_days;
        if c == 0 || days.is_empty() {
            continue;
        }
        let mut rng = Stream::new(&key, p as u64);
        let d = days.len() as u64;
        let mut per_day = vec![(c / d) as u32; days.len()];
        // The remainder goes to distinct random days (a partial Fisher-Yates shuffle).
        let mut order: Vec<usize> = (0..days.len()).collect();
        for k in 0..(c % d) as usize {
            let j = k + rng.below((days.len() - k) as u64) as usize;
            order.swap(k, j);
            per_day[order[k]] += 1;
        }
        for _ in 0..c / 2 {
            let a = rng.below(d) as usize;
            let b = rng.below(d) as usize;
            if per_day[a] > 0 && per_day[b] < day_cap {
                per_day[a] -= 1;
                per_day[b] += 1;
            }
        }
        for (i, day) in days.iter().enumerate() {
            alloc[p * ndays + *day as usize] = per_day[i] as u8;
        }
    }
    Ok(alloc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocation_is_exact_capped_and_skewed() {
        let profile = Profile::resolve("tiny").unwrap();
        let world = World::plan(&profile, 1.0, 42).unwrap();
        let total: u64 = world.alloc.iter().map(|c| u64::from(*c)).sum();
        assert_eq!(total, world.counts.appointments);
        assert!(world.alloc.iter().all(|c| u32::from(*c) <= world.day_cap));
        let per_provider: Vec<u64> = (0..world.provider_ids.len())
            .map(|p| {
                (0..world.ndays)
                    .map(|d| u64::from(world.day_count(p, d)))
                    .sum()
            })
            .collect();
        let (min, max) = (
            per_provider.iter().min().unwrap(),
            per_provider.iter().max().unwrap(),
        );
        assert!(max > min, "{per_provider:?}");
    }

    #[test]
    fn an_overfull_profile_is_refused() {
        let mut profile = Profile::resolve("tiny").unwrap();
        profile.spec.per_scale.appointments = 1e6;
        let err = World::plan(&profile, 1.0, 1).err().unwrap().to_string();
        assert!(err.contains("hold at most"), "{err}");
    }

    #[test]
    fn los_angeles_afternoons_cross_midnight_utc() {
        let profile = Profile::resolve("tiny").unwrap();
        let world = World::plan(&profile, 1.0, 42).unwrap();
        let la = world
            .tenants
            .iter()
            .find(|t| t.zone.name() == "America/Los_Angeles")
            .unwrap();
        let (ws, we) = la.windows.iter().flatten().next().copied().unwrap();
        let midnight = |m: i64| m.div_euclid(MICROS_PER_DAY);
        assert_ne!(midnight(ws), midnight(we - 1));
    }
}
