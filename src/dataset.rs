//! Dataset profiles: what a seeded database looks like, per unit of `--scale`.
//!
//! A profile (`datasets/NAME.toml`) describes the miniworld the generator builds: how many tenants,
//! providers, patients and appointments per unit of scale, which months around an `as_of` date the
//! appointments cover, working hours and days in each tenant's own time zone, slot lengths, the status
//! mix of past and future appointments, how skewed popularity is, and so on. The shipped profiles are
//! compiled into the binary (an installed `qcheck` carries them); `--profile path/to/file.toml` reads a
//! user's own. Parsing and validation are pure: no database, no clock, so they are unit-tested here.
//!
//! Every key is required (apart from the booking channels, which default to 0) and unknown keys are
//! refused: a typo must not silently fall back to a default and change the dataset.

use std::path::Path;

use chrono::{Datelike, NaiveDate, NaiveTime, Weekday};
use chrono_tz::Tz;
use include_dir::{Dir, include_dir};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

static BUILTIN: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/datasets");

/// The profile `qcheck seed` uses unless told otherwise.
pub const DEFAULT_PROFILE: &str = "clinic";

/// A profile file as written (the TOML document). See `datasets/clinic.toml` for every key explained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileSpec {
    /// What the profile models, in one line (for readers; part of the content hash).
    pub description: String,
    /// The date that stands in for "now" (midnight UTC). Every timestamp is relative to it.
    pub as_of: toml::value::Datetime,
    /// Whole UTC months before the month of `as_of`.
    pub months_before: u32,
    /// UTC months from the month of `as_of` on, that month included.
    pub months_after: u32,
    /// `[per_scale]`: entity counts per unit of scale.
    pub per_scale: PerScale,
    /// `[tenants]`: the tenants' time zones.
    pub tenants: TenantSpec,
    /// `[hours]`: local working hours and days.
    pub hours: Hours,
    /// `[[slots]]`: appointment lengths and their weights.
    pub slots: Vec<Slot>,
    /// `[status]`: status mix of past and upcoming appointments.
    pub status: StatusMix,
    /// `[popularity]`: how skewed providers' and patients' popularity is.
    pub popularity: Popularity,
    /// `[patients]`: soft-deleted patients and how often one patient may come.
    pub patients: PatientSpec,
    /// `[booking]`: lead times, reasons and channels of bookings.
    pub booking: Booking,
    /// `[audit]`: which appointments get an audit trail.
    pub audit: AuditSpec,
    /// `[ids]`: how appointment ids are made.
    pub ids: Ids,
}

/// `[ids]`: the layout of generated appointment ids.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ids {
    /// `v4` (random) or `v7` (time-ordered: the booking time, then random bits).
    pub appointment: IdKind,
}

/// A uuid layout (RFC 9562). Either way the bits come from the generator's seeded streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdKind {
    /// Version 4: 122 random bits, as `gen_random_uuid()` makes.
    V4,
    /// Version 7: the 48-bit Unix time in milliseconds of the booking (`created_at`), then 74
    /// random bits, as PostgreSQL 18's `uuidv7()` makes at insert time: ids ordered by booking
    /// time.
    V7,
}

