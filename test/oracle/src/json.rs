//! Small JSON output helpers.

/// A JSON string literal for `s`.
pub fn esc(s: &str) -> String {
    serde_json::to_string(s).expect("a str always serializes")
}

/// The `"<worker>:<dp>"` key used for per-rank maps.
pub fn worker_key(worker_id: u64, dp_rank: u32) -> String {
    format!("{worker_id}:{dp_rank}")
}

/// Parses a `"<worker>:<dp>"` key; a bare `"<worker>"` means dp_rank 0.
pub fn parse_worker_key(key: &str) -> Option<(u64, u32)> {
    match key.split_once(':') {
        Some((w, dp)) => Some((w.parse().ok()?, dp.parse().ok()?)),
        None => Some((key.parse().ok()?, 0)),
    }
}
