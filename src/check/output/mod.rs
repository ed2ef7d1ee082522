//! The formats `check --output` writes. Each takes the whole report, so formats that need
//! every checked object (JUnit) or every rule (SARIF) have them.

mod github;
mod json;
mod junit;
mod sarif;
mod text;

use std::io::{self, Write};

pub use sarif::sarif;
pub use text::text_line;

use super::{Report, ReportCode, Reported};
use crate::cli::OutputFormat;
use crate::engine::Effect;

pub fn write(format: OutputFormat, report: &Report, out: &mut dyn Write) -> io::Result<()> {
    match format {
        OutputFormat::Text => text::write(report, out),
        OutputFormat::Json => json::write(report, out),
        OutputFormat::Sarif => {
            serde_json::to_writer_pretty(&mut *out, &sarif(report, sarif::help_base()))?;
            writeln!(out)
        }
        OutputFormat::Junit => junit::write(report, out),
        OutputFormat::Github => github::write(report, out),
    }
}

/// `namespace/name`, or the name alone for an object with no namespace.
fn object(r: &Reported) -> String {
    if r.namespace.is_empty() {
        r.name.clone()
    } else {
        format!("{}/{}", r.namespace, r.name)
    }
}

/// The finding's message as the CI formats show it: object, field, message and where to read
/// more (the `explain` command of its rule; the code itself for a near miss, which no rule
/// judges).
fn summary(r: &Reported) -> String {
    let more = match r.code {
        ReportCode::Rule(code) => crate::explain::hint(code),
        ReportCode::NotAFailoverService => r.code.to_string(),
    };
    // As the server's warning says it: the object's owner accepted this finding.
    let skipped = if r.effect == Effect::Skipped {
        format!("skipped by {}: ", crate::skip::ANNOTATION)
    } else {
        String::new()
    };
    format!(
        "{skipped}{}: {}: {} ({more})",
        object(r),
        r.field,
        r.message
    )
}
