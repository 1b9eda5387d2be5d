//! What a comparison may claim: each figure against the base strategy's, called better or worse only
//! when the round spreads say so ([`Spread::separated`]), plans identical across strategies, and the
//! one headline sentence every report format opens with.
//!
//! Pure: computed from a [`Comparison`], the same for Markdown, HTML and JSON.

use std::cmp::Ordering;

use serde::Serialize;

use crate::compare::model::{Comparison, Latency, QueryResult, Spread, StrategyResult};
use crate::plan::Mode;
use crate::report::fmt;

/// A figure against the base strategy's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// This is the base strategy.
    Base,
    /// Better beyond noise (faster, or more per second).
    Better,
    /// Worse beyond noise.
    Worse,
    /// The round ranges overlap.
    SameWithinNoise,
    /// Fewer than two rounds: no spread to judge by.
    NoSpread,
}

/// A figure against the base: the ratio of the central values and what the spread allows saying.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Versus {
    /// This strategy's figure divided by the base's.
    pub ratio: f64,
    /// What may be claimed.
    pub verdict: Verdict,
}

impl Versus {
    /// `value` against `base` (central values) with their round spreads; `lower_is_better` for
    /// latencies, not for rates.
    pub fn of(
        value: f64,
        spread: &Spread,
        base: f64,
        base_spread: &Spread,
        lower_is_better: bool,
    ) -> Versus {
        let ratio = if base > 0.0 { value / base } else { f64::NAN };
        let verdict = if spread.rounds() < 2 || base_spread.rounds() < 2 {
            Verdict::NoSpread
        } else {
            match (spread.separated(base_spread), lower_is_better) {
                (None, _) => Verdict::SameWithinNoise,
                (Some(Ordering::Less), true) | (Some(Ordering::Greater), false) => Verdict::Better,
                (Some(_), _) => Verdict::Worse,
            }
        };
        Versus { ratio, verdict }
    }

    /// The base itself.
    pub fn base() -> Versus {
        Versus {
            ratio: 1.0,
            verdict: Verdict::Base,
        }
    }

    /// For a latency: `2.46× faster`, `1.30× slower`, `same within noise (0.97×)`, `base`.
    pub fn latency_text(&self) -> String {
        self.text("faster", "slower")
    }

    /// For a rate: `1.31× higher`, `1.20× lower`, `same within noise (1.04×)`, `base`.
    pub fn rate_text(&self) -> String {
        self.text("higher", "lower")
    }

    fn text(&self, better: &str, worse: &str) -> String {
        // A latency 8× shorter reads "8× faster": the factor is always at least 1.
        let factor = self.ratio.max(1.0 / self.ratio);
        match self.verdict {
            Verdict::Base => "base".into(),
            Verdict::Better => format!("{} {better}", fmt::ratio(factor)),
            Verdict::Worse => format!("{} {worse}", fmt::ratio(factor)),
            Verdict::SameWithinNoise => {
                format!("same within noise ({})", fmt::ratio(self.ratio))
            }
            Verdict::NoSpread => format!("{} (one round: no spread)", fmt::ratio(self.ratio)),
        }
    }
}

/// The base strategy's result (the first when `c.base` names none).
pub fn base(c: &Comparison) -> Option<&StrategyResult> {
    c.strategies
        .iter()
        .find(|s| s.name == c.base)
        .or(c.strategies.first())
}

/// The p50 of `q` in `mode` under `s` against the base's.
pub fn latency_vs_base(c: &Comparison, s: &StrategyResult, q: &QueryResult, mode: Mode) -> Versus {
    let Some(reference) = base(c) else {
        return Versus::base();
    };
    if reference.name == s.name {
        return Versus::base();
    }
    let Some(bq) = reference.query(&q.name) else {
        return Versus {
            ratio: f64::NAN,
            verdict: Verdict::NoSpread,
        };
    };
    let (lat, bl): (&Latency, &Latency) = (&q.plan(mode).latency, &bq.plan(mode).latency);
    Versus::of(lat.p50_ms, &lat.p50_rounds, bl.p50_ms, &bl.p50_rounds, true)
}

