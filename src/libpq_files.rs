//! libpq's files: the password file (`~/.pgpass` or `PGPASSFILE`) and the connection service file
//! (`PGSERVICEFILE` or `~/.pg_service.conf`, then `PGSYSCONFDIR/pg_service.conf`), read as libpq
//! reads them. Pure where it can be: parsing works on text, lookups take the paths.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The password for `host:port:dbname:user` in a password file's text: the first line whose
/// fields all match (`*` matches anything; `\:` and `\\` are escapes; `#` starts a comment line).
pub fn pgpass_lookup(
    text: &str,
    host: &str,
    port: &str,
    dbname: &str,
    user: &str,
) -> Option<String> {
    let wanted = [host, port, dbname, user];
    text.lines()
        .filter(|line| !line.trim_start().starts_with('#') && !line.trim().is_empty())
        .find_map(|line| {
            let fields = pgpass_fields(line);
            if fields.len() < 5 {
                return None;
            }
            let matches = fields[..4]
                .iter()
                .zip(wanted)
                .all(|(field, want)| field == "*" || field == want);
            matches.then(|| fields[4..].join(":"))
        })
}

/// Splits a password file line at unescaped colons, undoing `\:` and `\\`.
fn pgpass_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    fields.last_mut().expect("one field").push(next);
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => fields.last_mut().expect("one field").push(c),
        }
    }
    fields
}

/// Reads a password file unless libpq would ignore it: missing, not a regular file, or readable
/// by group or others (then `Err` with libpq's warning).
pub fn read_pgpass(path: &Path) -> Result<Option<String>, String> {
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(None);
    };
    if !meta.is_file() {
        return Ok(None);
    }
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(format!(
            "password file \"{}\" has group or world access; permissions should be u=rw (0600) or \
             less: ignored",
            path.display()
        ));
    }
    Ok(std::fs::read_to_string(path).ok())
}

/// The password file: `PGPASSFILE`, else `~/.pgpass`.
pub fn pgpass_path(pgpassfile: Option<String>, home: Option<&Path>) -> Option<PathBuf> {
    pgpassfile
        .map(PathBuf::from)
        .or_else(|| home.map(|h| h.join(".pgpass")))
}

/// The `key=value` settings of `[service]` in a service file's text; `None` if it has no such
/// section. Blank lines and `#` comments are skipped.
pub fn service_lookup(text: &str, service: &str) -> Option<Vec<(String, String)>> {
    let mut found: Option<Vec<(String, String)>> = None;
    let mut in_section = false;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            if found.is_some() && in_section {
                break;
            }
            in_section = name.trim() == service;
            if in_section {
                found = Some(Vec::new());
            }
            continue;
        }
        if in_section {
            if let Some((key, value)) = line.split_once('=') {
                found
                    .as_mut()
                    .expect("in the section")
                    .push((key.trim().to_string(), value.trim().to_string()));
            }
        }
    }
    found
}

/// The service files in libpq's order: `PGSERVICEFILE` (else `~/.pg_service.conf`), then
/// `PGSYSCONFDIR/pg_service.conf` (else the system folder, `/etc/postgresql-common` on Debian).
pub fn service_files(
    pgservicefile: Option<String>,
    pgsysconfdir: Option<String>,
    home: Option<&Path>,
) -> Vec<PathBuf> {
    let user = pgservicefile
        .map(PathBuf::from)
        .or_else(|| home.map(|h| h.join(".pg_service.conf")));
    let system = PathBuf::from(pgsysconfdir.unwrap_or_else(|| "/etc/postgresql-common".into()))
        .join("pg_service.conf");
    user.into_iter().chain(std::iter::once(system)).collect()
}

/// The settings of `service` from the first file that defines it.
pub fn find_service(files: &[PathBuf], service: &str) -> Option<Vec<(String, String)>> {
    files.iter().find_map(|file| {
        let text = std::fs::read_to_string(file).ok()?;
        service_lookup(&text, service)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pgpass_lines_match_field_by_field() {
        let text = "# comment\n\
                    db.example:5432:app:alice:first\n\
                    *:*:*:alice:fallback\n\
                    localhost:6543:*:bob:pa\\:ss\\\\word\n\
                    host\\:with\\:colons:*:*:*:colon\n";
        assert_eq!(
            pgpass_lookup(text, "db.example", "5432", "app", "alice").as_deref(),
            Some("first")
        );
        assert_eq!(
            pgpass_lookup(text, "other", "1", "x", "alice").as_deref(),
            Some("fallback")
        );
        assert_eq!(
            pgpass_lookup(text, "localhost", "6543", "any", "bob").as_deref(),
            Some("pa:ss\\word")
        );
        assert_eq!(
            pgpass_lookup(text, "host:with:colons", "1", "d", "u").as_deref(),
            Some("colon")
        );
        assert_eq!(pgpass_lookup(text, "localhost", "5432", "any", "bob"), None);
        // A short line never matches.
        assert_eq!(pgpass_lookup("*:*:*", "a", "b", "c", "d"), None);
    }

    #[test]
    fn pgpass_files_readable_by_others_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pgpass");
        std::fs::write(&path, "*:*:*:*:pw\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read_pgpass(&path).unwrap().as_deref(), Some("*:*:*:*:pw\n"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let warning = read_pgpass(&path).unwrap_err();
        assert!(warning.contains("has group or world access"), "{warning}");
        assert_eq!(read_pgpass(&dir.path().join("missing")).unwrap(), None);
        assert_eq!(read_pgpass(dir.path()).unwrap(), None);
        assert_eq!(
            pgpass_path(None, Some(Path::new("/home/a"))),
            Some(PathBuf::from("/home/a/.pgpass"))
        );
        assert_eq!(
            pgpass_path(Some("/x/pw".into()), Some(Path::new("/home/a"))),
            Some(PathBuf::from("/x/pw"))
        );
    }

    #[test]
    fn services_come_from_the_first_file_that_defines_them() {
        let dir = tempfile::tempdir().unwrap();
        let user = dir.path().join("user.conf");
        let sys = dir.path().join("sys");
        std::fs::create_dir(&sys).unwrap();
        std::fs::write(
            &user,
            "# mine\n[prod]\nhost = db.example\nport=6543\n\n[other]\nhost=x\n",
        )
        .unwrap();
        std::fs::write(
            sys.join("pg_service.conf"),
            "[prod]\nhost=shadowed\n[staging]\nhost=stage\ndbname=app\nsslmode=require\n",
        )
        .unwrap();
        let files = service_files(
            Some(user.display().to_string()),
            Some(sys.display().to_string()),
            None,
        );
        assert_eq!(files, [user.clone(), sys.join("pg_service.conf")]);
        let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect()
        };
        assert_eq!(
            find_service(&files, "prod"),
            Some(pairs(&[("host", "db.example"), ("port", "6543")]))
        );
        assert_eq!(
            find_service(&files, "staging"),
            Some(pairs(&[
                ("host", "stage"),
                ("dbname", "app"),
                ("sslmode", "require")
            ]))
        );
        assert_eq!(find_service(&files, "nope"), None);
        assert_eq!(
            service_files(None, None, Some(Path::new("/home/a"))),
            [
                PathBuf::from("/home/a/.pg_service.conf"),
                PathBuf::from("/etc/postgresql-common/pg_service.conf")
            ]
        );
    }
}