/// The plain sections of a profile: every key required, unknown keys refused.
/// Doc comments on a section and its fields are passed through.
macro_rules! section {
    ($($(#[$doc:meta])* $name:ident { $($(#[$fdoc:meta])* $field:ident: $ty:ty),* $(,)? })*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name { $($(#[$fdoc])* pub $field: $ty),* }
    )*};
}

section! {
    /// `[per_scale]`: entity counts per unit of `--scale` (see [`Profile::counts`]).
    PerScale {
        /// Tenants (clinic groups) per unit of scale.
        tenants: f64,
        /// Providers per unit of scale, split evenly over the tenants.
        providers: f64,
        /// Patients per unit of scale, split evenly over the tenants.
        patients: f64,
        /// Appointments per unit of scale; the generated total is exact.
        appointments: f64,
    }
    /// `[tenants]`.
    TenantSpec {
        /// IANA time zones, assigned to tenants round-robin in this order.
        time_zones: Vec<String>,
    }
    /// `[hours]`: local working hours and days, the same for every provider.
    Hours {
        /// Start of the working day, `HH:MM` local time.
        start: String,
        /// End of the working day, `HH:MM` local time, after `start`.
        end: String,
        /// Working weekdays (`mon` .. `sun`).
        days: Vec<String>,
        /// Share of a provider-day's working time that may be booked at most, in (0, 1].
        max_fill: f64,
    }
    /// One `[[slots]]` block: an appointment length and how often it occurs.
    Slot {
        /// Length in minutes, 5 to 480 in 5-minute steps (the schema's rule).
        minutes: u32,
        /// Relative weight among the slot lengths.
        weight: f64,
    }
    /// `[status]`: status mix of past and upcoming appointments.
    StatusMix {
        /// `[status.past]`: appointments that ended before `as_of`.
        past: PastStatus,
        /// `[status.future]`: the others.
        future: FutureStatus,
    }
    /// Relative weights of the statuses of past appointments.
    PastStatus {
        /// Weight of `completed`.
        completed: f64,
        /// Weight of `no_show`.
        no_show: f64,
        /// Weight of `cancelled`.
        cancelled: f64,
    }
    /// Relative weights of the statuses of upcoming appointments.
    FutureStatus {
        /// Weight of `booked`.
        booked: f64,
        /// Weight of `cancelled`.
        cancelled: f64,
    }
    /// `[popularity]`: Zipf-like exponents, 0 (uniform) to 4; 1 is classic Zipf.
    Popularity {
        /// How unequally appointments spread over providers.
        provider_skew: f64,
        /// How unequally appointments spread over a tenant's patients.
        patient_skew: f64,
    }
    /// `[patients]`.
    PatientSpec {
        /// Share of patients soft-deleted (`deleted_at` set), 0 to 0.5.
        deleted_share: f64,
        /// Most appointments (of any status) one patient has in a calendar week, Monday to Sunday
        /// in the tenant's time zone, 1 to 7. The most frequent real patients (dialysis,
        /// physiotherapy) come about three times a week. Independently of it a patient has at most
        /// one appointment per local day, so a patient's appointments never overlap.
        max_per_week: u32,
    }
    /// `[audit]`.
    AuditSpec {
        /// Share of appointments that get rows in `appointment_audit`, 0 to 1.
        share: f64,
    }
}

/// `[booking]`: how far ahead appointments are booked, with what reason, through which channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Booking {
    /// Mean days between booking and the slot (exponential distribution).
    pub lead_days_mean: f64,
    /// Cap on the days between booking and the slot, at least `lead_days_mean`.
    pub max_lead_days: f64,
    /// Share of appointments with a free-text reason (the others have NULL), 0 to 1.
    pub reason_share: f64,
    /// `[booking.channels]`: weights of `appointment.booked_via`.
    pub channels: Channels,
}

/// Weights of `appointment.booked_via`; the keys are the values its CHECK constraint allows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Channels {
    /// Weight of `staff` (0 when absent).
    #[serde(default)]
    pub staff: f64,
    /// Weight of `portal` (0 when absent).
    #[serde(default)]
    pub portal: f64,
    /// Weight of `phone` (0 when absent).
    #[serde(default)]
    pub phone: f64,
    /// Weight of `import` (0 when absent).
    #[serde(default)]
    pub import: f64,
}

impl Channels {
    /// (value, weight) in a fixed order.
    pub fn weighted(&self) -> [(&'static str, f64); 4] {
        [
            ("staff", self.staff),
            ("portal", self.portal),
            ("phone", self.phone),
            ("import", self.import),
        ]
    }
}

/// A parsed, validated profile with its typed values.
#[derive(Debug, Clone)]
pub struct Profile {
    /// File stem: `clinic`, `tiny`, or a user file's name.
    pub name: String,
    /// Where it came from: `datasets/clinic.toml (built in)` or the user's path.
    pub origin: String,
    /// The TOML document as parsed.
    pub spec: ProfileSpec,
    /// `as_of` as a date: the stand-in for "now".
    pub as_of: NaiveDate,
    /// The tenants' time zones, in `time_zones` order.
    pub zones: Vec<Tz>,
    /// Local start of the working day.
    pub work_start: NaiveTime,
    /// Local end of the working day, after `work_start`.
    pub work_end: NaiveTime,
    /// Indexed by `Weekday::num_days_from_monday()`.
    pub work_days: [bool; 7],
    /// sha256 over the canonical form of the spec: comments and formatting do not count.
    pub content_hash: String,
}

/// Entity counts at a given scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Tenants, at least 1.
    pub tenants: u64,
    /// Providers, at least one per tenant.
    pub providers: u64,
    /// Patients, at least one per tenant.
    pub patients: u64,
    /// Appointments: `per_scale.appointments × scale`, rounded; generated exactly.
    pub appointments: u64,
}