/// Bookings per second of `s` against the base's (median pass, spread over passes).
pub fn bookings_vs_base(c: &Comparison, s: &StrategyResult) -> Versus {
    match base(c) {
        Some(b) if b.name != s.name => {
            let (w, bw) = (&s.writes.bookings, &b.writes.bookings);
            Versus::of(
                w.per_sec,
                &w.per_sec_spread,
                bw.per_sec,
                &bw.per_sec_spread,
                false,
            )
        }
        _ => Versus::base(),
    }
}

/// Whether every strategy that ran `query` got the same plan tree, in both plan modes.
pub fn identical_plans(c: &Comparison, query: &str) -> bool {
    let plans: Vec<&QueryResult> = c.strategies.iter().filter_map(|s| s.query(query)).collect();
    plans.len() > 1
        && plans.windows(2).all(|w| {
            w[0].custom.signature == w[1].custom.signature
                && w[0].generic.signature == w[1].generic.signature
        })
}

/// The figures a headline is made of, also in `report.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Judgements {
    /// The strategy the ratios are against.
    pub base: String,
    /// The one-sentence summary.
    pub headline: String,
    /// Queries whose plans (both modes) are the same under every strategy.
    pub identical_plans: Vec<String>,
    /// Per strategy, per query and mode: p50 against the base.
    pub latency: Vec<StrategyVersus>,
}

/// One strategy's figures against the base.
#[derive(Debug, Clone, Serialize)]
pub struct StrategyVersus {
    /// The strategy.
    pub strategy: String,
    /// Bookings/s against the base's.
    pub bookings_per_sec: Versus,
    /// One entry per query and plan mode.
    pub queries: Vec<QueryVersus>,
}

/// One query's p50 in one plan mode against the base's.
#[derive(Debug, Clone, Serialize)]
pub struct QueryVersus {
    /// The query.
    pub query: String,
    /// Custom or generic.
    pub mode: Mode,
    /// The comparison.
    pub p50: Versus,
}

