//! The JSON documents qcheck prints, versioned: every one is an object whose first key is
//! `"schema_version"`, so a consumer can tell which shape it reads. The shapes are described by the
//! JSON Schema files under `schema/` (one per document); the integration tests validate real output
//! against them.
//!
//! Bump [`SCHEMA_VERSION`] when a key is removed, renamed or changes its type (adding keys is
//! compatible), and update the schema files with it.

use serde::Serialize;

/// The version of the shapes of qcheck's JSON documents (`schema/*.schema.json`).
pub const SCHEMA_VERSION: u32 = 1;

/// A document: `"schema_version"` followed by the fields of `body` (a struct or map; serde
/// flattens it into the same object).
#[derive(Debug, Serialize)]
pub struct Versioned<T: Serialize> {
    /// Always [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The document's own fields.
    #[serde(flatten)]
    pub body: T,
}

/// `body` as a versioned document.
pub fn versioned<T: Serialize>(body: T) -> Versioned<T> {
    Versioned {
        schema_version: SCHEMA_VERSION,
        body,
    }
}

/// `body` as a pretty-printed versioned document, with a trailing newline.
///
/// # Panics
/// When `body` is not an object-like value (a sequence or a scalar cannot take a
/// `schema_version` key): a programming error, caught by the tests of every document.
pub fn document<T: Serialize>(body: T) -> String {
    serde_json::to_string_pretty(&versioned(body)).expect("a JSON document serializes as an object")
        + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_start_with_their_schema_version() {
        #[derive(Serialize)]
        struct Doc {
            url: &'static str,
        }
        assert_eq!(
            document(Doc {
                url: "postgresql://x"
            }),
            "{\n  \"schema_version\": 1,\n  \"url\": \"postgresql://x\"\n}\n"
        );
    }
}
