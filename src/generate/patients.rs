//! Who each appointment is for: patients drawn per tenant and calendar week, so that no patient is
//! in two rooms at once and nobody comes more often than real patients do.
//!
//! The rules, by construction:
//! - a patient has at most one appointment per local day (whatever its status). Appointments lie
//!   inside one local working day, and two local working days never overlap, so a patient's
//!   appointments never overlap — live or cancelled, across UTC midnight and month boundaries too;
//! - a patient has at most `patients.max_per_week` appointments per calendar week (Monday to
//!   Sunday in the tenant's time zone): the most frequent real patients (dialysis, physiotherapy)
//!   come about three times a week;
//! - popularity stays skewed (`popularity.patient_skew`, Zipf over the tenant's patients): a
//!   patient who is full that day or week, or soft-deleted by the end of the day, is skipped and
//!   another one drawn — so the excess of the most popular patients spreads over the others in
//!   proportion to their popularity (water-filling), rather than piling onto the next rank.
//!
//! A tenant's week is the unit: its appointments are assigned in one pass (day, provider, slot
//! order) from a stream of its own, with per-patient counters in plain arrays indexed by the
//! patient's offset in the tenant (no hashing). Weeks are independent of each other, so a month
//! partition is generated alone, like the provider-days: a week that straddles two months is
//! assigned twice, identically, and each month keeps its days. [`World::plan`] checks up front that
//! every tenant-day can be served under these rules (see [`check_capacity`]), so the draw never
//! runs out of patients.

use super::rng::Stream;
use super::world::World;
use crate::error::{Error, Result};

/// Draws from the popularity distribution before falling back to a scan for any free patient.
/// With the top patients full, a draw succeeds with probability well above 1/2, so the scan is
/// practically never reached; it guarantees termination when a profile sits right at its capacity.
const REDRAWS: u32 = 64;

/// The patients of one tenant's calendar week: `patients[starts[i]..starts[i + 1]]` are those of
/// the `i`-th (day of week, provider) pair, one per slot of that provider-day in start order.
#[derive(Debug, Clone, Default)]
pub struct WeekPatients {
    /// Tenant index the week belongs to, `usize::MAX` before the first assignment.
    tenant: usize,
    /// Week number (see [`World::week_of`]); meaningful once `tenant` is set.
    week: i64,
    /// Offsets into `patients`, per (day of week × provider of the tenant), plus the end.
    starts: Vec<u32>,
    /// Patient indexes into `World::patient_ids`.
    patients: Vec<u32>,
}

/// Per-patient counters of the week being assigned, indexed by the patient's offset in its tenant;
/// reused across tenants and weeks (only the touched entries are reset).
#[derive(Debug, Clone, Default)]
pub struct Scratch {
    /// Appointments this week.
    count: Vec<u8>,
    /// The day (an ever-increasing stamp) of the patient's latest appointment.
    stamp: Vec<u32>,
    /// Stamp of the day being assigned; bumped per day.
    epoch: u32,
}

impl WeekPatients {
    /// Nothing assigned yet.
    pub fn new() -> WeekPatients {
        WeekPatients {
            tenant: usize::MAX,
            ..WeekPatients::default()
        }
    }

    /// The patients of provider `p` (of this week's tenant) on day `day`, one per slot. Empty when
    /// the day lies outside the assigned week.
    pub fn of(&self, w: &World, p: usize, day: usize) -> &[u32] {
        let tenant = &w.tenants[self.tenant];
        let Some(dow) = w.day_of_week(day, self.week) else {
            return &[];
        };
        let i = dow * tenant.providers.len() + (p - tenant.providers.start);
        &self.patients[self.starts[i] as usize..self.starts[i + 1] as usize]
    }

    /// True when this holds tenant `t`'s week `week`.
    pub fn holds(&self, t: usize, week: i64) -> bool {
        self.tenant == t && self.week == week
    }
}

