//! `race` mode: replay a simulator workload directory through Dynamo's
//! RadixTree and report throughput, find latency and heap per block.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dynamo_kv_router::RadixTree;
use dynamo_kv_router::protocols::{KvCacheEventData, LocalBlockHash, RouterEvent};
use serde::Deserialize;

use crate::alloc::live_bytes;
use crate::json::{esc, parse_worker_key, worker_key};

const SYSTEM: &str = "dynamo-radix-tree-1.6.1";

/// A line of events.jsonl (other fields are ignored).
#[derive(Deserialize)]
struct EventLine {
    event: RouterEvent,
}

/// A line of requests.jsonl (other fields are ignored).
#[derive(Deserialize)]
struct RequestLine {
    #[serde(default)]
    req: Option<u64>,
    expected_hits: BTreeMap<String, u64>,
    events: (usize, usize),
    local_hashes: Vec<u64>,
}

struct Request {
    req: u64,
    expected: BTreeMap<(u64, u32), u64>,
    events: (usize, usize),
    local_hashes: Vec<u64>,
}

struct Workload {
    events: Vec<RouterEvent>,
    requests: Vec<Request>,
}

pub struct Report {
    pub events: usize,
    pub requests: usize,
    pub blocks: u64,
    pub apply_secs: f64,
    pub apply_blocks_per_s: f64,
    pub find_queries_per_s: f64,
    pub find_p50_us: f64,
    pub find_p99_us: f64,
    pub find_p999_us: f64,
    pub heap_bytes: i64,
    pub tree_size: usize,
    pub heap_bytes_per_block: f64,
    pub score_mismatches: u64,
}

fn read_jsonl<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Vec<T>, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        out.push(
            serde_json::from_str(line)
                .map_err(|e| format!("{}:{}: {e}", path.display(), i + 1))?,
        );
    }
    Ok(out)
}

fn load(dir: &Path) -> Result<Workload, String> {
    let wl = dir.join("workload.json");
    if wl.exists() {
        // Parameters only; make sure it is JSON, ignore what it says.
        let text = std::fs::read_to_string(&wl).map_err(|e| format!("{}: {e}", wl.display()))?;
        serde_json::from_str::<serde_json::Value>(&text)
            .map_err(|e| format!("{}: {e}", wl.display()))?;
    }
    let events: Vec<EventLine> = read_jsonl(&dir.join("events.jsonl"))?;
    let events: Vec<RouterEvent> = events.into_iter().map(|l| l.event).collect();
    let lines: Vec<RequestLine> = read_jsonl(&dir.join("requests.jsonl"))?;
    let mut requests = Vec::with_capacity(lines.len());
    for (i, l) in lines.into_iter().enumerate() {
        let (start, end) = l.events;
        if start > end || end > events.len() {
            return Err(format!(
                "requests.jsonl:{}: events [{start},{end}) out of range (0..{})",
                i + 1,
                events.len()
            ));
        }
        let mut expected = BTreeMap::new();
        for (k, v) in l.expected_hits {
            let key = parse_worker_key(&k).ok_or_else(|| {
                format!("requests.jsonl:{}: bad expected_hits key {k:?}", i + 1)
            })?;
            if v >= 1 {
                expected.insert(key, v);
            }
        }
        requests.push(Request {
            req: l.req.unwrap_or(i as u64),
            expected,
            events: l.events,
            local_hashes: l.local_hashes,
        });
    }
    Ok(Workload { events, requests })
}

/// Blocks an event carries: stored blocks, or removed hashes; `cleared` is 0.
fn event_blocks(ev: &RouterEvent) -> u64 {
    match &ev.event.data {
        KvCacheEventData::Stored(s) => s.blocks.len() as u64,
        KvCacheEventData::Removed(r) => r.block_hashes.len() as u64,
        KvCacheEventData::Cleared => 0,
    }
}

/// Nearest-rank percentile of sorted durations, in microseconds.
fn percentile_us(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    let idx = rank.clamp(1, sorted.len()) - 1;
    sorted[idx].as_secs_f64() * 1e6
}

fn per_sec(count: f64, secs: f64) -> f64 {
    if secs > 0.0 { count / secs } else { 0.0 }
}

