//! The command line: `serve`, `check`, `explain` and `certs`. Every option also reads an environment
//! variable `FAILOVER_WEBHOOK_<OPTION>`, so the Helm chart can configure the server either way.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

use clap::builder::BoolishValueParser;
use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

use crate::enforcement::{self, Enforcement};

#[derive(Debug, Parser)]
#[command(
    name = "failover-webhook",
    version,
    about = "Admission webhook and offline checker for Service Mesh Hub FailoverServices",
    long_about = "Admission webhook and offline checker for Service Mesh Hub FailoverServices.\n\n\
        `serve` answers the API server's AdmissionReviews on /validate and /mutate; `check` runs \
        the same defaults and rules over manifest files, for CI and GitOps gating; `explain` \
        documents each rule; `certs` writes a CA and a serving certificate for development or \
        self-managed installs."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the admission webhook over HTTPS.
    Serve(ServeArgs),
    /// Check FailoverService manifests offline; exit 0 (nothing denies), 1 (denied, or a near
    /// miss of a FailoverService) or 2 (error, or no FailoverService found).
    Check(CheckArgs),
    /// Write a CA and a serving certificate (ECDSA P-256) for the webhook Service.
    Certs(CertsArgs),
    /// Explain a rule: what it checks, its verdict, why it exists, a bad and a fixed example.
    Explain(ExplainArgs),
    /// Print the spec rules as a ValidatingAdmissionPolicy and its binding (YAML), for
    /// `kubectl apply -f -`.
    Policy(PolicyArgs),
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// `file:line:col: error|warning: …`, one line per finding.
    #[default]
    Text,
    /// One JSON array of findings.
    Json,
    /// SARIF 2.1.0, for code-scanning uploads.
    Sarif,
    /// JUnit XML: a test case per FailoverService, a failure per denying finding.
    Junit,
    /// GitHub Actions workflow commands (`::error file=…,line=…,col=…::…`).
    Github,
}

/// Where the topology comes from; shared by `serve` and `check`.
#[derive(Clone, Debug, Default, Args)]
pub struct TopologyArgs {
    /// Read the topology from a YAML/JSON file or folder (repeatable), as printed by
    /// `kubectl get kubernetesclusters,meshservices,meshes,virtualmeshes,failoverservices -A -o yaml`.
    #[arg(
        long,
        value_name = "PATH",
        env = "FAILOVER_WEBHOOK_SNAPSHOT",
        value_delimiter = ','
    )]
    pub snapshot: Vec<PathBuf>,
}

/// The rule settings; shared by `serve` and `check`.
#[derive(Clone, Debug, Default, Args)]
pub struct RuleArgs {
    /// Default for `spec.cluster` when a FailoverService leaves it unset.
    #[arg(long, value_name = "NAME", env = "FAILOVER_WEBHOOK_DEFAULT_CLUSTER")]
    pub default_cluster: Option<String>,
    /// Deny on reference findings (objects not discovered yet) instead of warning.
    #[arg(long, env = "FAILOVER_WEBHOOK_STRICT_REFERENCES", value_parser = BoolishValueParser::new())]
    pub strict_references: bool,
}

impl RuleArgs {
    pub fn settings(&self) -> crate::engine::Settings {
        crate::engine::Settings {
            default_cluster: self.default_cluster.clone().filter(|c| !c.is_empty()),
            strict_references: self.strict_references,
            enforcement: Enforcement::default(),
        }
    }
}

#[derive(Clone, Debug, Args)]
pub struct ServeArgs {
    /// HTTPS listener for /validate and /mutate: IP:PORT, or HOST:PORT (its first IPv4 address).
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "0.0.0.0:8443",
        env = "FAILOVER_WEBHOOK_LISTEN"
,
        value_parser = listen_addr
    )]
    pub listen: SocketAddr,
    /// PEM serving certificate (chain); reloaded when it changes.
    #[arg(long, value_name = "PATH", env = "FAILOVER_WEBHOOK_TLS_CERT")]
    pub tls_cert: PathBuf,
    /// PEM private key of the serving certificate; reloaded when it changes.
    #[arg(long, value_name = "PATH", env = "FAILOVER_WEBHOOK_TLS_KEY")]
    pub tls_key: PathBuf,
    /// Require and verify client certificates signed by this CA (API server authentication).
    #[arg(long, value_name = "PATH", env = "FAILOVER_WEBHOOK_CLIENT_CA")]
    pub client_ca: Option<PathBuf>,
    /// Plain-HTTP listener for /healthz, /readyz and /metrics: IP:PORT or HOST:PORT.
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "0.0.0.0:8080",
        env = "FAILOVER_WEBHOOK_PROBE_LISTEN"
