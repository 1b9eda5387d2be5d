//! libpq's connection rules, applied to a connection string and the environment: keyword and URL
//! forms, `PG*` variables, the local socket default, `PGSERVICE` / `pg_service.conf`,
//! `.pgpass` / `PGPASSFILE`, and the `sslmode` family. Kept apart from connecting (`super`) because
//! it is pure resolution, tested with the environment passed in as a map.

use std::path::PathBuf;
use std::time::Duration;

use postgres::Config;
use postgres::config::Host;

use super::PG_SELECTORS;
use crate::error::{Error, Result};
use crate::libpq_files;
use crate::tls::{SslMode, TlsSettings};

/// The keys qcheck handles itself: TLS (rust-postgres knows only part of `sslmode`) and `service`,
/// and the TLS keys it refuses (see [`UNSUPPORTED`]).
const TLS_KEYS: [&str; 8] = [
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "service",
    "sslcrl",
    "sslcrldir",
    "sslpassword",
];

/// libpq's TLS settings qcheck cannot honour, with their variables and what to do instead. They are
/// refused, never ignored: connecting without a revocation check the user asked for would be less
/// safe than asked.
const UNSUPPORTED: [(&str, Option<&str>, &str); 3] = [
    ("sslcrl", Some("PGSSLCRL"), CRL_UNSUPPORTED),
    ("sslcrldir", Some("PGSSLCRLDIR"), CRL_UNSUPPORTED),
    (
        "sslpassword",
        None,
        "it reads no encrypted client keys; decrypt the key (e.g. `openssl pkey -in client.key \
         -out client-plain.key`, kept private) and give that as sslkey",
    ),
];

/// Why certificate revocation lists are refused (also for `~/.postgresql/root.crl`).
pub(crate) const CRL_UNSUPPORTED: &str = "it does not check certificate revocation lists, so it \
     refuses rather than trust a certificate the list may revoke; remove the setting to connect \
     without a revocation check";

/// Parses a URL or keyword/value string, and its TLS settings (with the PGSSL* variables as
/// fallbacks). The error never repeats the input, which may hold a password.
pub fn parse_url(url: &str) -> Result<(Config, TlsSettings)> {
    let cfg = server_config(Some(url), &process_env, &LocalDefaults::detect())?;
    cfg.ok_or_else(|| Error::DatabaseUrl {
        message: "empty".into(),
    })
}

pub(super) fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// TLS settings from the connection string's parameters, else the environment's PGSSL* variables.
pub fn tls_settings(
    params: &[(String, String)],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<TlsSettings> {
    let get = |key: &str, var: &str| {
        params
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .or_else(|| env(var))
    };
    for (key, var, why) in UNSUPPORTED {
        let origin = if params.iter().any(|(k, _)| k == key) {
            "in the connection string or its service".to_string()
        } else if let Some(var) = var.filter(|v| env(v).is_some()) {
            format!("from {var}")
        } else {
            continue;
        };
        return Err(Error::UnsupportedSetting {
            setting: key.to_string(),
            origin,
            why: why.to_string(),
        });
    }
    let root_cert = get("sslrootcert", "PGSSLROOTCERT");
    let mode = match get("sslmode", "PGSSLMODE") {
        // As libpq 16: the system's roots make verify-full the default.
        None if root_cert.as_deref() == Some("system") => SslMode::VerifyFull,
        None => SslMode::default(),
        Some(value) => SslMode::parse(&value).ok_or_else(|| Error::DatabaseUrl {
            message: format!(
                "invalid sslmode `{value}` (disable, allow, prefer, require, verify-ca or verify-full)"
            ),
        })?,
    };
    Ok(TlsSettings {
        mode,
        root_cert: root_cert.map(PathBuf::from),
        cert: get("sslcert", "PGSSLCERT").map(PathBuf::from),
        key: get("sslkey", "PGSSLKEY").map(PathBuf::from),
    })
}

/// Takes the TLS parameters out of a URL's query or a keyword/value string; returns the rest (for
/// rust-postgres) and the TLS parameters, decoded, in order.
pub fn split_tls_params(conn: &str) -> (String, Vec<(String, String)>) {
    let mut found = Vec::new();
    let trimmed = conn.trim();
    if trimmed.starts_with("postgres://") || trimmed.starts_with("postgresql://") {
        let Some((base, query)) = trimmed.split_once('?') else {
            return (conn.to_string(), found);
        };
        let mut kept = Vec::new();
        for pair in query.split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let key = percent_decode(k);
            if TLS_KEYS.contains(&key.as_str()) {
                found.push((key, percent_decode(v)));
            } else {
                kept.push(pair);
            }
        }
        let rest = if kept.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        return (rest, found);
    }
    let mut kept: Vec<&str> = Vec::new();
    for (start, end, key, value) in keyword_pairs(conn) {
        if TLS_KEYS.contains(&key.as_str()) {
            found.push((key, value));
        } else {
            kept.push(&conn[start..end]);
        }
    }
    (kept.join(" "), found)
}