/// Names of the built-in profiles, sorted.
pub fn builtin_names() -> Vec<String> {
    let mut names: Vec<String> = BUILTIN
        .files()
        .filter_map(|f| {
            f.path()
                .file_name()?
                .to_str()?
                .strip_suffix(".toml")
                .map(str::to_string)
        })
        .collect();
    names.sort();
    names
}

impl Profile {
    /// A built-in profile by name, or a file when `arg` looks like a path (ends in `.toml` or holds a
    /// `/`). An unknown name lists the known ones.
    #[allow(
        clippy::case_sensitive_file_extension_comparisons,
        reason = "the documented rule is a name ending in `.toml`; `.TOML` stays a (unknown) \
                  profile name rather than a path"
    )]
    pub fn resolve(arg: &str) -> Result<Profile> {
        if arg.ends_with(".toml") || arg.contains('/') {
            return Profile::from_file(Path::new(arg));
        }
        let file = BUILTIN
            .get_file(format!("{arg}.toml"))
            .ok_or_else(|| Error::Unknown {
                kind: crate::error::Named::Profile,
                name: arg.to_string(),
                known: builtin_names().join(", "),
                hint: " (or pass a path to a .toml file)",
            })?;
        let text = file.contents_utf8().ok_or_else(|| Error::Profile {
            origin: format!("datasets/{arg}.toml"),
            line: None,
            message: "not UTF-8".into(),
        })?;
        Profile::parse(arg, &format!("datasets/{arg}.toml"), text)
    }

    /// Reads and validates a profile file; its stem becomes the profile's name.
    pub fn from_file(path: &Path) -> Result<Profile> {
        let text =
            crate::files::read_text(path, crate::files::MAX_PROFILE_BYTES, "a profile file")?;
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("custom")
            .to_string();
        Profile::parse(&name, &path.display().to_string(), &text)
    }

    /// Parses and validates profile text. `origin` names the file in errors.
    pub fn parse(name: &str, origin: &str, text: &str) -> Result<Profile> {
        let spec: ProfileSpec = toml::from_str(text).map_err(|e| Error::Profile {
            origin: origin.to_string(),
            line: e.span().map(|s| line_of(text, s.start)),
            message: e.message().trim().replace('\n', " "),
        })?;
        let invalid = |key: &str, why: String| Error::Profile {
            origin: origin.to_string(),
            line: key_line(text, key),
            message: format!("`{key}`: {why}"),
        };

        let as_of = match (spec.as_of.date, spec.as_of.time) {
            (Some(d), None) => {
                NaiveDate::from_ymd_opt(i32::from(d.year), u32::from(d.month), u32::from(d.day))
                    .ok_or_else(|| invalid("as_of", "not a valid date".into()))?
            }
            _ => {
                return Err(invalid(
                    "as_of",
                    "must be a plain date such as 2026-01-15".into(),
                ));
            }
        };
        let check = |ok: bool, key: &str, why: &str| {
            ok.then_some(()).ok_or_else(|| invalid(key, why.into()))
        };
        // Checked: `months_after = 4294967295` must not wrap around to a small number.
        let months = u64::from(spec.months_before) + u64::from(spec.months_after);
        for (key, v) in [
            ("months_before", spec.months_before),
            ("months_after", spec.months_after),
        ] {
            if u64::from(v) > MAX_MONTHS {
                return Err(out_of_range(origin, text, key, &v.to_string(), MAX_MONTHS));
            }
        }
        check(
            months >= 1,
            "months_after",
            "months_before + months_after must be at least 1",
        )?;
        check(
            months <= MAX_MONTHS,
            "months_after",
            &format!(
                "months_before + months_after is {months}: at most {MAX_MONTHS} months are supported"
            ),
        )?;
        // Every covered month within the years partition names and timestamps handle.
        let first = i64::from(as_of.year()) * 12 + i64::from(as_of.month0())
            - i64::from(spec.months_before);
        let last = first + i64::try_from(months).unwrap_or(i64::MAX / 2) - 1;
        let (lo, hi) = (i64::from(MIN_YEAR) * 12, i64::from(MAX_YEAR) * 12 + 11);
        check(
            first >= lo && last <= hi,
            "as_of",
            &format!(
                "the covered months run from {}-{:02} to {}-{:02}, outside the years {MIN_YEAR} to {MAX_YEAR}",
                first.div_euclid(12),
                first.rem_euclid(12) + 1,
                last.div_euclid(12),
                last.rem_euclid(12) + 1
            ),
        )?;
        let p = &spec.per_scale;
        for (key, v) in [
            ("tenants", p.tenants),
            ("providers", p.providers),
            ("patients", p.patients),
            ("appointments", p.appointments),
        ] {
            check(
                v.is_finite() && v >= 0.0,
                key,
                "must be a finite number >= 0",
            )?;
            let max = max_count(key);
            if v > max as f64 {
                return Err(out_of_range(origin, text, key, &v.to_string(), max));
            }
        }
        check(
            p.tenants > 0.0 && p.providers >= p.tenants && p.patients >= p.tenants,
            "providers",
            "need tenants > 0, and at least as many providers and patients as tenants",
        )?;
        check(
            !spec.tenants.time_zones.is_empty(),
            "time_zones",
            "list at least one IANA zone",
        )?;
        let zones = spec
            .tenants
            .time_zones
            .iter()
            .map(|z| {
                z.parse::<Tz>().map_err(|_| {
                    invalid(
                        "time_zones",
                        format!("`{z}` is not an IANA time zone (e.g. Europe/Berlin)"),
                    )
                })
            })
            .collect::<Result<Vec<Tz>>>()?;
        let time = |key: &str, s: &str| {
            NaiveTime::parse_from_str(s, "%H:%M")
                .map_err(|_| invalid(key, format!("`{s}` is not a time like 08:00")))
        };
        let work_start = time("start", &spec.hours.start)?;
        let work_end = time("end", &spec.hours.end)?;
        check(
            work_end > work_start,
            "end",
            "working hours must end after they start on the same local day",
        )?;
        let mut work_days = [false; 7];
        for d in &spec.hours.days {
            let wd: Weekday = d.parse().map_err(|_| {
                invalid(
                    "days",
                    format!("`{d}` is not a weekday (mon, tue, wed, thu, fri, sat, sun)"),
                )
            })?;
            work_days[wd.num_days_from_monday() as usize] = true;
        }
        check(
            work_days.iter().any(|d| *d),
            "days",
            "list at least one working day",
        )?;
        let fill = spec.hours.max_fill;
        check(fill > 0.0 && fill <= 1.0, "max_fill", "must be in (0, 1]")?;
        check(
            !spec.slots.is_empty(),
            "slots",
            "list at least one slot length",
        )?;
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "both are times of one day and end > start (checked above): 1 to 1439 minutes"
        )]
        let work_minutes = (work_end - work_start).num_minutes() as u32;
        for s in &spec.slots {
            if !(5..=480).contains(&s.minutes) || s.minutes % 5 != 0 {
                return Err(invalid(
                    "minutes",
                    format!(
                        "{} is not allowed: the schema takes 5 to 480 minutes in 5-minute steps",
                        s.minutes
                    ),
                ));
            }
            let fits = format!(
                "a {}-minute slot does not fit in the working hours",
                s.minutes
            );
            check(s.minutes <= work_minutes, "minutes", &fits)?;
        }
        weights(&invalid, "slots", spec.slots.iter().map(|s| s.weight))?;
        let st = &spec.status;
        weights(
            &invalid,
            "past",
            [st.past.completed, st.past.no_show, st.past.cancelled],
        )?;
        weights(&invalid, "future", [st.future.booked, st.future.cancelled])?;
        weights(
            &invalid,
            "channels",
            spec.booking.channels.weighted().map(|(_, w)| w),
        )?;
        for (key, v) in [
            ("provider_skew", spec.popularity.provider_skew),
            ("patient_skew", spec.popularity.patient_skew),
        ] {
            let ok = v.is_finite() && (0.0..=4.0).contains(&v);
            check(
                ok,
                key,
                "must be between 0 (uniform) and 4 (extremely skewed)",
            )?;
        }
        for (key, v, max) in [
            ("deleted_share", spec.patients.deleted_share, 0.5),
            ("reason_share", spec.booking.reason_share, 1.0),
            ("share", spec.audit.share, 1.0),
        ] {
            let ok = v.is_finite() && (0.0..=max).contains(&v);
            check(ok, key, &format!("must be between 0 and {max}"))?;
        }
        check(
            (1..=MAX_PER_WEEK).contains(&spec.patients.max_per_week),
            "max_per_week",
            &format!("must be 1 to {MAX_PER_WEEK}: a patient has at most one appointment per day"),
        )?;
        let b = &spec.booking;
        let ok =
            b.lead_days_mean.is_finite() && b.lead_days_mean > 0.0 && b.max_lead_days.is_finite();
        check(
            ok && b.max_lead_days >= b.lead_days_mean,
            "lead_days_mean",
            "need 0 < lead_days_mean <= max_lead_days",
        )?;

        let canonical = serde_json::to_string(&spec).map_err(|e| Error::Profile {
            origin: origin.to_string(),
            line: None,
            message: e.to_string(),
        })?;
        let content_hash = hex::encode(Sha256::digest(canonical.as_bytes()));
        Ok(Profile {
            name: name.to_string(),
            origin: origin.to_string(),
            spec,
            as_of,
            zones,
            work_start,
            work_end,
            work_days,
            content_hash,
        })
    }

    /// Entity counts at `scale` (rounded; at least one tenant, one provider and one patient per tenant).
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "profile values are bounded by dataset validation (see issue: bounded input)"
    )]
    pub fn counts(&self, scale: f64) -> Counts {
        // Saturating casts: `check_scale` refuses any count above `max_count` before it is used.
        let p = &self.spec.per_scale;
        let n = |v: f64| (v * scale).round().max(0.0) as u64;
        let tenants = n(p.tenants).max(1);
        Counts {
            tenants,
            providers: n(p.providers).max(tenants),
            patients: n(p.patients).max(tenants),
            appointments: n(p.appointments),
        }
    }

    /// Checks the counts at `scale` and the generator's memory estimate against their bounds, before
    /// anything is written: each count at most [`max_count`], the state at most
    /// [`MAX_GENERATOR_BYTES`]. Returns the counts.
    pub fn check_scale(&self, scale: f64) -> Result<Counts> {
        let p = &self.spec.per_scale;
        for (key, v) in [
            ("tenants", p.tenants),
            ("providers", p.providers),
            ("patients", p.patients),
            ("appointments", p.appointments),
        ] {
            let max = max_count(key);
            let at = (v * scale).round();
            if at.is_nan() || at > max as f64 {
                return Err(Error::Profile {
                    origin: self.origin.clone(),
                    line: None,
                    message: format!(
                        "{key} = {v} at --scale {scale} is {at}, out of range (max {max}): lower --scale"
                    ),
                });
            }
        }
        let counts = self.counts(scale);
        let months = u64::from(self.spec.months_before) + u64::from(self.spec.months_after);
        let need = generator_bytes(&counts, months);
        if need > MAX_GENERATOR_BYTES {
            return Err(Error::Profile {
                origin: self.origin.clone(),
                line: None,
                message: format!(
                    "at --scale {scale} the generator would keep about {} in memory ({} tenants, {} \
                     providers, {} patients over {months} months), over the limit of {}: lower the \
                     counts or --scale",
                    crate::report::fmt::bytes(need as f64),
                    counts.tenants,
                    counts.providers,
                    counts.patients,
                    crate::report::fmt::bytes(MAX_GENERATOR_BYTES as f64)
                ),
            });
        }
        Ok(counts)
    }

    /// The first day of every UTC month the appointments cover, oldest first.
    #[allow(
        clippy::cast_possible_wrap,
        reason = "profile values are bounded by dataset validation (see issue: bounded input)"
    )]
    pub fn months(&self) -> Vec<NaiveDate> {
        let first = add_months(
            NaiveDate::from_ymd_opt(self.as_of.year(), self.as_of.month(), 1).unwrap_or(self.as_of),
            -(self.spec.months_before as i32),
        );
        (0..(self.spec.months_before + self.spec.months_after) as i32)
            .map(|i| add_months(first, i))
            .collect()
    }
}