impl World {
    /// Calendar week of day index `day`: weeks run Monday to Sunday, week 0 holds day 0.
    #[allow(
        clippy::cast_possible_wrap,
        reason = "day indexes span the profile's months, at most 240 × 31 days"
    )]
    pub fn week_of(&self, day: usize) -> i64 {
        (day as i64 + self.week_offset).div_euclid(7)
    }

    /// Day index of the Monday of `week` (negative for the first week when day 0 is not a Monday).
    pub fn monday_of(&self, week: i64) -> i64 {
        week * 7 - self.week_offset
    }

    /// 0 (Monday) to 6 for a day of `week`, `None` for a day of another week.
    #[allow(
        clippy::cast_possible_wrap,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "day indexes span the profile's months; the difference is checked to be 0..7"
    )]
    fn day_of_week(&self, day: usize, week: i64) -> Option<usize> {
        let d = day as i64 - self.monday_of(week);
        (0..7).contains(&d).then_some(d as usize)
    }

    /// Assigns tenant `t`'s week `week` into `out` (see the module docs).
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "patient counts fit u32 (the generator's memory bound keeps them below 2^28); \
                  day indexes are checked to lie in 0..ndays"
    )]
    pub fn assign_week(&self, t: usize, week: i64, scratch: &mut Scratch, out: &mut WeekPatients) {
        let tenant = &self.tenants[t];
        let npat = tenant.patients.len();
        if scratch.count.len() < npat {
            scratch.count.resize(npat, 0);
            scratch.stamp.resize(npat, 0);
        }
        out.tenant = t;
        out.week = week;
        out.starts.clear();
        out.patients.clear();
        let mut rng = Stream::new(&self.keys.patient_week, ((t as u64) << 24) | (week as u64));
        let cap = self.max_per_week;
        let monday = self.monday_of(week);
        for d in monday..monday + 7 {
            // A fresh stamp per day: a patient stamped today is taken today. On wrap-around (after
            // 4 billion days), clear the stamps so an old one cannot match.
            scratch.epoch = scratch.epoch.wrapping_add(1);
            if scratch.epoch == 0 {
                scratch.stamp.fill(0);
                scratch.epoch = 1;
            }
            let day = usize::try_from(d).ok().filter(|d| *d < self.ndays);
            let end_of_day = day.and_then(|day| tenant.windows[day]).map(|(_, we)| we);
            for p in tenant.providers.clone() {
                out.starts.push(out.patients.len() as u32);
                let (Some(day), Some(end_of_day)) = (day, end_of_day) else {
                    continue;
                };
                for _ in 0..self.day_count(p, day) {
                    let off = self.draw(t, end_of_day, cap, scratch, &mut rng);
                    scratch.count[off] += 1;
                    scratch.stamp[off] = scratch.epoch;
                    out.patients.push((tenant.patients.start + off) as u32);
                }
            }
        }
        out.starts.push(out.patients.len() as u32);
        // Only the touched counters go back to zero.
        for p in &out.patients {
            scratch.count[*p as usize - tenant.patients.start] = 0;
        }
    }

    /// A patient (offset in tenant `t`) who is free today, under the weekly cap and not deleted by
    /// `end_of_day`: by popularity, else the first free one from a random place.
    #[allow(
        clippy::cast_possible_truncation,
        reason = "ranks and offsets are below the tenant's patient count, a usize"
    )]
    fn draw(
        &self,
        t: usize,
        end_of_day: i64,
        cap: u8,
        scratch: &Scratch,
        rng: &mut Stream,
    ) -> usize {
        let tenant = &self.tenants[t];
        let free = |off: usize| {
            scratch.count[off] < cap
                && scratch.stamp[off] != scratch.epoch
                && self.patient_deleted[tenant.patients.start + off] > end_of_day
        };
        for _ in 0..REDRAWS {
            let rank = tenant.patient_rank.sample(rng.f64());
            let off = tenant.patient_perm.apply(rank) as usize;
            if free(off) {
                return off;
            }
        }
        let n = tenant.patients.len();
        let from = rng.below(n as u64) as usize;
        // `check_capacity` guarantees a free never-deleted patient; the first patient is the
        // (unreachable) last resort.
        (0..n)
            .map(|i| (from + i) % n)
            .find(|off| free(*off))
            .unwrap_or(0)
    }
}