,
        value_parser = listen_addr
    )]
    pub probe_listen: SocketAddr,
    /// Read the topology from the cluster (in-cluster config or KUBECONFIG).
    #[arg(
        long,
        env = "FAILOVER_WEBHOOK_KUBE",
        conflicts_with = "snapshot",
        value_parser = BoolishValueParser::new()
    )]
    pub kube: bool,
    /// With --kube: keep each FailoverService's status.validationStatus true through its /status
    /// subresource, re-judged when the cluster changes; one replica writes, by Lease.
    #[arg(
        long,
        env = "FAILOVER_WEBHOOK_STATUS_CONTROLLER",
        action = ArgAction::Set,
        value_parser = BoolishValueParser::new(),
        num_args = 0..=1,
        default_value = "true",
        default_missing_value = "true",
        value_name = "BOOL"
    )]
    pub status_controller: bool,
    #[command(flatten)]
    pub topology: TopologyArgs,
    #[command(flatten)]
    pub rules: RuleArgs,
    /// What findings that would deny do: `deny`, or `warn` to allow the object with `would
    /// deny:` warnings (audit mode). `CLASS=deny|warn` sets one rule class (spec, reference,
    /// conflict) and wins over the bare value; repeatable or comma-separated.
    #[arg(
        long,
        value_name = "[CLASS=]deny|warn",
        default_value = "deny",
        env = "FAILOVER_WEBHOOK_ENFORCEMENT",
        value_delimiter = ','
    )]
    pub enforcement: Vec<enforcement::Entry>,
    /// Log format.
    #[arg(long, value_enum, default_value_t, env = "FAILOVER_WEBHOOK_LOG_FORMAT")]
    pub log_format: LogFormat,
    /// Seconds to let in-flight requests finish after SIGTERM/SIGINT.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 20,
        env = "FAILOVER_WEBHOOK_SHUTDOWN_GRACE"
    )]
    pub shutdown_grace: u64,
    /// Open HTTPS connections at most; beyond it new connections wait until one closes.
    #[arg(
        long,
        value_name = "N",
        default_value_t = crate::server::DEFAULT_MAX_CONNECTIONS,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..),
        env = "FAILOVER_WEBHOOK_MAX_CONNECTIONS"
    )]
    pub max_connections: usize,
}

impl ServeArgs {
    /// The evaluation settings: the rule settings and the enforcement.
    pub fn settings(&self) -> crate::engine::Settings {
        crate::engine::Settings {
            enforcement: Enforcement::from_entries(&self.enforcement),
            ..self.rules.settings()
        }
    }
}

/// `HOST:PORT` for a listener: an IP address, or a host name resolved once at start. Like Go's
/// `net.Listen`, a name gives one listener, on its first IPv4 address (else its first address):
/// `localhost:8443` listens on 127.0.0.1 even where `localhost` also resolves to ::1.
pub fn listen_addr(s: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = s.parse() {
        return Ok(addr);
    }
    let addrs: Vec<SocketAddr> = s
        .to_socket_addrs()
        .map_err(|e| format!("expected HOST:PORT with an IP address or a host name: {e}"))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| format!("{s} resolves to no address"))
}

