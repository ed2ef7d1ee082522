//! TLS for the admission listener: rustls with the `ring` provider, TLS 1.2 and 1.3, ALPN `h2`
//! and `http/1.1`, and a serving certificate that can be replaced while the server runs.
//!
//! The API server only speaks HTTPS to webhooks and verifies the certificate against the
//! `caBundle` of the webhook configuration (with the Service DNS name as ServerName), so a
//! certificate that cannot be loaded is fatal at start; after that, [`CertResolver`] hands every
//! new handshake the latest certificate that loaded, and connections already open keep theirs.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwapOption;
use rustls::InconsistentKeys;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::error::Error;

/// ALPN protocols offered, in order of preference. The API server forces `http/1.1` for
/// Service-based webhooks (load balancing over several connections); `h2` is there for
/// URL-based clients on loopback and for tools.
pub const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// The one crypto provider of the process. `ring` is what kube's client uses by default; a
/// second provider (aws-lc-rs) would make rustls refuse to pick a default.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Why a serving certificate and key could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The certificate file holds no PEM `CERTIFICATE` block.
    #[error("{path}: no PEM certificate found")]
    NoCertificate { path: PathBuf },
    /// The key file holds no PEM private key (PKCS#8, PKCS#1 or SEC1).
    #[error("{path}: no PEM private key found")]
    NoKey { path: PathBuf },
    /// A PEM block is malformed.
    #[error("{path}: {source}")]
    Pem {
        path: PathBuf,
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    /// The key is of a type the provider cannot sign with, or it does not belong to the
    /// certificate (as when a rotation has replaced one file but not yet the other).
    #[error("key {key} does not fit certificate {cert}: {source}")]
    Mismatch {
        cert: PathBuf,
        key: PathBuf,
        /// Boxed: rustls's error is large, and this one is rare.
        #[source]
        source: Box<rustls::Error>,
    },
    /// The key belongs to a later certificate of the chain: the file lists the CA or an
    /// intermediate before the serving certificate. TLS sends the chain in file order and
    /// clients take the first certificate as the server's, so the order matters.
    #[error(
        "{cert}: key {key} belongs to certificate {position} of the {count} in the file, not to \
         the first; put the serving (leaf) certificate first, then its intermediates"
    )]
    LeafNotFirst {
        cert: PathBuf,
        key: PathBuf,
        position: usize,
        count: usize,
    },
}

/// Why `--client-ca` is unusable. Each message is its source's own: the caller names the file.
#[derive(Debug, thiserror::Error)]
pub enum ClientCaError {
    /// The file could not be read.
    #[error("{0}")]
    Read(#[source] std::io::Error),
    /// The file holds no PEM certificate, or a malformed one.
    #[error("{0}")]
    Certificates(#[source] CertError),
    /// Every certificate in the file was refused as a trust anchor.
    #[error("no usable CA certificate")]
    NoUsableCertificate,
    /// rustls refused to build a client verifier over the CA.
    #[error("{0}")]
    Verifier(#[source] rustls::server::VerifierBuilderError),
}

/// A serving certificate, ready for rustls, and the facts the metrics report about it.
#[derive(Debug)]
pub struct ServingCert {
    pub key: Arc<CertifiedKey>,
    /// The leaf certificate's `notAfter`, in unix seconds (None if the leaf does not parse as
    /// X.509, which rustls would then refuse in the handshake anyway).
    pub not_after: Option<i64>,
}

/// Parses a PEM certificate chain and private key. Pure: the caller reads the files, so the
/// reloader can compare contents before parsing.
pub fn parse_serving_cert(
    cert_path: &Path,
    cert_pem: &[u8],
    key_path: &Path,
    key_pem: &[u8],
) -> Result<ServingCert, CertError> {
    let chain = parse_certs(cert_path, cert_pem)?;
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => CertError::NoKey {
            path: key_path.to_owned(),
        },
        source => CertError::Pem {
            path: key_path.to_owned(),
            source,
        },
    })?;
    let not_after = chain.first().and_then(|leaf| not_after(leaf));
    let mismatch = |source: rustls::Error| CertError::Mismatch {
        cert: cert_path.to_owned(),
        key: key_path.to_owned(),
        source: Box::new(source),
    };
    let signing_key = provider()
        .key_provider
        .load_private_key(key)
        .map_err(mismatch)?;
    let key = CertifiedKey::new(chain, signing_key);
    if let Err(e) = fits(&key) {
        let count = key.cert.len();
        let position = key.cert.iter().skip(1).position(|other| {
            fits(&CertifiedKey::new(vec![other.clone()], key.key.clone())).is_ok()
        });
        return Err(match position {
            Some(i) => CertError::LeafNotFirst {
                cert: cert_path.to_owned(),
                key: key_path.to_owned(),
                position: i + 2,
                count,
            },
            None => mismatch(e),
        });
    }
    Ok(ServingCert {
        key: Arc::new(key),
        not_after,
    })
}

/// Whether the key belongs to the chain's first certificate (as `CertifiedKey::from_der`
/// decides it: a key whose public half cannot be compared is taken as fitting).
fn fits(key: &CertifiedKey) -> Result<(), rustls::Error> {
    match key.keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(InconsistentKeys::Unknown)) => Ok(()),
        Err(e) => Err(e),
    }
}

