//! Reading the `/metrics` exposition.

use std::net::SocketAddr;

use super::client::http_get;

/// The value of one series, named with its labels exactly as exposed
/// (`name{label="value",...}`), or `None` when absent.
pub fn value(text: &str, series: &str) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

/// Scrapes the probe listener.
pub async fn scrape(probe_addr: SocketAddr) -> String {
    http_get(probe_addr, "/metrics").await.text()
}
