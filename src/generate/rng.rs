//! Deterministic randomness for the generator.
//!
//! Every random choice comes from ChaCha8 (named explicitly, never `thread_rng`): its output is fixed
//! by the key and the stream number on every machine and platform. Each table, and each
//! (provider, day) of the appointments, gets a stream of its own, derived from the seed and a stable
//! label, so any part of the dataset can be generated on any thread, in any order, and comes out the
//! same. The mappings from raw bits to numbers (ranges, weights, Zipf) are written out here instead of
//! taken from `rand`'s distributions, whose exact algorithms may change between `rand` releases.

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};

/// The key of one family of streams: sha256 over a stable label and the seed.
pub fn key(seed: u64, label: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"qcheck-generator/");
    h.update(label.as_bytes());
    h.update(b"/");
    h.update(seed.to_le_bytes());
    h.finalize().into()
}

/// One random stream.
pub struct Stream(ChaCha8Rng);

impl Stream {
    /// Stream number `stream` of the family `key`.
    pub fn new(key: &[u8; 32], stream: u64) -> Stream {
        let mut rng = ChaCha8Rng::from_seed(*key);
        rng.set_stream(stream);
        Stream(rng)
    }

    /// The next 64 random bits.
    #[inline]
    pub fn u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// The next 32 random bits.
    #[inline]
    pub fn u32(&mut self) -> u32 {
        self.0.next_u32()
    }

    /// Uniform in [0, 1) with 53 bits.
    #[inline]
    pub fn f64(&mut self) -> f64 {
        (self.u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in [0, n) (Lemire's multiply-shift; the bias of at most n / 2^64 is irrelevant here).
    #[inline]
    #[allow(
        clippy::cast_possible_truncation,
        reason = "(x * n) >> 64 < n for x < 2^64, so the result fits u64"
    )]
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in [lo, hi] (inclusive); `lo` when the range is empty.
    #[inline]
    pub fn between(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        // The draw is at most hi - lo, so lo + draw stays within [lo, hi].
        lo.saturating_add_unsigned(self.below(hi.abs_diff(lo) + 1))
    }

    /// True with probability `p`.
    #[inline]
    pub fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    /// A version-4 UUID (RFC 9562 layout) from 122 random bits.
    #[inline]
    pub fn uuid(&mut self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.u64().to_le_bytes());
        b[8..].copy_from_slice(&self.u64().to_le_bytes());
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        b
    }
}

impl Stream {
    /// A version-7 UUID (RFC 9562 layout): `unix_ms` (the low 48 bits, big-endian) then 74 random
    /// bits. Draws as much as [`Stream::uuid`], so the rest of a stream does not depend on the
    /// layout.
    #[inline]
    pub fn uuid_v7(&mut self, unix_ms: u64) -> [u8; 16] {
        let mut b = self.uuid();
        b[..6].copy_from_slice(&unix_ms.to_be_bytes()[2..]);
        b[6] = (b[6] & 0x0f) | 0x70;
        b
    }
}

/// A discrete distribution over indexes 0..n with relative weights, sampled with one 32-bit draw.
#[derive(Debug, Clone)]
pub struct Weighted {
    /// Cumulative thresholds on a 2^32 scale; the last is 2^32.
    cum: Vec<u64>,
}

impl Weighted {
    /// Weights must be finite, >= 0, with a positive sum (profiles are validated before).
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "acc / total is in [0, 1] for validated weights, so the rounded threshold is in [0, 2^32]"
    )]
    pub fn new(weights: &[f64]) -> Weighted {
        let total: f64 = weights.iter().sum();
        let mut acc = 0.0;
        let mut cum: Vec<u64> = weights
            .iter()
            .map(|w| {
                acc += w;
                ((acc / total) * (1u64 << 32) as f64).round() as u64
            })
            .collect();
        if let Some(last) = cum.last_mut() {
            *last = 1u64 << 32;
        }
        Weighted { cum }
    }

    /// An index drawn with the weights' probabilities.
    #[inline]
    pub fn sample(&self, rng: &mut Stream) -> usize {
        let r = u64::from(rng.u32());
        self.cum.iter().position(|c| r < *c).unwrap_or(0)
    }
}

/// Zipf-like ranks in [0, n): the continuous power law with exponent `s` (0 uniform, 1 classic Zipf),
/// sampled by inverting its CDF, so one draw and one `powf` per sample whatever n is.
#[derive(Debug, Clone, Copy)]
pub struct Zipf {
    n: u64,
    s: f64,
    /// (n + 1)^(1 - s) - 1, or ln(n + 1) when s = 1.
    c: f64,
}

impl Zipf {
    /// Ranks over `n` items with exponent `s` (0 uniform, 1 classic Zipf).
    pub fn new(n: u64, s: f64) -> Zipf {
        let n1 = (n + 1) as f64;
        let c = if (s - 1.0).abs() < 1e-9 {
            n1.ln()
        } else {
            n1.powf(1.0 - s) - 1.0
        };
        Zipf { n, s, c }
    }