/// Checks that every tenant-day can be given distinct patients under the weekly cap, counting
/// only patients who are never deleted: on a day with `k` appointments after `u` earlier ones in
/// the same week, at most `u / cap` patients are full and `k - 1` taken today, so a free patient is
/// left for each slot when `live × cap ≥ u + k × cap`. Fails with what to change.
pub fn check_capacity(w: &World) -> Result<()> {
    let cap = u64::from(w.max_per_week);
    for (t, tenant) in w.tenants.iter().enumerate() {
        let live = tenant
            .patients
            .clone()
            .filter(|p| w.patient_deleted[*p] == i64::MAX)
            .count() as u64;
        let mut week = i64::MIN;
        let mut before = 0u64;
        for day in 0..w.ndays {
            if w.week_of(day) != week {
                week = w.week_of(day);
                before = 0;
            }
            let k: u64 = tenant
                .providers
                .clone()
                .map(|p| u64::from(w.day_count(p, day)))
                .sum();
            if live.saturating_mul(cap) < before.saturating_add(k.saturating_mul(cap)) {
                return Err(Error::Dataset(format!(
                    "profile `{}` at scale {}: tenant {} books {k} appointments on {} after {before} \
                     earlier that week, but with {live} patients who are never deleted, at most one \
                     appointment per patient and day and patients.max_per_week = {cap} it cannot \
                     give each a patient: add patients, raise patients.max_per_week, or lower \
                     appointments",
                    w.profile.name,
                    w.scale,
                    t + 1,
                    w.first_day + chrono::Duration::days(i64::try_from(day).unwrap_or(0)),
                )));
            }
            before += k;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use chrono::{Datelike, NaiveDate, TimeZone};

    use super::*;
    use crate::dataset::Profile;
    use crate::generate::copy::PG_EPOCH_UNIX_SECS;
    use crate::generate::rows::Appointment;

    fn world(profile: &str, scale: f64, seed: u64) -> World {
        World::plan(&Profile::resolve(profile).unwrap(), scale, seed).unwrap()
    }

    /// (patient, local date, start, end, cancelled) of every appointment.
    fn visits(w: &World) -> Vec<(u32, NaiveDate, i64, i64, bool)> {
        let mut v = Vec::new();
        for m in 0..w.months.len() {
            w.month_appointments(m, &mut |a: &Appointment| {
                let zone = w.tenants[a.tenant as usize].zone;
                let secs = a.scheduled_at.div_euclid(1_000_000) + PG_EPOCH_UNIX_SECS;
                let local = zone.timestamp_opt(secs, 0).unwrap().date_naive();
                v.push((
                    a.patient,
                    local,
                    a.scheduled_at,
                    a.end(),
                    a.status == "cancelled",
                ));
            });
        }
        v
    }

    fn assert_realistic(w: &World) {
        let mut v = visits(w);
        assert_eq!(v.len() as u64, w.counts.appointments);
        v.sort_by_key(|x| (x.0, x.2));
        for pair in v.windows(2) {
            if pair[0].0 == pair[1].0 {
                // Never two appointments of a patient on one local day, so never an overlap.
                assert!(pair[0].1 < pair[1].1, "{pair:?}");
                assert!(pair[0].3 <= pair[1].2, "{pair:?}");
            }
        }
        let mut per_week: HashMap<(u32, i32, u32), u32> = HashMap::new();
        for (p, date, ..) in &v {
            let iso = date.iso_week();
            *per_week.entry((*p, iso.year(), iso.week())).or_default() += 1;
        }
        let busiest_week = per_week.values().copied().max().unwrap();
        assert!(
            busiest_week <= u32::from(w.max_per_week),
            "{busiest_week} > {}",
            w.max_per_week
        );
        // The skew is kept: the most popular patients reach the cap, and the busiest patient has
        // far more appointments than the typical one.
        assert_eq!(busiest_week, u32::from(w.max_per_week));
        let mut per_patient: HashMap<u32, u32> = HashMap::new();
        for (p, ..) in &v {
            *per_patient.entry(*p).or_default() += 1;
        }
        let mut counts: Vec<u32> = per_patient.into_values().collect();
        counts.sort_unstable();
        let (median, top) = (counts[counts.len() / 2], counts[counts.len() - 1]);
        assert!(top >= 10 * median, "busiest {top}, median {median}");
    }

    #[test]
    fn patients_never_overlap_and_respect_the_weekly_cap() {
        assert_realistic(&world("tiny", 1.0, 42));
        assert_realistic(&world("tiny", 3.0, 7));
        assert_realistic(&world("clinic", 0.05, 42));
    }

    #[test]
    fn the_assignment_is_deterministic_per_week() {
        let w = world("tiny", 1.0, 42);
        let mut s = Scratch::default();
        let (mut a, mut b) = (WeekPatients::new(), WeekPatients::new());
        w.assign_week(1, 5, &mut s, &mut a);
        // Another week in between leaves nothing behind in the scratch counters.
        w.assign_week(1, 6, &mut s, &mut b);
        w.assign_week(1, 5, &mut s, &mut b);
        assert_eq!(a.patients, b.patients);
        assert_eq!(a.starts, b.starts);
        assert!(!a.patients.is_empty());
    }

    #[test]
    fn too_few_patients_are_refused_at_plan_time() {
        let mut profile = Profile::resolve("tiny").unwrap();
        profile.spec.per_scale.patients = 30.0;
        let err = World::plan(&profile, 1.0, 42).err().unwrap().to_string();
        assert!(err.contains("max_per_week"), "{err}");
        assert!(err.contains("add patients"), "{err}");
    }
}
