//! `failover-webhook certs`: a CA and a serving certificate for development and self-managed
//! installs.
//!
//! The API server connects to a Service-backed webhook with ServerName `<svc>.<ns>.svc` and
//! verifies the certificate by its subject alternative names only (a CN-only certificate fails
//! Go's verification), so the leaf carries every name the Service is reachable by, plus the
//! loopback names for local runs. The CA goes into the webhook configuration's `caBundle`.

use std::io::Write as _;
use std::net::IpAddr;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};
use time::OffsetDateTime;

use crate::cli::CertsArgs;

/// The file names, as in a `kubernetes.io/tls` secret with its CA.
pub const CA_FILE: &str = "ca.crt";
pub const CERT_FILE: &str = "tls.crt";
pub const KEY_FILE: &str = "tls.key";

/// Why the certificates could not be written.
#[derive(Debug, thiserror::Error)]
pub enum CertsError {
    /// Some of the files exist, and `--force` was not given: overwriting a CA would break
    /// every webhook configuration whose `caBundle` holds it.
    #[error("{} already exist in {}; pass --force to overwrite", .files.join(", "), .dir.display())]
    Exists { dir: PathBuf, files: Vec<String> },
    /// `--days 0`.
    #[error("--days must be at least 1")]
    NoValidity,
    /// A name that no TLS client would match: a certificate carrying it is useless.
    #[error("{0:?} is not a valid DNS name")]
    InvalidName(String),
    /// A name given with `--dns` (or the service or namespace) is not usable in a
    /// certificate, or signing failed.
    #[error("cannot build the certificates: {0}")]
    Generate(#[from] rcgen::Error),
    /// A file or the folder could not be written.
    #[error("cannot write {}: {source}", .path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A generated CA and serving certificate, PEM encoded.
#[derive(Debug)]
pub struct Bundle {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
    /// The leaf's subject alternative names, DNS names first.
    pub sans: Vec<String>,
    pub not_after: OffsetDateTime,
}

/// The names the serving certificate must carry: the Service by every name it resolves by in
/// the cluster, loopback for local runs, then the extra names.
pub fn subject_alt_names(
    service: &str,
    namespace: &str,
    dns: &[String],
    ip: &[IpAddr],
) -> Vec<String> {
    let mut names = vec![
        service.to_owned(),
        format!("{service}.{namespace}"),
        format!("{service}.{namespace}.svc"),
        format!("{service}.{namespace}.svc.cluster.local"),
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
    ];
    names.extend(dns.iter().cloned());
    names.extend(ip.iter().map(IpAddr::to_string));
    let mut seen = std::collections::HashSet::new();
    names.retain(|n| seen.insert(n.clone()));
    names
}

/// A DNS name a certificate can carry: dot-separated labels of letters, digits and inner
/// hyphens, each at most 63 characters, at most 253 in all; the first label may be `*`.
fn is_dns_name(name: &str) -> bool {
    let name = name.strip_prefix("*.").unwrap_or(name);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// Generates the CA (ECDSA P-256) and a leaf signed by it.
pub fn generate(
    service: &str,
    namespace: &str,
    dns: &[String],
    ip: &[IpAddr],
    days: u32,
) -> Result<Bundle, CertsError> {
    if days == 0 {
        return Err(CertsError::NoValidity);
    }
    let sans = subject_alt_names(service, namespace, dns, ip);
    if let Some(bad) = sans
        .iter()
        .find(|n| n.parse::<IpAddr>().is_err() && !is_dns_name(n))
    {
        return Err(CertsError::InvalidName(bad.clone()));
    }
    let now = OffsetDateTime::now_utc();
    // A little slack for clocks that run behind this one.
    let not_before = now - time::Duration::minutes(5);
    let not_after = now + time::Duration::days(i64::from(days));

    let mut ca = CertificateParams::default();
    ca.distinguished_name
        .push(DnType::CommonName, format!("{service} webhook CA"));
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.not_before = not_before;
    ca.not_after = not_after;
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?)?;

    let mut leaf = CertificateParams::new(sans.clone())?;
    leaf.distinguished_name
        .push(DnType::CommonName, format!("{service}.{namespace}.svc"));
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.use_authority_key_identifier_extension = true;
    leaf.not_before = not_before;
    leaf.not_after = not_after;
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let cert = leaf.signed_by(&key, &ca)?;

    Ok(Bundle {
        ca_pem: ca.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        sans,
        not_after,
    })
}

/// Writes `ca.crt`, `tls.crt` and `tls.key` into `dir` (created if missing). Each file is
/// written under a temporary name and renamed into place, so a server watching the folder
/// never reads a half-written file; the key is readable by its owner only.
pub fn write(dir: &Path, bundle: &Bundle, force: bool) -> Result<Vec<PathBuf>, CertsError> {
    let files = [
        (KEY_FILE, &bundle.key_pem, 0o600),
        (CERT_FILE, &bundle.cert_pem, 0o644),
        (CA_FILE, &bundle.ca_pem, 0o644),
    ];
    if !force {
        let existing: Vec<String> = files
            .iter()
            .map(|(name, _, _)| name.to_string())
            .filter(|name| dir.join(name).symlink_metadata().is_ok())
            .collect();
        if !existing.is_empty() {
            return Err(CertsError::Exists {
                dir: dir.to_owned(),
                files: existing,
            });
        }
    }
    std::fs::create_dir_all(dir).map_err(|source| CertsError::Write {
        path: dir.to_owned(),
        source,
    })?;
    let mut written = Vec::new();
    for (name, contents, mode) in files {
        let path = dir.join(name);
        let tmp = dir.join(format!(".{name}.tmp"));
        let result = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)
            .and_then(|mut f| {
                f.write_all(contents.as_bytes())?;
                f.sync_all()
            })
            .and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(source) = result {
            let _ = std::fs::remove_file(&tmp);
            return Err(CertsError::Write { path, source });
        }
        written.push(path);
    }
    Ok(written)
}

/// `failover-webhook certs`: exit 0 when written, 2 otherwise.
pub fn run(args: &CertsArgs) -> ExitCode {
    let result = generate(
        &args.service,
        &args.namespace,
        &args.dns,
        &args.ip,
        args.days,
    )
    .and_then(|bundle| Ok((write(&args.out, &bundle, args.force)?, bundle)));
    match result {
        Ok((_, bundle)) => {
            let until = bundle.not_after.date();
            let out = |name: &str| args.out.join(name).display().to_string();
            println!("wrote {} (CA, valid until {until})", out(CA_FILE));
            println!(
                "wrote {} (ECDSA P-256, valid until {until}) for {}",
                out(CERT_FILE),
                bundle.sans.join(", ")
            );
            println!("wrote {} (private key, mode 0600)", out(KEY_FILE));
            println!(
                "use the contents of {} as the webhook configuration's caBundle (base64-encoded)",
                out(CA_FILE)
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("failover-webhook certs: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names_come_first_and_duplicates_are_dropped() {
        let names = subject_alt_names(
            "wh",
            "ns",
            &["localhost".to_owned(), "wh.example.com".to_owned()],
            &["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()],
        );
        assert_eq!(
            names,
            [
                "wh",
                "wh.ns",
                "wh.ns.svc",
                "wh.ns.svc.cluster.local",
                "localhost",
                "127.0.0.1",
                "wh.example.com",
                "::1"
            ]
        );
    }

    #[test]
    fn names_no_client_would_match_are_refused() {
        for bad in ["not a name", "a..b", "-a.b", "a_b", "", "a.", "x.*.y"] {
            assert!(!is_dns_name(bad), "{bad:?}");
        }
        for good in [
            "a",
            "wh.ns.svc",
            "*.example.com",
            "xn--bcher-kva.example",
            "A1-b",
        ] {
            assert!(is_dns_name(good), "{good:?}");
        }
        assert!(matches!(
            generate("wh", "ns", &["bad name".to_owned()], &[], 1),
            Err(CertsError::InvalidName(n)) if n == "bad name"
        ));
        assert!(matches!(
            generate("wh_x", "ns", &[], &[], 1),
            Err(CertsError::InvalidName(_))
        ));
    }

    #[test]
    fn zero_days_is_refused() {
        assert!(matches!(
            generate("wh", "ns", &[], &[], 0),
            Err(CertsError::NoValidity)
        ));
    }
}