#[derive(Clone, Debug, Args)]
pub struct CheckArgs {
    /// List the topology once from the current cluster context (in-cluster config or
    /// KUBECONFIG) instead of a snapshot; needs get/list on the five topology resources.
    #[arg(long, env = "FAILOVER_WEBHOOK_KUBE", conflicts_with = "snapshot")]
    pub kube: bool,
    #[command(flatten)]
    pub topology: TopologyArgs,
    #[command(flatten)]
    pub rules: RuleArgs,
    /// Output format of the findings.
    #[arg(long, value_enum, default_value_t, env = "FAILOVER_WEBHOOK_OUTPUT")]
    pub output: OutputFormat,
    /// Exit 0 when the paths hold no FailoverService at all (by default that is exit status 2:
    /// a check that checked nothing is more likely a wrong path or a misspelt kind).
    #[arg(long, env = "FAILOVER_WEBHOOK_ALLOW_EMPTY", value_parser = BoolishValueParser::new())]
    pub allow_empty: bool,
    /// Manifest files or folders (searched recursively); `-` reads standard input.
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,
}

#[derive(Clone, Debug, Args)]
#[command(arg_required_else_help = true)]
pub struct ExplainArgs {
    /// The rule code, as findings name it (`PortNumberInvalid`; any case).
    #[arg(value_name = "CODE", required_unless_present = "list")]
    pub code: Option<String>,
    /// List every rule: code, class and field.
    #[arg(long, env = "FAILOVER_WEBHOOK_LIST", conflicts_with = "code")]
    pub list: bool,
}

#[derive(Clone, Debug, Args)]
pub struct CertsArgs {
    /// Folder to write ca.crt, tls.crt and tls.key into.
    #[arg(long, value_name = "DIR", env = "FAILOVER_WEBHOOK_OUT")]
    pub out: PathBuf,
    /// Name of the webhook Service.
    #[arg(
        long,
        value_name = "NAME",
        default_value = "failover-webhook",
        env = "FAILOVER_WEBHOOK_SERVICE"
    )]
    pub service: String,
    /// Namespace of the webhook Service.
    #[arg(
        long,
        value_name = "NS",
        default_value = "service-mesh-hub",
        env = "FAILOVER_WEBHOOK_NAMESPACE"
    )]
    pub namespace: String,
    /// Extra DNS subject alternative name (repeatable).
    #[arg(
        long = "dns",
        value_name = "NAME",
        env = "FAILOVER_WEBHOOK_DNS",
        value_delimiter = ','
    )]
    pub dns: Vec<String>,
    /// Extra IP subject alternative name (repeatable).
    #[arg(
        long = "ip",
        value_name = "IP",
        env = "FAILOVER_WEBHOOK_IP",
        value_delimiter = ','
    )]
    pub ip: Vec<IpAddr>,
    /// Validity in days.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 365,
        env = "FAILOVER_WEBHOOK_DAYS"
    )]
    pub days: u32,
    /// Overwrite existing files.
    #[arg(long, env = "FAILOVER_WEBHOOK_FORCE", value_parser = BoolishValueParser::new())]
    pub force: bool,
}

#[derive(Clone, Debug, Args)]
pub struct PolicyArgs {
    /// Judge an unset `spec.cluster` as this cluster, as the webhook's `--default-cluster` fills it.
    #[arg(long, value_name = "NAME", env = "FAILOVER_WEBHOOK_DEFAULT_CLUSTER")]
    pub default_cluster: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_option_has_its_environment_variable() {
        let cli = Cli::command();
        for sub in cli.get_subcommands() {
            for arg in sub.get_arguments() {
                let Some(long) = arg.get_long() else { continue };
                if matches!(long, "help" | "version") {
                    continue;
                }
                let expected =
                    format!("FAILOVER_WEBHOOK_{}", long.to_uppercase().replace('-', "_"));
                assert_eq!(
                    arg.get_env().and_then(|e| e.to_str()),
                    Some(expected.as_str()),
                    "{} --{long}",
                    sub.get_name()
                );
            }
        }
    }

    #[test]
    fn serve_defaults_match_the_contract() {
        let cli = Cli::try_parse_from([
            "failover-webhook",
            "serve",
            "--tls-cert",
            "c",
            "--tls-key",
            "k",
        ])
        .unwrap();
        let Command::Serve(s) = cli.command else {
            panic!("not serve")
        };
        assert_eq!(s.listen.to_string(), "0.0.0.0:8443");
        assert_eq!(s.probe_listen.to_string(), "0.0.0.0:8080");
        assert_eq!(s.shutdown_grace, 20);
        assert_eq!(s.log_format, LogFormat::Text);
        assert!(!s.kube && s.topology.snapshot.is_empty());
    }

