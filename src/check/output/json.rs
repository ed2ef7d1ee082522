//! One JSON array of findings: the keys of `Reported`, stable for scripts.

use std::io::{self, Write};

use super::Report;

pub(super) fn write(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &report.findings)?;
    writeln!(out)
}