/// The `key = value` pairs of a keyword/value string: byte span, key, unquoted value. Stops at
/// anything malformed (rust-postgres then reports it).
fn keyword_pairs(s: &str) -> Vec<(usize, usize, String, String)> {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let skip_ws = |mut i: usize| {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        i
    };
    loop {
        i = skip_ws(i);
        if i >= bytes.len() {
            break;
        }
        let start = i;
        while i < bytes.len() && bytes[i] != b'=' && !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let key = s[start..i].to_string();
        i = skip_ws(i);
        if i >= bytes.len() || bytes[i] != b'=' {
            // Malformed: keep the remainder as it is.
            out.push((start, s.len(), key, String::new()));
            break;
        }
        i = skip_ws(i + 1);
        let mut value = Vec::new();
        if i < bytes.len() && bytes[i] == b'\'' {
            i += 1;
            while i < bytes.len() && bytes[i] != b'\'' {
                if bytes[i] == b'\\' && i + 1 < bytes.len() {
                    i += 1;
                }
                value.push(bytes[i]);
                i += 1;
            }
            i = (i + 1).min(bytes.len());
        } else {
            while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                if bytes[i] == b'\\' && i + 1 < bytes.len() {
                    i += 1;
                }
                value.push(bytes[i]);
                i += 1;
            }
        }
        out.push((start, i, key, String::from_utf8_lossy(&value).into_owned()));
    }
    out
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        if let (b'%', Some(b)) = (bytes[i], hex) {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What libpq falls back to on this machine: the default Unix socket folder and the OS user name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalDefaults {
    /// libpq's default socket folder: `/var/run/postgresql` (Debian's build), else `/tmp`, the
    /// first that exists; `None` for neither (then `localhost` over TCP).
    pub socket_dir: Option<PathBuf>,
    /// The user name when neither the URL nor `PGUSER` gives one.
    pub os_user: Option<String>,
    /// The user's home folder, for `~/.pgpass` and `~/.pg_service.conf`.
    pub home: Option<PathBuf>,
}

impl LocalDefaults {
    /// This machine's defaults.
    pub fn detect() -> LocalDefaults {
        let user = nix::unistd::User::from_uid(nix::unistd::geteuid())
            .ok()
            .flatten();
        LocalDefaults {
            socket_dir: ["/var/run/postgresql", "/tmp"]
                .iter()
                .map(PathBuf::from)
                .find(|d| d.is_dir()),
            os_user: user.as_ref().map(|u| u.name.clone()),
            home: user.map(|u| u.dir),
        }
    }
}

/// The server a connection string and the libpq environment select, as libpq resolves them; `None`
/// when neither names one (qcheck then uses its embedded cluster). Precedence as in libpq: the
/// connection string, then the service (`service=` or `PGSERVICE`), then the PG* variables, then
/// the defaults; a missing password comes from the password file. The environment comes in as
/// `env`, the machine's defaults as `local` (only the service and password files are read).
pub fn server_config(
    conn: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
    local: &LocalDefaults,
) -> Result<Option<(Config, TlsSettings)>> {
    let env = |name: &str| env(name).filter(|v| !v.is_empty());
    let (mut cfg, params) = match conn.filter(|c| !c.trim().is_empty()) {
        Some(conn) => {
            let (rest, params) = split_tls_params(conn);
            let cfg: Config = rest
                .parse()
                .map_err(|e: postgres::Error| Error::DatabaseUrl {
                    message: e.to_string(),
                })?;
            (cfg, params)
        }
        None if PG_SELECTORS.iter().any(|v| env(v).is_some()) => (Config::new(), Vec::new()),
        None => return Ok(None),
    };
    let mut params = params;
    let service = params
        .iter()
        .rev()
        .find(|(k, _)| k == "service")
        .map(|(_, v)| v.clone())
        .or_else(|| env("PGSERVICE"));
    if let Some(service) = service {
        let files = libpq_files::service_files(
            env("PGSERVICEFILE"),
            env("PGSYSCONFDIR"),
            local.home.as_deref(),
        );
        let settings =
            libpq_files::find_service(&files, &service).ok_or_else(|| Error::ServiceNotFound {
                service: service.clone(),
                files: files
                    .iter()
                    .map(|f| f.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        let (tls_part, rest): (Vec<_>, Vec<_>) = settings
            .into_iter()
            .partition(|(k, _)| TLS_KEYS.contains(&k.as_str()));
        // The connection string's own TLS keys come later, so they win.
        params.splice(0..0, tls_part);
        let keywords: Vec<String> = rest
            .iter()
            .map(|(k, v)| format!("{k}='{}'", v.replace('\\', "\\\\").replace('\'', "\\'")))
            .collect();
        let svc: Config =
            keywords
                .join(" ")
                .parse()
                .map_err(|e: postgres::Error| Error::DatabaseUrl {
                    message: format!("service \"{service}\": {e}"),
                })?;
        merge_missing(&mut cfg, &svc);
    }
    apply_env_defaults(&mut cfg, &env, local);
    if cfg.get_password().is_none() {
        password_from_file(&mut cfg, &env, local);
    }
    let tls = tls_settings(&params, &env)?;
    Ok(Some((cfg, tls)))
}

/// Copies into `cfg` what it lacks and `from` has.
fn merge_missing(cfg: &mut Config, from: &Config) {
    if cfg.get_hosts().is_empty() && cfg.get_hostaddrs().is_empty() {
        for host in from.get_hosts() {
            match host {
                Host::Tcp(name) => cfg.host(name),
                Host::Unix(path) => cfg.host_path(path),
            };
        }
        for addr in from.get_hostaddrs() {
            cfg.hostaddr(*addr);
        }
    }
    if cfg.get_ports().is_empty() {
        for port in from.get_ports() {
            cfg.port(*port);
        }
    }
    if let (None, Some(v)) = (cfg.get_user(), from.get_user()) {
        cfg.user(v);
    }
    if let (None, Some(v)) = (cfg.get_password(), from.get_password()) {
        cfg.password(v);
    }
    if let (None, Some(v)) = (cfg.get_dbname(), from.get_dbname()) {
        cfg.dbname(v);
    }
    if let (None, Some(v)) = (cfg.get_options(), from.get_options()) {
        cfg.options(v);
    }
    if let (None, Some(v)) = (cfg.get_application_name(), from.get_application_name()) {
        cfg.application_name(v);
    }
    if let (None, Some(v)) = (cfg.get_connect_timeout(), from.get_connect_timeout()) {
        cfg.connect_timeout(*v);
    }
}

/// The password from `PGPASSFILE` or `~/.pgpass` for the first host, as libpq looks it up (a
/// socket folder counts as `localhost`; the database defaults to the user name).
fn password_from_file(
    cfg: &mut Config,
    env: &dyn Fn(&str) -> Option<String>,
    local: &LocalDefaults,
) {
    let Some(path) = libpq_files::pgpass_path(env("PGPASSFILE"), local.home.as_deref()) else {
        return;
    };
    let text = match libpq_files::read_pgpass(&path) {
        Ok(Some(text)) => text,
        Ok(None) => return,
        Err(warning) => {
            eprintln!("qcheck: warning: {warning}");
            return;
        }
    };
    let host = match cfg.get_hosts().first() {
        Some(Host::Tcp(name)) => name.clone(),
        Some(Host::Unix(_)) => "localhost".to_string(),
        None => cfg
            .get_hostaddrs()
            .first()
            .map_or_else(|| "localhost".to_string(), ToString::to_string),
    };
    let port = cfg.get_ports().first().copied().unwrap_or(5432).to_string();
    let user = cfg.get_user().unwrap_or_default().to_string();
    let dbname = cfg.get_dbname().unwrap_or(&user).to_string();
    if let Some(password) = libpq_files::pgpass_lookup(&text, &host, &port, &dbname, &user) {
        cfg.password(password);
    }
}

/// libpq's fallbacks for what the connection string leaves out.
fn apply_env_defaults(
    cfg: &mut Config,
    var: &dyn Fn(&str) -> Option<String>,
    local: &LocalDefaults,
) {
    if cfg.get_hosts().is_empty() && cfg.get_hostaddrs().is_empty() {
        if let Some(hosts) = var("PGHOST").or_else(|| var("PGHOSTADDR")) {
            for host in hosts.split(',') {
                cfg.host(host);
            }
        } else if let Some(dir) = &local.socket_dir {
            cfg.host_path(dir);
        } else {
            cfg.host("localhost");
        }
    }
    if cfg.get_ports().is_empty() {
        if let Some(port) = var("PGPORT").and_then(|p| p.parse().ok()) {
            cfg.port(port);
        }
    }
    if cfg.get_dbname().is_none() {
        if let Some(db) = var("PGDATABASE") {
            cfg.dbname(&db);
        }
    }
    if cfg.get_user().is_none() {
        if let Some(user) = var("PGUSER").or_else(|| local.os_user.clone()) {
            cfg.user(&user);
        }
    }
    if cfg.get_password().is_none() {
        if let Some(pw) = var("PGPASSWORD") {
            cfg.password(pw);
        }
    }
    if cfg.get_connect_timeout().is_none() {
        if let Some(secs) = var("PGCONNECT_TIMEOUT").and_then(|s| s.trim().parse::<u64>().ok()) {
            // libpq: zero or negative waits forever; a value below 2 s counts as 2 s.
            if secs > 0 {
                cfg.connect_timeout(Duration::from_secs(secs.max(2)));
            }
        }
    }
    if cfg.get_application_name().is_none() {
        if let Some(name) = var("PGAPPNAME") {
            cfg.application_name(&name);
        }
    }
    if cfg.get_options().is_none() {
        if let Some(options) = var("PGOPTIONS") {
            cfg.options(&options);
        }
    }
}
