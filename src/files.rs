//! Reading a file a user names on the command line, bounded.
//!
//! A user may point qcheck at anything: `/dev/zero`, a FIFO, a directory, a 40 GB log. Every such
//! file is read here: only regular files, at most a stated number of bytes (checked before reading
//! and enforced while reading, so a file growing underneath cannot exceed it), as UTF-8 text. The
//! error names the file, what is wrong and the limit.

use std::io::Read as _;
use std::path::Path;

use crate::error::{Error, IoContext, Result};

const MIB: u64 = 1024 * 1024;

/// Limit for a query file (`--expect-from`, `--queries DIR`).
pub const MAX_QUERY_FILE_BYTES: u64 = 1024 * 1024;
/// Limit for a dataset profile (`--profile FILE`).
pub const MAX_PROFILE_BYTES: u64 = 1024 * 1024;
/// Limit for a partition map (`--partitions`).
pub const MAX_PARTITION_MAP_BYTES: u64 = 64 * 1024 * 1024;

/// Reads `path` as UTF-8 text of at most `limit` bytes; `what` names the kind of file in errors
/// (`a plan file`, `a query file`).
pub fn read_text(path: &Path, limit: u64, what: &str) -> Result<String> {
    let bad = |message: String| Error::InputFile {
        path: path.to_path_buf(),
        message,
    };
    let shown = if limit % MIB == 0 {
        format!("{} MiB", limit / MIB)
    } else {
        format!("{limit} bytes")
    };
    let too_big = || bad(format!("larger than {shown}, the limit for {what}"));
    let meta = std::fs::metadata(path).at(path)?;
    if !meta.is_file() {
        return Err(bad(format!("not a regular file; expected {what}")));
    }
    if meta.len() > limit {
        return Err(too_big());
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .at(path)?
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .at(path)?;
    if bytes.len() as u64 > limit {
        return Err(too_big());
    }
    String::from_utf8(bytes).map_err(|e| {
        bad(format!(
            "not UTF-8 text (invalid byte at offset {}); save it as UTF-8",
            e.utf8_error().valid_up_to()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_directories_and_large_files_are_refused() {
        let e = read_text(Path::new("/dev/zero"), 10, "a plan file").unwrap_err();
        assert_eq!(
            e.to_string(),
            "/dev/zero: not a regular file; expected a plan file"
        );
        let dir = tempfile::tempdir().unwrap();
        assert!(read_text(dir.path(), 10, "a plan file").is_err());
        let f = dir.path().join("big.json");
        std::fs::write(&f, "x".repeat(11)).unwrap();
        let e = read_text(&f, 10, "a plan file").unwrap_err().to_string();
        assert!(
            e.ends_with("larger than 10 bytes, the limit for a plan file"),
            "{e}"
        );
        std::fs::write(&f, [0xff, 0xfe]).unwrap();
        assert!(
            read_text(&f, 10, "a plan file")
                .unwrap_err()
                .to_string()
                .contains("not UTF-8")
        );
        std::fs::write(&f, "[]").unwrap();
        assert_eq!(read_text(&f, 10, "a plan file").unwrap(), "[]");
    }
}