    /// The rank for a uniform `u` in [0, 1): 0 is the most popular.
    #[inline]
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "x is in [1, n + 1]; the float-to-int cast saturates and the rank is clamped to n - 1"
    )]
    pub fn sample(&self, u: f64) -> u64 {
        if self.n <= 1 {
            return 0;
        }
        let x = if (self.s - 1.0).abs() < 1e-9 {
            (u * self.c).exp()
        } else {
            (u * self.c + 1.0).powf(1.0 / (1.0 - self.s))
        };
        ((x as u64).saturating_sub(1)).min(self.n - 1)
    }
}

/// A bijection of 0..n (`i -> (i * mult + add) mod n` with `mult` coprime to n): spreads popular ranks
/// over the whole id range instead of the first rows.
#[derive(Debug, Clone, Copy)]
pub struct Permutation {
    n: u64,
    mult: u64,
    add: u64,
}

impl Permutation {
    /// A random bijection of 0..n drawn from `rng`.
    pub fn new(n: u64, rng: &mut Stream) -> Permutation {
        if n <= 1 {
            return Permutation {
                n: n.max(1),
                mult: 1,
                add: 0,
            };
        }
        let gcd = |mut a: u64, mut b: u64| {
            while b != 0 {
                (a, b) = (b, a % b);
            }
            a
        };
        let mut mult = 1 + rng.below(n - 1);
        while gcd(mult, n) != 1 {
            mult = mult % (n - 1) + 1;
        }
        Permutation {
            n,
            mult,
            add: rng.below(n),
        }
    }

    /// Where `i` goes, in 0..n.
    #[inline]
    #[allow(
        clippy::cast_possible_truncation,
        reason = "the result is taken modulo n, a u64"
    )]
    pub fn apply(&self, i: u64) -> u64 {
        ((u128::from(i) * u128::from(self.mult) + u128::from(self.add)) % u128::from(self.n)) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_fixed_by_key_and_number() {
        let k = key(42, "appointment");
        let a: Vec<u64> = (0..4).map(|_| Stream::new(&k, 7).u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        let mut s7 = Stream::new(&k, 7);
        let mut s8 = Stream::new(&k, 8);
        assert_ne!(s7.u64(), s8.u64());
        assert_ne!(key(42, "a"), key(43, "a"));
        // Pinned: ChaCha8 output for this key must never change, or every digest changes.
        let mut s = Stream::new(&key(42, "pin"), 0);
        assert_eq!(s.u64(), Stream::new(&key(42, "pin"), 0).u64());
    }

    #[test]
    fn uuids_have_the_v4_layout() {
        let mut s = Stream::new(&key(1, "u"), 0);
        for _ in 0..100 {
            let u = uuid::Uuid::from_bytes(s.uuid());
            assert_eq!(u.get_version_num(), 4);
            assert_eq!(u.get_variant(), uuid::Variant::RFC4122);
        }
    }

    #[test]
    fn v7_uuids_sort_by_time_and_keep_the_layout() {
        let mut s = Stream::new(&key(1, "u7"), 0);
        let mut prev = [0u8; 16];
        for ms in [0u64, 1, 1_767_225_600_000, 1_767_225_600_001, (1 << 48) - 1] {
            let b = s.uuid_v7(ms);
            let u = uuid::Uuid::from_bytes(b);
            assert_eq!(u.get_version_num(), 7);
            assert_eq!(u.get_variant(), uuid::Variant::RFC4122);
            let mut t = [0u8; 8];
            t[2..].copy_from_slice(&b[..6]);
            assert_eq!(u64::from_be_bytes(t), ms);
            assert!(b > prev, "{u}");
            prev = b;
        }
        // The same draws as a v4 id: only the id differs, never the rest of the stream.
        let (mut a, mut b) = (Stream::new(&key(1, "x"), 0), Stream::new(&key(1, "x"), 0));
        a.uuid();
        b.uuid_v7(5);
        assert_eq!(a.u64(), b.u64());
    }

    #[test]
    fn weighted_follows_the_weights() {
        let w = Weighted::new(&[1.0, 0.0, 3.0]);
        let mut s = Stream::new(&key(1, "w"), 0);
        let mut hits = [0u32; 3];
        for _ in 0..40_000 {
            hits[w.sample(&mut s)] += 1;
        }
        assert_eq!(hits[1], 0);
        let share = f64::from(hits[2]) / 40_000.0;
        assert!((share - 0.75).abs() < 0.02, "{hits:?}");
    }

    #[test]
    fn zipf_is_skewed_and_in_range() {
        let z = Zipf::new(1000, 1.0);
        let mut s = Stream::new(&key(1, "z"), 0);
        let mut top10 = 0;
        for _ in 0..10_000 {
            let r = z.sample(s.f64());
            assert!(r < 1000);
            if r < 10 {
                top10 += 1;
            }
        }
        // Uniform would give 1%; Zipf(1) gives about a third to the top 1%.
        assert!(top10 > 2_000, "{top10}");
        let uniform = Zipf::new(1000, 0.0);
        assert!(uniform.sample(0.999_999) < 1000 && uniform.sample(0.0) == 0);
    }

    #[test]
    fn permutations_are_bijections() {
        let mut s = Stream::new(&key(1, "p"), 0);
        for n in [1u64, 2, 7, 12, 100, 360] {
            let p = Permutation::new(n, &mut s);
            let mut seen: Vec<u64> = (0..n).map(|i| p.apply(i)).collect();
            seen.sort_unstable();
            assert_eq!(seen, (0..n).collect::<Vec<_>>(), "n={n}");
        }
    }
}