fn run(w: Workload, verbose_mismatches: bool) -> Report {
    let blocks: u64 = w.events.iter().map(event_blocks).sum();

    // (A) apply everything into a fresh tree. The heap baseline is taken before
    // the event copies are made; applying consumes (and frees) them, so after
    // the loop only the tree's own allocations remain above the baseline.
    let base = live_bytes();
    let batch: Vec<RouterEvent> = w.events.clone();
    let mut tree_a = RadixTree::new();
    let t0 = Instant::now();
    for ev in batch {
        let _ = tree_a.apply_event(ev);
    }
    let apply = t0.elapsed();
    let heap_bytes = (live_bytes() - base) as i64;
    let tree_size = tree_a.current_size();
    drop(tree_a);

    // (B) per request: time find_matches, compare, then apply its events.
    let mut tree_b = RadixTree::new();
    let mut queries: Vec<Vec<LocalBlockHash>> = w
        .requests
        .iter()
        .map(|r| r.local_hashes.iter().copied().map(LocalBlockHash).collect())
        .collect();
    let mut lat = Vec::with_capacity(w.requests.len());
    let mut mismatches = 0u64;
    let mut shown = 0;
    for (r, q) in w.requests.iter().zip(queries.drain(..)) {
        let t = Instant::now();
        let overlap = tree_b.find_matches(q, false);
        lat.push(t.elapsed());
        let got: BTreeMap<(u64, u32), u64> = overlap
            .scores
            .iter()
            .filter(|&(_, &s)| s >= 1)
            .map(|(k, &s)| ((k.worker_id, k.dp_rank), s as u64))
            .collect();
        if got != r.expected {
            mismatches += 1;
            if verbose_mismatches && shown < 5 {
                shown += 1;
                eprintln!(
                    "score mismatch at req {}: expected {} got {}",
                    r.req,
                    fmt_hits(&r.expected),
                    fmt_hits(&got)
                );
            }
        }
        for ev in &w.events[r.events.0..r.events.1] {
            let _ = tree_b.apply_event(ev.clone());
        }
    }
    let find_total: Duration = lat.iter().sum();
    lat.sort_unstable();

    Report {
        events: w.events.len(),
        requests: w.requests.len(),
        blocks,
        apply_secs: apply.as_secs_f64(),
        apply_blocks_per_s: per_sec(blocks as f64, apply.as_secs_f64()),
        find_queries_per_s: per_sec(lat.len() as f64, find_total.as_secs_f64()),
        find_p50_us: percentile_us(&lat, 0.50),
        find_p99_us: percentile_us(&lat, 0.99),
        find_p999_us: percentile_us(&lat, 0.999),
        heap_bytes,
        tree_size,
        heap_bytes_per_block: if tree_size > 0 {
            heap_bytes as f64 / tree_size as f64
        } else {
            0.0
        },
        score_mismatches: mismatches,
    }
}

fn fmt_hits(m: &BTreeMap<(u64, u32), u64>) -> String {
    let items: Vec<String> = m
        .iter()
        .map(|((w, dp), v)| format!("\"{}\":{v}", worker_key(*w, *dp)))
        .collect();
    format!("{{{}}}", items.join(","))
}

fn json_line(r: &Report) -> String {
    format!(
        "{{\"system\":{},\"apply_blocks_per_s\":{:.1},\"find_queries_per_s\":{:.1},\
         \"find_p50_us\":{:.3},\"find_p99_us\":{:.3},\"find_p999_us\":{:.3},\
         \"heap_bytes_per_block\":{:.2},\"score_mismatches\":{}}}",
        esc(SYSTEM),
        r.apply_blocks_per_s,
        r.find_queries_per_s,
        r.find_p50_us,
        r.find_p99_us,
        r.find_p999_us,
        r.heap_bytes_per_block,
        r.score_mismatches
    )
}

fn table(dir: &Path, r: &Report) -> String {
    let rows: Vec<(&str, String)> = vec![
        ("system", SYSTEM.to_string()),
        ("workload", dir.display().to_string()),
        ("events", r.events.to_string()),
        ("requests", r.requests.to_string()),
        ("event blocks (stored+removed)", r.blocks.to_string()),
        ("apply time (s)", format!("{:.4}", r.apply_secs)),
        ("apply_blocks_per_s", format!("{:.0}", r.apply_blocks_per_s)),
        ("find_queries_per_s", format!("{:.0}", r.find_queries_per_s)),
        ("find_p50_us", format!("{:.3}", r.find_p50_us)),
        ("find_p99_us", format!("{:.3}", r.find_p99_us)),
        ("find_p999_us", format!("{:.3}", r.find_p999_us)),
        ("heap bytes (tree after A)", r.heap_bytes.to_string()),
        ("current_size (after A)", r.tree_size.to_string()),
        ("heap_bytes_per_block", format!("{:.2}", r.heap_bytes_per_block)),
        ("score_mismatches", r.score_mismatches.to_string()),
    ];
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    rows.iter()
        .map(|(k, v)| format!("{k:<width$}  {v}\n"))
        .collect()
}

pub fn main(args: &[String]) -> i32 {
    let mut dir: Option<PathBuf> = None;
    let mut as_json = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--json" => as_json = true,
            "--workload" => match it.next() {
                Some(d) => dir = Some(PathBuf::from(d)),
                None => {
                    eprintln!("race: --workload needs a directory");
                    return 2;
                }
            },
            s if s.starts_with("--workload=") => {
                dir = Some(PathBuf::from(&s["--workload=".len()..]))
            }
            other => {
                eprintln!("race: unknown argument {other:?}");
                return 2;
            }
        }
    }
    let Some(dir) = dir else {
        eprintln!("race: --workload DIR is required");
        return 2;
    };
    let workload = match load(&dir) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("race: {e}");
            return 1;
        }
    };
    let report = run(workload, true);
    if as_json {
        println!("{}", json_line(&report));
    } else {
        print!("{}", table(&dir, &report));
    }
    0
}