/// The first of the month `n` months after (or before) the first-of-month `d`.
pub fn add_months(d: NaiveDate, n: i32) -> NaiveDate {
    #[allow(clippy::cast_possible_wrap, reason = "month0 is below 12")]
    let total = d.year() * 12 + d.month0() as i32 + n;
    NaiveDate::from_ymd_opt(total.div_euclid(12), total.rem_euclid(12) as u32 + 1, 1).unwrap_or(d)
}

/// Checks a list of relative weights: finite, >= 0, not all zero.
fn weights(
    invalid: &dyn Fn(&str, String) -> Error,
    key: &str,
    ws: impl IntoIterator<Item = f64>,
) -> Result<()> {
    let mut sum = 0.0;
    for w in ws {
        if !(w.is_finite() && w >= 0.0) {
            return Err(invalid(key, "weights must be finite and >= 0".into()));
        }
        sum += w;
    }
    if sum <= 0.0 {
        return Err(invalid(key, "at least one weight must be positive".into()));
    }
    Ok(())
}

/// Validates `--scale`: a finite number above zero. (Whether the disk can hold it is checked against
/// the server later, see `generate::seed`.)
pub fn validate_scale(scale: f64) -> Result<f64> {
    if !scale.is_finite() || scale <= 0.0 {
        return Err(Error::Usage(format!(
            "invalid --scale {scale}: it must be a finite number above 0 (1 = the profile's base size)"
        )));
    }
    Ok(scale)
}