fn parse_certs(path: &Path, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, CertError> {
    let chain = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| CertError::Pem {
            path: path.to_owned(),
            source,
        })?;
    if chain.is_empty() {
        return Err(CertError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(chain)
}

/// Reads a certificate or key file.
pub fn read_file(path: &Path) -> Result<Vec<u8>, CertError> {
    std::fs::read(path).map_err(|source| CertError::Read {
        path: path.to_owned(),
        source,
    })
}

/// The leaf's expiry time, in unix seconds.
pub fn not_after(leaf: &CertificateDer<'_>) -> Option<i64> {
    x509_parser::parse_x509_certificate(leaf.as_ref())
        .ok()
        .map(|(_, cert)| cert.validity().not_after.timestamp())
}

/// Hands each TLS handshake the current serving certificate. Swapping it is one atomic pointer
/// store: handshakes never wait, and never see half of a rotation.
#[derive(Debug, Default)]
pub struct CertResolver {
    current: ArcSwapOption<CertifiedKey>,
}

impl CertResolver {
    pub fn new() -> CertResolver {
        CertResolver::default()
    }

    /// Serves `cert` to every handshake from now on.
    pub fn store(&self, cert: Arc<CertifiedKey>) {
        self.current.store(Some(cert));
    }

    /// Whether a certificate is loaded (a readiness condition).
    pub fn is_loaded(&self) -> bool {
        self.current.load().is_some()
    }

    /// The certificate new handshakes get.
    pub fn current(&self) -> Option<Arc<CertifiedKey>> {
        self.current.load_full()
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.load_full()
    }
}

/// Why a TLS handshake on the admission listener did not complete: a closed set, for the
/// `reason` label of `failover_webhook_tls_handshake_failures_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HandshakeFailure {
    /// The client did not finish the handshake within the handshake timeout.
    Timeout,
    /// With `--client-ca`: the client sent no certificate, or one that does not verify.
    ClientCertificate,
    /// The client ended the handshake with an alert: usually it does not trust this server's
    /// certificate (a `caBundle` without this CA, or a name the certificate does not carry).
    PeerAlert,
    /// Not TLS, or no protocol version, cipher suite or ALPN protocol in common.
    Protocol,
    /// The connection closed or failed before the handshake finished.
    Io,
}

impl HandshakeFailure {
    pub const ALL: [HandshakeFailure; 5] = [
        HandshakeFailure::Timeout,
        HandshakeFailure::ClientCertificate,
        HandshakeFailure::PeerAlert,
        HandshakeFailure::Protocol,
        HandshakeFailure::Io,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            HandshakeFailure::Timeout => "timeout",
            HandshakeFailure::ClientCertificate => "client_certificate",
            HandshakeFailure::PeerAlert => "peer_alert",
            HandshakeFailure::Protocol => "protocol",
            HandshakeFailure::Io => "io",
        }
    }

    /// Classifies the error of a failed `accept` (tokio-rustls wraps the rustls error in an
    /// `io::Error`).
    pub fn of(error: &std::io::Error) -> HandshakeFailure {
        let tls = error
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>());
        match tls {
            None => HandshakeFailure::Io,
            Some(rustls::Error::NoCertificatesPresented | rustls::Error::InvalidCertificate(_)) => {
                HandshakeFailure::ClientCertificate
            }
            Some(rustls::Error::AlertReceived(_)) => HandshakeFailure::PeerAlert,
            Some(_) => HandshakeFailure::Protocol,
        }
    }
}

/// Reads `--client-ca`: the CA that signs the API server's client certificate.
pub fn load_client_ca(path: &Path) -> Result<RootCertStore, Error> {
    let bad = |source: ClientCaError| Error::ClientCa {
        path: path.to_owned(),
        source,
    };
    let pem = std::fs::read(path).map_err(|e| bad(ClientCaError::Read(e)))?;
    let certs = parse_certs(path, &pem).map_err(|e| bad(ClientCaError::Certificates(e)))?;
    let mut roots = RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(bad(ClientCaError::NoUsableCertificate));
    }
    Ok(roots)
}

