//! TLS to a server the user names: a dedicated cluster listening on 127.0.0.1 with `ssl = on` and a
//! server certificate for `localhost`/`127.0.0.1` signed by a CA made here; each `sslmode` checked
//! as libpq defines it, through the library and through the binary.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use qcheck::cluster::{Cluster, ServerUse};
use qcheck::db::{connect_with, parse_url};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

use crate::common;

/// Stops the dedicated cluster and removes its folder, also when an assertion fails.
struct TlsServer {
    cluster: Cluster,
    base: PathBuf,
    server_use: Option<ServerUse>,
    port: u16,
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        if let Some(server_use) = self.server_use.take() {
            let _ = self.cluster.release(server_use);
        }
        let _ = self.cluster.stop();
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

fn make_ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Writes a file in the data folder owned by the server's user (a key must be 0600 and its own).
fn write_owned(data: &Path, name: &str, text: &str, mode: u32) {
    let path = data.join(name);
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    let owner = std::fs::metadata(data).unwrap();
    std::os::unix::fs::chown(&path, Some(owner.uid()), Some(owner.gid())).unwrap();
}

fn append(path: &Path, text: &str) {
    let mut all = std::fs::read_to_string(path).unwrap();
    all.push_str(text);
    std::fs::write(path, all).unwrap();
}

/// Starts the TLS cluster; returns it and the right and wrong CA files.
fn start_tls_server() -> (TlsServer, PathBuf, PathBuf) {
    let base = common::temp_home("tls");
    let cluster = Cluster::new(common::pg_bin(), base.join("home")).unwrap();
    // Initialise (the first use starts the server; releasing it stops it again).
    let first = cluster.acquire(|| Ok(())).unwrap();
    cluster.release(first).unwrap();

    let ca = make_ca("qcheck test CA");
    let wrong_ca = make_ca("some other CA");
    let server_key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let server_cert = params.signed_by(&server_key, &ca).unwrap();

    let data = cluster.data_dir();
    write_owned(&data, "server.crt", &server_cert.pem(), 0o644);
    write_owned(&data, "server.key", &server_key.serialize_pem(), 0o600);
    write_owned(&data, "ca.crt", &ca.pem(), 0o644);
    // A client certificate for the role `certuser`, whom pg_hba admits only with one.
    let client_key = KeyPair::generate().unwrap();
    let mut client = CertificateParams::new(Vec::<String>::new()).unwrap();
    client
        .distinguished_name
        .push(DnType::CommonName, "certuser");
    let client_cert = client.signed_by(&client_key, &ca).unwrap();
    std::fs::write(base.join("client.crt"), client_cert.pem()).unwrap();
    std::fs::write(base.join("client.key"), client_key.serialize_pem()).unwrap();
    let port = free_port();
    // After qcheck's include line, so these win over qcheck.conf.
    append(
        &data.join("postgresql.conf"),
        &format!(
            "\nlisten_addresses = '127.0.0.1'\nport = {port}\nssl = on\n\
             ssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nssl_ca_file = 'ca.crt'\n"
        ),
    );
    let hba = data.join("pg_hba.conf");
    let old = std::fs::read_to_string(&hba).unwrap();
    std::fs::write(
        &hba,
        format!(
            "hostssl all certuser 127.0.0.1/32 cert\nhostssl all all 127.0.0.1/32 trust\n{old}"
        ),
    )
    .unwrap();

    let ca_file = base.join("ca.pem");
    let wrong_ca_file = base.join("wrong-ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    std::fs::write(&wrong_ca_file, wrong_ca.pem()).unwrap();

    let server_use = Some(cluster.acquire(|| Ok(())).unwrap());
    (
        TlsServer {
            cluster,
            base,
            server_use,
            port,
        },
        ca_file,
        wrong_ca_file,
    )
}

/// Connects with a URL or keyword string; `Ok(whether the session uses TLS)` or the error line.
fn ssl_in_use(conn: &str) -> Result<bool, String> {
    let (cfg, tls) = parse_url(conn).map_err(|e| e.to_string())?;
    let mut client = connect_with(&cfg, &tls).map_err(|e| e.to_string())?;
    let row = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .unwrap();
    Ok(row.get(0))
}

fn assert_fails(conn: &str, needles: &[&str]) {
    let err = ssl_in_use(conn).expect_err(conn);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    for needle in needles {
        assert!(err.contains(needle), "`{needle}` in: {err}");
    }
    assert!(!err.contains("s3cret"), "{err}");
}

#[test]
fn sslmodes_against_a_tls_server() {
    let (server, ca, wrong_ca) = start_tls_server();
    let port = server.port;
    let (ca, wrong_ca) = (ca.display(), wrong_ca.display());
    let url = |host: &str, query: &str| {
        let base = format!("postgresql://qcheck@{host}:{port}/postgres");
        if query.is_empty() {
            base
        } else {
            format!("{base}?{query}")
        }
    };

    // verify-full: the chain and the name (DNS and IP address both in the certificate).
    for host in ["localhost", "127.0.0.1"] {
        let conn = url(host, &format!("sslmode=verify-full&sslrootcert={ca}"));
        assert_eq!(ssl_in_use(&conn), Ok(true), "{conn}");
    }
    // The keyword form too.
    let conn = format!(
        "host=localhost port={port} user=qcheck dbname=postgres sslmode=verify-full sslrootcert='{ca}'"
    );
    assert_eq!(ssl_in_use(&conn), Ok(true));

    // A CA that did not sign the server's certificate: one line, the target, the reason, no password.
    let conn = format!(
        "postgresql://qcheck:s3cret@localhost:{port}/postgres?sslmode=verify-full&sslrootcert={wrong_ca}"
    );
    assert_fails(
        &conn,
        &[
            &format!(
                "cannot connect to host=localhost port={port} user=qcheck dbname=postgres sslmode=verify-full"
            ),
            "invalid peer certificate",
            "UnknownIssuer",
            "sslrootcert",
        ],
    );
    // verify-ca and require-with-a-root-certificate check the chain as well.
    assert_fails(
        &url(
            "localhost",
            &format!("sslmode=verify-ca&sslrootcert={wrong_ca}"),
        ),
        &["UnknownIssuer"],
    );
    assert_fails(
        &url(
            "localhost",
            &format!("sslmode=require&sslrootcert={wrong_ca}"),
        ),
        &["UnknownIssuer"],
    );

    // A client certificate (sslcert/sslkey) logs `certuser` in; without one the server refuses.
    {
        let (cfg, tls) = parse_url(&url(
            "localhost",
            &format!("sslmode=verify-full&sslrootcert={ca}"),
        ))
        .unwrap();
        let mut admin = connect_with(&cfg, &tls).unwrap();
        admin.batch_execute("CREATE ROLE certuser LOGIN").unwrap();
    }
    let cert_url = |extra: &str| {
        format!(
            "postgresql://certuser@localhost:{port}/postgres?sslmode=verify-full&sslrootcert={ca}{extra}"
        )
    };
    let (client_cert, client_key) = (
        server.base.join("client.crt"),
        server.base.join("client.key"),
    );
    let with_cert = cert_url(&format!(
        "&sslcert={}&sslkey={}",
        client_cert.display(),
        client_key.display()
    ));
    assert_eq!(ssl_in_use(&with_cert), Ok(true));
    if !dirs::home_dir().is_some_and(|h| h.join(".postgresql/postgresql.crt").exists()) {
        assert_fails(&cert_url(""), &["user=certuser", "certificate"]);
    }

    // The system's roots (verify-full by default) do not include the test CA.
    if Path::new("/etc/ssl/certs/ca-certificates.crt").exists() {
        assert_fails(
            &url("localhost", "sslrootcert=system"),
            &["sslmode=verify-full", "UnknownIssuer"],
        );
    }

    // A name the certificate does not hold (the TCP connection still goes to 127.0.0.1): verify-full
    // refuses, verify-ca accepts.
    let other_name = |mode: &str| {
        format!(
            "host=db.example hostaddr=127.0.0.1 port={port} user=qcheck dbname=postgres \
             sslmode={mode} sslrootcert={ca}"
        )
    };
    assert_fails(
        &other_name("verify-full"),
        &[
            "host=db.example",
            "invalid peer certificate",
            "not valid for name \"db.example\"",
        ],
    );
    assert_eq!(ssl_in_use(&other_name("verify-ca")), Ok(true));

    // require without a root certificate: encrypted, not verified; prefer (the default) takes TLS;
    // disable stays plain.
    if !dirs::home_dir().is_some_and(|h| h.join(".postgresql/root.crt").exists()) {
        assert_eq!(ssl_in_use(&url("localhost", "sslmode=require")), Ok(true));
        assert_fails(
            &url("localhost", "sslmode=verify-full"),
            &["needs a root certificate"],
        );
    }
    assert_eq!(ssl_in_use(&url("localhost", "sslmode=prefer")), Ok(true));
    assert_eq!(
        ssl_in_use(&url("localhost", "application_name=x")),
        Ok(true)
    );
    assert_eq!(ssl_in_use(&url("localhost", "sslmode=disable")), Ok(false));
    assert_eq!(ssl_in_use(&url("localhost", "sslmode=allow")), Ok(false));
    // A revocation list qcheck cannot check is refused, not ignored.
    assert_fails(
        &url(
            "localhost",
            &format!("sslmode=verify-full&sslrootcert={ca}&sslcrl={ca}"),
        ),
        &["sslcrl", "not supported by qcheck", "revocation"],
    );
    assert_fails(
        &url("localhost", "sslmode=verify"),
        &["invalid --database-url", "invalid sslmode `verify`"],
    );

    // The binary: a verified TLS connection from --database-url, and PGSSLMODE from the environment.
    let home = server.base.join("qcheck-home");
    let conn = url(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    );
    let out = common::qcheck(&["--database-url", &conn, "migrate", "status"], &home);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_qcheck"))
        .args(["--database-url", &url("localhost", ""), "migrate", "status"])
        .env("QCHECK_HOME", &home)
        .env("PGSSLMODE", "verify-full")
        .env("PGSSLROOTCERT", wrong_ca.to_string())
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", common::stderr(&out));
    let err = common::stderr(&out);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("UnknownIssuer"), "{err}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_qcheck"))
        .args(["--database-url", &url("localhost", ""), "migrate", "status"])
        .env("QCHECK_HOME", &home)
        .env("PGSSLCRL", ca.to_string())
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    let err = common::stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("sslcrl (from PGSSLCRL) is not supported by qcheck"),
        "{err}"
    );

    // The server turns TLS off (ssl is reloadable; the hostssl lines then match nothing and the
    // plain `host` lines admit): prefer, the default, falls back to plain as libpq does; require and
    // verify-full refuse.
    {
        let (cfg, tls) = parse_url(&url(
            "localhost",
            &format!("sslmode=verify-full&sslrootcert={ca}"),
        ))
        .unwrap();
        let mut admin = connect_with(&cfg, &tls).unwrap();
        admin.batch_execute("ALTER SYSTEM SET ssl = off").unwrap();
        admin.batch_execute("SELECT pg_reload_conf()").unwrap();
    }
    let start = std::time::Instant::now();
    while ssl_in_use(&url("localhost", "sslmode=prefer")) != Ok(false) {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "prefer never fell back to plain: {:?}",
            ssl_in_use(&url("localhost", "sslmode=prefer"))
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(ssl_in_use(&url("localhost", "")), Ok(false));
    assert_eq!(ssl_in_use(&url("localhost", "sslmode=allow")), Ok(false));
    assert_fails(&url("localhost", "sslmode=require"), &["sslmode=require"]);
    assert_fails(
        &url(
            "localhost",
            &format!("sslmode=verify-full&sslrootcert={ca}"),
        ),
        &["sslmode=verify-full"],
    );
}

/// As in libpq, a Unix socket never uses TLS: `sslmode` and certificate files do not matter there.
#[test]
fn a_socket_connection_ignores_sslmode() {
    let (db, _client) = common::fresh_db("tls_socket");
    let cfg = common::cluster().session.config(Some(&db));
    let tls = qcheck::tls::TlsSettings {
        mode: qcheck::tls::SslMode::VerifyFull,
        root_cert: Some(PathBuf::from("/nonexistent/ca.pem")),
        ..Default::default()
    };
    let mut client = connect_with(&cfg, &tls).unwrap();
    let row = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .unwrap();
    assert!(!row.get::<_, bool>(0));
}