/// Most appointments a patient may have per calendar week (`patients.max_per_week`): one a day.
pub const MAX_PER_WEEK: u32 = 7;
/// Most months a profile may cover (`months_before + months_after`), each a partition.
pub const MAX_MONTHS: u64 = 240;
/// The covered months lie within these years.
pub const MIN_YEAR: i32 = 1900;
/// See [`MIN_YEAR`].
pub const MAX_YEAR: i32 = 2999;
/// Most memory the generator's state (tenants, providers, patients and the per-provider-day
/// allocation, kept in memory while the rows are streamed) may take: 4 GiB.
pub const MAX_GENERATOR_BYTES: u64 = 4 << 30;

/// The largest count a `[per_scale]` key may hold, and any count at a scale.
pub fn max_count(key: &str) -> u64 {
    match key {
        "tenants" => 100_000_000,
        "providers" => 1_000_000_000,
        "patients" => 10_000_000_000,
        _ => 1_000_000_000_000, // appointments
    }
}

/// `file: key = value is out of range (max N)`.
fn out_of_range(origin: &str, text: &str, key: &str, value: &str, max: u64) -> Error {
    Error::Profile {
        origin: origin.to_string(),
        line: key_line(text, key),
        message: format!("{key} = {value} is out of range (max {max})"),
    }
}