/// The rustls configuration of the admission listener. With `client_ca`, every client must
/// present a certificate that chains to it (the API server authenticates with one when its
/// `AdmissionConfiguration` says so); this keeps other pods on the network from calling the
/// webhook at all.
pub fn server_config(
    resolver: Arc<CertResolver>,
    client_ca: Option<RootCertStore>,
) -> Result<ServerConfig, Error> {
    let provider = provider();
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?;
    let builder = match client_ca {
        Some(roots) => {
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| Error::ClientCa {
                    path: PathBuf::from("--client-ca"),
                    source: ClientCaError::Verifier(e),
                })?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_cert_resolver(resolver);
    config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CA, a leaf it signed, and the leaf's key, in PEM.
    fn pem_pair() -> (String, String, String) {
        let mut ca = rcgen::CertificateParams::default();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca =
            rcgen::CertifiedIssuer::self_signed(ca, rcgen::KeyPair::generate().unwrap()).unwrap();
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let leaf = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .signed_by(&leaf_key, &ca)
            .unwrap();
        (ca.pem(), leaf.pem(), leaf_key.serialize_pem())
    }

    fn parse(cert_pem: &str, key_pem: &str) -> Result<ServingCert, CertError> {
        parse_serving_cert(
            Path::new("tls.crt"),
            cert_pem.as_bytes(),
            Path::new("tls.key"),
            key_pem.as_bytes(),
        )
    }

    #[test]
    fn a_chain_with_the_ca_first_is_refused_saying_the_leaf_must_come_first() {
        let (ca, leaf, key) = pem_pair();
        assert!(parse(&format!("{leaf}{ca}"), &key).is_ok());
        let err = parse(&format!("{ca}{leaf}"), &key).unwrap_err();
        assert!(
            matches!(
                err,
                CertError::LeafNotFirst {
                    position: 2,
                    count: 2,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .contains("put the serving (leaf) certificate first"),
            "{err}"
        );
    }

    #[test]
    fn a_key_of_no_certificate_in_the_chain_is_a_mismatch() {
        let (ca, leaf, _) = pem_pair();
        let (_, _, other_key) = pem_pair();
        let err = parse(&format!("{leaf}{ca}"), &other_key).unwrap_err();
        assert!(matches!(err, CertError::Mismatch { .. }), "{err:?}");
        let source = std::error::Error::source(&err).map(ToString::to_string);
        assert_eq!(
            err.to_string(),
            format!(
                "key tls.key does not fit certificate tls.crt: {}",
                source.unwrap_or_default()
            )
        );
        assert_eq!(
            err.to_string(),
            "key tls.key does not fit certificate tls.crt: keys may not be consistent: KeyMismatch"
        );
    }

    #[test]
    fn a_malformed_pem_block_keeps_the_pem_error() {
        let (_, leaf, key) = pem_pair();
        let broken = "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
        let err = parse(broken, &key).unwrap_err();
        assert!(matches!(err, CertError::Pem { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            "tls.crt: base64 decode error: InvalidCharacter(33)"
        );
        let source = std::error::Error::source(&err);
        assert!(
            source.is_some_and(|s| s.is::<rustls_pki_types::pem::Error>()),
            "{source:?}"
        );
        let err = parse(&leaf, "-----BEGIN PRIVATE KEY-----\n!!!!\n").unwrap_err();
        assert!(matches!(err, CertError::Pem { .. }), "{err:?}");
        assert!(err.to_string().starts_with("tls.key: "), "{err}");
        assert!(std::error::Error::source(&err).is_some());
    }

    #[test]
    fn an_unusable_client_ca_says_why_and_keeps_the_cause() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.crt");
        let shown = path.display();
        let load = |text: Option<&str>| {
            if let Some(text) = text {
                std::fs::write(&path, text).unwrap();
            }
            match load_client_ca(&path) {
                Err(Error::ClientCa { path: p, source }) => {
                    assert_eq!(p, path);
                    source
                }
                other => panic!("{:?}", other.map(|r| r.len())),
            }
        };
        let cases = [
            (
                None,
                format!("client CA {shown}: No such file or directory (os error 2)"),
            ),
            (
                Some("no PEM here\n"),
                format!("client CA {shown}: {shown}: no PEM certificate found"),
            ),
            (
                // Base64 of three zero bytes: PEM, but no certificate.
                Some("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
                format!("client CA {shown}: no usable CA certificate"),
            ),
        ];
        for (text, expected) in cases {
            let source = load(text);
            let err = Error::ClientCa {
                path: path.clone(),
                source,
            };
            assert_eq!(err.to_string(), expected);
            let Error::ClientCa { source, .. } = &err else {
                unreachable!()
            };
            let cause = std::error::Error::source(source);
            match source {
                ClientCaError::Read(_) => {
                    let io = cause.and_then(|c| c.downcast_ref::<std::io::Error>());
                    assert_eq!(io.map(|e| e.kind()), Some(std::io::ErrorKind::NotFound));
                }
                ClientCaError::Certificates(_) => {
                    assert!(cause.is_some_and(|c| c.is::<CertError>()), "{cause:?}");
                }
                ClientCaError::NoUsableCertificate => assert!(cause.is_none()),
                ClientCaError::Verifier(_) => panic!("{err}"),
            }
            assert!(std::error::Error::source(&err).is_some());
        }
    }
}
