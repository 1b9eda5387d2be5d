//! Citus shard names: a shard of table `t` is `t_<shard id>`, of index `i` `i_<shard id>`, unless the
//! name would pass PostgreSQL's 63-byte limit. Then Citus (`AppendShardIdToName`) keeps the first
//! bytes, and appends `_` and the name's `hash_any` in 8 hex digits before the shard id:
//! `appointment_y2026m03_tenant_id_scheduled_at_sta_dff9a99a_102051`. A shortened name cannot be
//! read back; it can only be recognised by computing it from a candidate full name, which
//! [`shard_name`] does exactly as Citus does.

/// PostgreSQL's `NAMEDATALEN`: names are at most 63 bytes.
const NAMEDATALEN: usize = 64;

/// The name Citus gives shard `shard_id` of the table or index `name`.
pub(crate) fn shard_name(name: &str, shard_id: u64) -> String {
    let suffix = format!("_{shard_id}");
    if name.len() < NAMEDATALEN - suffix.len() {
        return format!("{name}{suffix}");
    }
    // pg_mbcliplen: the longest prefix of whole characters within the byte budget.
    let budget = NAMEDATALEN - suffix.len() - 10;
    let mut clip = budget.min(name.len());
    while !name.is_char_boundary(clip) {
        clip -= 1;
    }
    format!(
        "{}_{:08x}{suffix}",
        &name[..clip],
        hash_bytes(name.as_bytes())
    )
}

/// The shard id a shard's name ends with (`_102051`), if it ends with one.
pub(crate) fn shard_id(name: &str) -> Option<u64> {
    let (_, id) = name.rsplit_once('_')?;
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    id.parse().ok()
}

/// PostgreSQL's `hash_bytes` (`hash_any`, Bob Jenkins' lookup3 as in `src/common/hashfn.c`), on a
/// little-endian machine, where Citus computes shard names.
pub(crate) fn hash_bytes(k: &[u8]) -> u32 {
    fn mix(a: &mut u32, b: &mut u32, c: &mut u32) {
        *a = a.wrapping_sub(*c);
        *a ^= c.rotate_left(4);
        *c = c.wrapping_add(*b);
        *b = b.wrapping_sub(*a);
        *b ^= a.rotate_left(6);
        *a = a.wrapping_add(*c);
        *c = c.wrapping_sub(*b);
        *c ^= b.rotate_left(8);
        *b = b.wrapping_add(*a);
        *a = a.wrapping_sub(*c);
        *a ^= c.rotate_left(16);
        *c = c.wrapping_add(*b);
        *b = b.wrapping_sub(*a);
        *b ^= a.rotate_left(19);
        *a = a.wrapping_add(*c);
        *c = c.wrapping_sub(*b);
        *c ^= b.rotate_left(4);
        *b = b.wrapping_add(*a);
    }
    fn finish(a: &mut u32, b: &mut u32, c: &mut u32) {
        *c ^= *b;
        *c = c.wrapping_sub(b.rotate_left(14));
        *a ^= *c;
        *a = a.wrapping_sub(c.rotate_left(11));
        *b ^= *a;
        *b = b.wrapping_sub(a.rotate_left(25));
        *c ^= *b;
        *c = c.wrapping_sub(b.rotate_left(16));
        *a ^= *c;
        *a = a.wrapping_sub(c.rotate_left(4));
        *b ^= *a;
        *b = b.wrapping_sub(a.rotate_left(14));
        *c ^= *b;
        *c = c.wrapping_sub(b.rotate_left(24));
    }
    let word = |s: &[u8]| -> u32 {
        s.iter().enumerate().fold(0u32, |w, (i, byte)| {
            w.wrapping_add(u32::from(*byte) << (8 * i))
        })
    };
    #[allow(
        clippy::cast_possible_truncation,
        reason = "PostgreSQL passes the length as an int and adds it as a uint32"
    )]
    let init = 0x9e37_79b9_u32
        .wrapping_add(k.len() as u32)
        .wrapping_add(3_923_095);
    let (mut a, mut b, mut c) = (init, init, init);
    let mut rest = k;
    while rest.len() >= 12 {
        a = a.wrapping_add(word(&rest[0..4]));
        b = b.wrapping_add(word(&rest[4..8]));
        c = c.wrapping_add(word(&rest[8..12]));
        mix(&mut a, &mut b, &mut c);
        rest = &rest[12..];
    }
    // The last 0 to 11 bytes: `a` takes bytes 0-3, `b` 4-7, `c` 8-10 shifted up one byte (its
    // lowest byte is left for the length, which was added at the start).
    a = a.wrapping_add(word(&rest[..rest.len().min(4)]));
    if rest.len() > 4 {
        b = b.wrapping_add(word(&rest[4..rest.len().min(8)]));
    }
    if rest.len() > 8 {
        c = c.wrapping_add(word(&rest[8..]) << 8);
    }
    finish(&mut a, &mut b, &mut c);
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_bytes_is_postgresql_hash_any() {
        // `SELECT to_hex(hashtext(s))` on PostgreSQL 15 (hashtext is hash_any over the bytes).
        for (s, hex) in [
            ("", "a7ea466d"),
            ("a", "401370b1"),
            ("appointment", "c07b6673"),
            ("abcdefghijklmnopqrstuvw", "bb7de978"),
            (
                "appointment_y2026m03_tenant_id_scheduled_at_status_duration_idx",
                "dff9a99a",
            ),
            (
                "appointment_y2026m04_tenant_id_scheduled_at_status_duration_idx",
                "004914fb",
            ),
        ] {
            assert_eq!(format!("{:08x}", hash_bytes(s.as_bytes())), hex, "{s:?}");
        }
    }

    #[test]
    fn long_names_are_shortened_as_citus_does() {
        assert_eq!(
            shard_name("patient_live_mrn_key", 102_026),
            "patient_live_mrn_key_102026"
        );
        // From a real Citus 13.2 plan (tests/fixtures/citus).
        assert_eq!(
            shard_name(
                "appointment_y2026m03_tenant_id_scheduled_at_status_duration_idx",
                102_051
            ),
            "appointment_y2026m03_tenant_id_scheduled_at_sta_dff9a99a_102051"
        );
        assert_eq!(shard_id("appointment_y2026m03_102051"), Some(102_051));
        assert_eq!(shard_id("appointment"), None);
    }
}