/// Estimated bytes of the generator's state for `counts` over `months` months: per tenant its
/// working windows and eligible days (28 bytes a day) and name; per provider its id, tenant, a
/// byte per day of the allocation and the allocator's scratch (about 60 bytes); per patient its id
/// and deletion time, and the weekly booking counters of each of the two producer threads (5 bytes
/// each). Rows themselves are streamed, never held.
pub fn generator_bytes(counts: &Counts, months: u64) -> u64 {
    let days = months.saturating_mul(31).saturating_add(4);
    let tenant = days.saturating_mul(28).saturating_add(200);
    let provider = days.saturating_add(92);
    counts
        .tenants
        .saturating_mul(tenant)
        .saturating_add(counts.providers.saturating_mul(provider))
        .saturating_add(counts.patients.saturating_mul(34))
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .bytes()
        .filter(|b| *b == b'\n')
        .count()
        + 1
}

/// The line where `key = ...` is first assigned, for validation errors (toml has no span by then).
fn key_line(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            let l = l.trim_start();
            l.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
                || l.starts_with(&format!("[{key}]"))
                || l.starts_with(&format!("[[{key}]]"))
                || l.contains(&format!(".{key}]"))
        })
        .map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_profiles_parse() {
        assert!(builtin_names().contains(&"clinic".to_string()));
        assert!(builtin_names().contains(&"tiny".to_string()));
        for name in builtin_names() {
            let p = Profile::resolve(&name).unwrap();
            assert_eq!(p.name, name);
            assert!(!p.months().is_empty());
        }
        let clinic = Profile::resolve("clinic").unwrap();
        assert_eq!(clinic.months().len(), 24);
        let c = clinic.counts(1.0);
        assert_eq!(c.appointments, 1_000_000);
        assert!(
            clinic
                .zones
                .iter()
                .any(|z| z.name() == "America/Los_Angeles")
        );
    }

    #[test]
    fn counts_scale_and_round() {
        let tiny = Profile::resolve("tiny").unwrap();
        let one = tiny.counts(1.0);
        let two = tiny.counts(2.0);
        assert_eq!(two.appointments, 2 * one.appointments);
        assert_eq!(two.tenants, 2 * one.tenants);
        let small = tiny.counts(1e-9);
        assert_eq!((small.tenants, small.providers, small.patients), (1, 1, 1));
    }

    #[test]
    fn months_run_from_before_to_after_as_of() {
        let tiny = Profile::resolve("tiny").unwrap();
        let months = tiny.months();
        let as_of_month =
            NaiveDate::from_ymd_opt(tiny.as_of.year(), tiny.as_of.month(), 1).unwrap();
        assert_eq!(
            months.len(),
            usize::try_from(tiny.spec.months_before + tiny.spec.months_after).unwrap()
        );
        assert_eq!(months[tiny.spec.months_before as usize], as_of_month);
        assert_eq!(
            add_months(as_of_month, -13),
            add_months(add_months(as_of_month, -1), -12)
        );
        assert_eq!(
            add_months(NaiveDate::from_ymd_opt(2025, 12, 1).unwrap(), 1),
            NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()
        );
    }

    fn tiny_text() -> String {
        BUILTIN
            .get_file("tiny.toml")
            .unwrap()
            .contents_utf8()
            .unwrap()
            .to_string()
    }

    #[test]
    fn an_unknown_key_names_the_file_the_line_and_the_key() {
        let text = tiny_text().replace("[hours]\n", "[hours]\nlunch_break = \"12:00\"\n");
        let err = Profile::parse("x", "my/x.toml", &text)
            .unwrap_err()
            .to_string();
        let line = text
            .lines()
            .position(|l| l.starts_with("lunch_break"))
            .unwrap()
            + 1;
        assert!(err.starts_with(&format!("my/x.toml:{line}: ")), "{err}");
        assert!(err.contains("unknown field `lunch_break`"), "{err}");
        assert!(!err.contains('\n'), "{err}");
    }

    #[test]
    fn malformed_and_invalid_profiles_are_refused_with_their_line() {
        let err = Profile::parse("x", "x.toml", "as_of = 2026-01-15\nmonths_before = [")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("x.toml:2: "), "{err}");

        let text = tiny_text().replace("\"America/New_York\"", "\"Mars/Olympus\"");
        let err = Profile::parse("x", "x.toml", &text)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("Mars/Olympus") && err.contains("time_zones"),
            "{err}"
        );

        let text = tiny_text().replace("minutes = 15", "minutes = 17");
        let err = Profile::parse("x", "x.toml", &text)
            .unwrap_err()
            .to_string();
        assert!(err.contains("17 is not allowed"), "{err}");

        let missing = tiny_text().replace("deleted_share", "#deleted_share");
        let err = Profile::parse("x", "x.toml", &missing)
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing field `deleted_share`"), "{err}");
    }

    #[test]
    fn unknown_profile_lists_the_known_ones() {
        let err = Profile::resolve("huge").unwrap_err().to_string();
        assert!(
            err.contains("unknown profile `huge`") && err.contains("clinic, tiny"),
            "{err}"
        );
    }

    #[test]
    fn comments_do_not_change_the_content_hash() {
        let a = Profile::parse("tiny", "a", &tiny_text()).unwrap();
        let b = Profile::parse("tiny", "b", &format!("# a note\n{}", tiny_text())).unwrap();
        assert_eq!(a.content_hash, b.content_hash);
        let c = Profile::parse(
            "tiny",
            "c",
            &tiny_text().replace("share = 0.05", "share = 0.06"),
        )
        .unwrap();
        assert_ne!(a.content_hash, c.content_hash);
    }

    #[test]
    #[allow(clippy::float_cmp, reason = "a valid scale is returned unchanged")]
    fn scale_must_be_finite_and_positive() {
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(validate_scale(bad).is_err(), "{bad}");
        }
        assert_eq!(validate_scale(0.5).unwrap(), 0.5);
    }
}