    #[test]
    fn listeners_take_host_names_as_well_as_addresses() {
        let cli = Cli::try_parse_from([
            "failover-webhook",
            "serve",
            "--tls-cert",
            "c",
            "--tls-key",
            "k",
            "--listen",
            "localhost:8443",
            "--probe-listen",
            "[::1]:8080",
        ])
        .unwrap();
        let Command::Serve(s) = cli.command else {
            panic!("not serve")
        };
        assert_eq!(s.listen.to_string(), "127.0.0.1:8443");
        assert_eq!(s.probe_listen.to_string(), "[::1]:8080");
        assert_eq!(listen_addr("0.0.0.0:1").unwrap().to_string(), "0.0.0.0:1");
        assert!(listen_addr("localhost").is_err(), "a port is required");
        assert!(listen_addr("no-such-host.invalid:80").is_err());
    }

    #[test]
    fn flags_take_no_value_on_the_command_line() {
        let cli = Cli::try_parse_from([
            "failover-webhook",
            "check",
            "--strict-references",
            "--allow-empty",
            "examples",
        ])
        .unwrap();
        let Command::Check(c) = cli.command else {
            panic!("not check")
        };
        assert!(c.rules.strict_references && c.allow_empty);
        assert_eq!(c.paths, [PathBuf::from("examples")]);
    }

    fn serve_with(args: &[&str]) -> Result<ServeArgs, clap::Error> {
        let base = [
            "failover-webhook",
            "serve",
            "--tls-cert",
            "c",
            "--tls-key",
            "k",
        ];
        let cli = Cli::try_parse_from(base.iter().chain(args))?;
        match cli.command {
            Command::Serve(s) => Ok(s),
            other => panic!("not serve: {other:?}"),
        }
    }

    #[test]
    fn the_status_controller_is_on_by_default_and_takes_an_optional_value() {
        let on = |args: &[&str]| serve_with(args).unwrap().status_controller;
        assert!(on(&[]));
        assert!(on(&["--status-controller"]));
        assert!(!on(&["--status-controller=false"]));
        assert!(!on(&["--status-controller=0"]));
        assert!(on(&["--status-controller=yes"]));
        assert!(serve_with(&["--status-controller=maybe"]).is_err());
    }

    fn enforcement_of(args: &[&str]) -> String {
        serve_with(args).unwrap().settings().enforcement.to_string()
    }

    #[test]
    fn enforcement_defaults_to_deny() {
        assert_eq!(
            enforcement_of(&[]),
            "spec=deny,reference=deny,conflict=deny"
        );
    }

    #[test]
    fn enforcement_takes_a_mode_and_class_overrides_repeated_or_comma_separated() {
        assert_eq!(
            enforcement_of(&["--enforcement", "warn"]),
            "spec=warn,reference=warn,conflict=warn"
        );
        assert_eq!(
            enforcement_of(&["--enforcement", "conflict=warn"]),
            "spec=deny,reference=deny,conflict=warn"
        );
        let expected = "spec=deny,reference=warn,conflict=warn";
        assert_eq!(
            enforcement_of(&["--enforcement", "spec=deny,warn"]),
            expected
        );
        assert_eq!(
            enforcement_of(&["--enforcement", "warn", "--enforcement", "spec=deny"]),
            expected
        );
    }

    #[test]
    fn enforcement_keeps_strict_references_and_the_default_cluster() {
        let s = serve_with(&[
            "--enforcement",
            "reference=warn",
            "--strict-references",
            "--default-cluster",
            "c1",
        ])
        .unwrap()
        .settings();
        assert!(s.strict_references);
        assert_eq!(s.default_cluster.as_deref(), Some("c1"));
    }

    #[test]
    fn a_bad_enforcement_value_is_a_usage_error_naming_it() {
        let e = serve_with(&["--enforcement", "conflict=audit"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::ValueValidation);
        assert!(
            e.to_string()
                .contains("unknown action \"audit\": expected deny or warn"),
            "{e}"
        );
    }
}
