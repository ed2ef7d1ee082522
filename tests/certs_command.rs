//! `failover-webhook certs`: a CA and a P-256 serving certificate with the Service's names,
//! never overwriting without `--force`, and usable by `serve` as written.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use common::client::{Conn, client_config};
use common::fixtures::{self, CREATE_V1};
use common::server::{binary, spawn_serve};
use http::StatusCode;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::*;

fn certs(args: &[&str]) -> std::process::Output {
    std::process::Command::new(binary())
        .arg("certs")
        .args(args)
        .output()
        .unwrap()
}

fn pem_der(path: &Path) -> Vec<u8> {
    let pem = std::fs::read(path).unwrap();
    let (_, pem) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
    pem.contents
}

fn sans(der: &[u8]) -> Vec<String> {
    let (_, cert) = X509Certificate::from_der(der).unwrap();
    let ext = cert.subject_alternative_name().unwrap().unwrap();
    ext.value
        .general_names
        .iter()
        .map(|n| match n {
            GeneralName::DNSName(d) => d.to_string(),
            GeneralName::IPAddress(ip) => match ip.len() {
                4 => std::net::Ipv4Addr::from(<[u8; 4]>::try_from(*ip).unwrap()).to_string(),
                _ => std::net::Ipv6Addr::from(<[u8; 16]>::try_from(*ip).unwrap()).to_string(),
            },
            other => format!("{other:?}"),
        })
        .collect()
}

#[test]
fn writes_a_ca_and_a_p256_leaf_with_the_service_names() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("certs");
    let o = certs(&[
        "--out",
        out.to_str().unwrap(),
        "--service",
        "fsvc-webhook",
        "--namespace",
        "smh",
        "--dns",
        "webhook.example.com",
        "--ip",
        "10.0.0.7",
        "--days",
        "30",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    for f in ["ca.crt", "tls.crt", "tls.key"] {
        assert!(stdout.contains(f), "{stdout}");
    }

    let leaf_der = pem_der(&out.join("tls.crt"));
    assert_eq!(
        sans(&leaf_der),
        [
            "fsvc-webhook",
            "fsvc-webhook.smh",
            "fsvc-webhook.smh.svc",
            "fsvc-webhook.smh.svc.cluster.local",
            "localhost",
            "127.0.0.1",
            "webhook.example.com",
            "10.0.0.7"
        ]
    );
    let (_, leaf) = X509Certificate::from_der(&leaf_der).unwrap();
    let ca_der = pem_der(&out.join("ca.crt"));
    let (_, ca) = X509Certificate::from_der(&ca_der).unwrap();
    assert!(ca.is_ca());
    assert!(!leaf.is_ca());
    assert_eq!(leaf.issuer(), ca.subject());
    // That the CA signed it is shown by a verified handshake in serve_runs_with_the_written_certificates.

    // ECDSA on P-256.
    let spki = leaf.public_key();
    assert_eq!(
        spki.algorithm.algorithm,
        x509_parser::oid_registry::OID_KEY_TYPE_EC_PUBLIC_KEY
    );
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .unwrap()
        .as_oid()
        .unwrap();
    assert_eq!(curve, x509_parser::oid_registry::OID_EC_P256);
    let validity = leaf.validity().time_to_expiration().unwrap();
    assert!(
        validity > Duration::from_secs(29 * 86400) && validity <= Duration::from_secs(30 * 86400)
    );

    let key = std::fs::read_to_string(out.join("tls.key")).unwrap();
    assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"), "PKCS#8");
    let mode = std::fs::metadata(out.join("tls.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn existing_files_are_kept_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    assert!(certs(&["--out", out]).status.success());
    let before = std::fs::read(dir.path().join("ca.crt")).unwrap();

    let o = certs(&["--out", out]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("already exist") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(std::fs::read(dir.path().join("ca.crt")).unwrap(), before);

    // One file is enough to refuse: the set belongs together.
    std::fs::remove_file(dir.path().join("ca.crt")).unwrap();
    std::fs::remove_file(dir.path().join("tls.crt")).unwrap();
    assert_eq!(certs(&["--out", out]).status.code(), Some(2));

    let o = certs(&["--out", out, "--force"]);
    assert!(o.status.success());
    assert_ne!(std::fs::read(dir.path().join("ca.crt")).unwrap(), before);
    let mode = std::fs::metadata(dir.path().join("tls.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn bad_arguments_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    assert_eq!(certs(&["--out", out, "--days", "0"]).status.code(), Some(2));
    assert_eq!(
        certs(&["--out", out, "--dns", "not a dns name!"])
            .status
            .code(),
        Some(2)
    );
}

/// What `make run` does: `certs --out certs`, then `serve` with those files, then a client
/// trusting `ca.crt` reaches it as `localhost` (and as the Service name, as the API server
/// would).
#[tokio::test]
async fn serve_runs_with_the_written_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("certs");
    assert!(certs(&["--out", out.to_str().unwrap()]).status.success());
    let mut p = spawn_serve(&out.join("tls.crt"), &out.join("tls.key"), &[]).await;
    let ca = std::fs::read_to_string(out.join("ca.crt")).unwrap();
    let mut conn = Conn::open(p.addr, client_config(&ca, &[b"http/1.1"], None))
        .await
        .unwrap();
    let reply = conn
        .post_json("/validate", fixtures::bytes(CREATE_V1))
        .await;
    assert_eq!(reply.status, StatusCode::OK);

    let tcp = tokio::net::TcpStream::connect(p.addr).await.unwrap();
    let name =
        rustls_pki_types::ServerName::try_from("failover-webhook.service-mesh-hub.svc").unwrap();
    tokio_rustls::TlsConnector::from(client_config(&ca, &[], None))
        .connect(name, tcp)
        .await
        .expect("the certificate is valid for the Service's DNS name");

    p.signal(libc::SIGTERM);
    assert_eq!(p.wait(Duration::from_secs(10)).await.code(), Some(0));
}