/// Every judgement of a comparison.
pub fn judgements(c: &Comparison) -> Judgements {
    let names = super::query_names(c);
    Judgements {
        base: base(c).map(|b| b.name.clone()).unwrap_or_default(),
        headline: headline(c),
        identical_plans: names
            .iter()
            .filter(|n| identical_plans(c, n))
            .cloned()
            .collect(),
        latency: c
            .strategies
            .iter()
            .map(|s| StrategyVersus {
                strategy: s.name.clone(),
                bookings_per_sec: bookings_vs_base(c, s),
                queries: s
                    .queries
                    .iter()
                    .flat_map(|q| {
                        Mode::BOTH.into_iter().map(move |mode| QueryVersus {
                            query: q.name.clone(),
                            mode,
                            p50: latency_vs_base(c, s, q, mode),
                        })
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// The strategy a headline is about: the one meeting the most expectations other than the base
/// (the first of equals), or the base when it is alone.
fn subject(c: &Comparison) -> Option<&StrategyResult> {
    let b = base(c)?;
    c.strategies
        .iter()
        .filter(|s| s.name != b.name)
        .fold(None, |best: Option<&StrategyResult>, s| match best {
            Some(x) if x.plans_passing().0 >= s.plans_passing().0 => Some(x),
            _ => Some(s),
        })
        .or(Some(b))
}

/// One sentence: `tuned meets expectations in 20/20 plans (fk-only: 4/20); provider_day 2.47×
/// faster than fk-only at p50 (generic plan), faster beyond noise in 12 of 20 plans, slower in 1;
/// 149 MB more index; bookings/s same within noise (1.23×)`.
pub fn headline(c: &Comparison) -> String {
    let (Some(reference), Some(subj)) = (base(c), subject(c)) else {
        return "nothing was measured".into();
    };
    let (pass, total) = subj.plans_passing();
    let mut parts = vec![format!(
        "{} meets expectations in {pass}/{total} plans",
        subj.name
    )];
    if subj.name != reference.name {
        let (bp, bt) = reference.plans_passing();
        parts[0].push_str(&format!(" ({}: {bp}/{bt})", reference.name));
        let all: Vec<(&QueryResult, Mode, Versus)> = subj
            .queries
            .iter()
            .flat_map(|q| Mode::BOTH.into_iter().map(move |m| (q, m)))
            .map(|(q, m)| (q, m, latency_vs_base(c, subj, q, m)))
            .collect();
        let decided = |v: Verdict| all.iter().filter(|(_, _, x)| x.verdict == v).count();
        // The largest difference the spread supports, either way.
        let biggest = all
            .iter()
            .filter(|(_, _, v)| matches!(v.verdict, Verdict::Better | Verdict::Worse))
            .max_by(|x, y| x.2.ratio.ln().abs().total_cmp(&y.2.ratio.ln().abs()));
        match biggest {
            Some((q, m, v)) => parts.push(format!(
                "{} {} than {} at p50 ({} plan); faster beyond noise in {} of {} plans, slower in {}",
                q.name,
                v.latency_text(),
                reference.name,
                m.as_str(),
                decided(Verdict::Better),
                all.len(),
                decided(Verdict::Worse)
            )),
            None if decided(Verdict::NoSpread) > 0 => parts.push(format!(
                "latency measured in one round: no spread to tell {} from {}",
                subj.name, reference.name
            )),
            None => parts.push(format!(
                "every query's p50 the same as {}'s within noise",
                reference.name
            )),
        }
        let delta = (subj.total_index_bytes - reference.total_index_bytes) as f64;
        parts.push(if delta > 0.0 {
            format!("costs {} more index", fmt::bytes(delta))
        } else if delta < 0.0 {
            format!("{} less index", fmt::bytes(-delta))
        } else {
            "the same index size".into()
        });
        parts.push(format!(
            "bookings/s {}",
            bookings_vs_base(c, subj).rate_text()
        ));
    }
    if let Some(r) = &c.race {
        let deadlocks: usize = r.rounds.iter().map(|x| x.deadlocks).sum();
        parts.push(format!(
            "the {}-client collision race settles in {} (slowest of {}) with {} deadlock{}",
            r.clients,
            fmt::duration_ms(r.settle_spread.max),
            r.rounds.len(),
            deadlocks,
            if deadlocks == 1 { "" } else { "s" }
        ));
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versus_reads_as_factors_of_at_least_one() {
        let fast = Spread::of(vec![0.09, 0.1, 0.11]);
        let slow = Spread::of(vec![0.8, 0.84, 0.9]);
        let v = Versus::of(0.1, &fast, 0.84, &slow, true);
        assert_eq!(v.verdict, Verdict::Better);
        assert_eq!(v.latency_text(), "8.40× faster");
        let v = Versus::of(0.84, &slow, 0.1, &fast, true);
        assert_eq!(v.latency_text(), "8.40× slower");
        // Overlapping ranges: no ranking, whatever the medians say.
        let near = Spread::of(vec![0.105, 0.12, 0.2]);
        let v = Versus::of(0.12, &near, 0.1, &fast, true);
        assert_eq!(v.verdict, Verdict::SameWithinNoise);
        assert_eq!(v.latency_text(), "same within noise (1.20×)");
        // Rates: higher is better.
        let v = Versus::of(
            2000.0,
            &Spread::of(vec![1900.0, 2100.0]),
            1000.0,
            &Spread::of(vec![900.0, 1100.0]),
            false,
        );
        assert_eq!(v.rate_text(), "2.00× higher");
        let v = Versus::of(
            500.0,
            &Spread::of(vec![450.0, 550.0]),
            1000.0,
            &Spread::of(vec![900.0, 1100.0]),
            false,
        );
        assert_eq!(v.rate_text(), "2.00× lower");
        assert_eq!(Versus::base().latency_text(), "base");
        let one = Versus::of(1.0, &Spread::of(vec![1.0]), 2.0, &fast, true);
        assert_eq!(one.verdict, Verdict::NoSpread);
    }
}
