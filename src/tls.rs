//! TLS for connections to a server the user named, with libpq's `sslmode` semantics, on rustls
//! (pure Rust: no system OpenSSL to install for building or in CI).
//!
//! - `disable`: plain; `allow`: plain, TLS if the server refuses plain; `prefer` (the default): TLS
//!   if the server offers it, else plain — in both, the certificate is not checked;
//! - `require`: TLS, certificate not checked — unless a root certificate is given (or
//!   `~/.postgresql/root.crt` exists), then like `verify-ca`, as libpq does;
//! - `verify-ca`: the chain must lead to the root certificate; `verify-full`: and name the host;
//! - `sslrootcert=system` trusts the operating system's roots and, as in libpq 16, needs (and
//!   defaults to) `verify-full`.
//!
//! Unix-domain sockets never use TLS (PostgreSQL does not offer it there), as in libpq.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres_rustls::MakeRustlsConnect;

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SslMode {
    /// Never TLS.
    Disable,
    /// Plain first; TLS if the server refuses a plain connection.
    Allow,
    /// TLS if the server offers it, else plain (libpq's default).
    #[default]
    Prefer,
    /// TLS, the certificate not checked (unless a root certificate is given).
    Require,
    /// TLS, the certificate chain checked against the root certificate.
    VerifyCa,
    /// TLS, the chain checked and the certificate naming the host.
    VerifyFull,
}

impl SslMode {
    /// Parses libpq's spelling.
    pub fn parse(value: &str) -> Option<SslMode> {
        Some(match value {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }

    /// libpq's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// The TLS settings of a connection (`sslmode`, `sslrootcert`, `sslcert`, `sslkey`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// `sslmode` / `PGSSLMODE`.
    pub mode: SslMode,
    /// `sslrootcert` / `PGSSLROOTCERT`: PEM file of trusted roots, or `system` for the operating
    /// system's; default `~/.postgresql/root.crt`.
    pub root_cert: Option<PathBuf>,
    /// `sslcert` / `PGSSLCERT`: client certificate; default `~/.postgresql/postgresql.crt` if present.
    pub cert: Option<PathBuf>,
    /// `sslkey` / `PGSSLKEY`: client key; default `~/.postgresql/postgresql.key` if present.
    pub key: Option<PathBuf>,
}

fn default_file(name: &str) -> Option<PathBuf> {
    dirs::home_dir().map(|h| h.join(".postgresql").join(name))
}

impl TlsSettings {
    /// The root certificate file to check against, if any: the given one, else libpq's default
    /// when it exists.
    fn root_cert_file(&self) -> Option<PathBuf> {
        self.root_cert
            .clone()
            .or_else(|| default_file("root.crt").filter(|p| p.exists()))
    }

    /// The rustls connector for these settings (`None` for `disable`).
    pub fn connector(&self) -> Result<Option<MakeRustlsConnect>, String> {
        let system = self.root_cert.as_deref() == Some(Path::new(SYSTEM));
        if system && self.mode != SslMode::VerifyFull && self.mode != SslMode::Disable {
            // libpq refuses this too: the public roots vouch for anyone's name, so only a checked
            // host name means anything.
            return Err(format!(
                "weak sslmode \"{}\" may not be used with sslrootcert=system (use \"verify-full\")",
                self.mode.as_str()
            ));
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier: Arc<dyn ServerCertVerifier> = match self.mode {
            SslMode::Disable => return Ok(None),
            SslMode::Allow | SslMode::Prefer => Arc::new(NoVerification(provider.clone())),
            SslMode::Require => match self.root_cert_file() {
                Some(root) => Arc::new(ChainOnly(webpki(&root, &provider)?)),
                None => Arc::new(NoVerification(provider.clone())),
            },
            SslMode::VerifyCa | SslMode::VerifyFull => {
                let root = self.root_cert_file().ok_or_else(|| {
                    format!(
                        "sslmode={} needs a root certificate: set sslrootcert (or PGSSLROOTCERT) \
                         or create ~/.postgresql/root.crt",
                        self.mode.as_str()
                    )
                })?;
                let verifier = webpki(&root, &provider)?;
                if self.mode == SslMode::VerifyFull {
                    verifier
                } else {
                    Arc::new(ChainOnly(verifier))
                }
            }
        };
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let explicit = self.cert.is_some() || self.key.is_some();
        let cert = self.cert.clone().or_else(|| default_file("postgresql.crt"));
        let key = self.key.clone().or_else(|| default_file("postgresql.key"));
        let config = match (cert, key) {
            (Some(cert), Some(key)) if explicit || cert.exists() => {
                let certs = read_certs(&cert)?;
                let key = PrivateKeyDer::from_pem_file(&key)
                    .map_err(|e| format!("cannot read the client key {}: {e}", key.display()))?;
                builder
                    .with_client_auth_cert(certs, key)
                    .map_err(|e| format!("unusable client certificate {}: {e}", cert.display()))?
            }
            _ => builder.with_no_client_auth(),
        };
        Ok(Some(MakeRustlsConnect::new(config)))
    }
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|e| format!("cannot read the certificate file {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("no certificate in {}", path.display()));
    }
    Ok(certs)
}

/// `sslrootcert=system`: the operating system's trusted roots (libpq 16).
const SYSTEM: &str = "system";

/// The verifier for a chain to `root`. libpq would also check `~/.postgresql/root.crl` when it
/// exists; qcheck cannot, so it refuses then rather than ignore it.
fn webpki(
    root: &Path,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn ServerCertVerifier>, String> {
    if let Some(crl) = default_file("root.crl").filter(|p| p.exists()) {
        return Err(format!(
            "{} (a certificate revocation list libpq would check) exists, but qcheck {}",
            crl.display(),
            crate::db::CRL_UNSUPPORTED
        ));
    }
    let mut roots = RootCertStore::empty();
    if root == Path::new(SYSTEM) {
        let found = rustls_native_certs::load_native_certs();
        let (added, _) = roots.add_parsable_certificates(found.certs);
        if added == 0 {
            return Err(format!(
                "sslrootcert=system: no trusted root certificate found on this system{}",
                found
                    .errors
                    .first()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            ));
        }
    } else {
        for cert in read_certs(root)? {
            roots
                .add(cert)
                .map_err(|e| format!("unusable root certificate in {}: {e}", root.display()))?;
        }
    }
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| format!("unusable root certificate {}: {e}", root.display()))?;
    Ok(verifier)
}

/// `verify-ca`: the chain is checked, the host name is not.
#[derive(Debug)]
struct ChainOnly(Arc<dyn ServerCertVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // webpki checks the chain first, the name last: a name error means the chain is good.
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `allow`, `prefer`, `require` without a root certificate: encryption, no authentication of the
/// server (the handshake signatures are still checked).
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl NoVerification {
    fn algorithms(&self) -> &WebPkiSupportedAlgorithms {
        &self.0.signature_verification_algorithms
    }
}

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, self.algorithms())
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, self.algorithms())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms().supported_schemes()
    }
}
