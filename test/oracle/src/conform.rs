//! `conform` mode: one JSON command per stdin line, one JSON answer per line.
//!
//! See README.md for the protocol. Every answer is flushed immediately so a
//! test can drive the process interactively over pipes.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, BufRead, Write};
use std::panic::{self, AssertUnwindSafe};

use dynamo_kv_router::RadixTree;
use dynamo_kv_router::protocols::{KvCacheEventData, LocalBlockHash, RouterEvent};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::json::{esc, worker_key};

/// A (worker_id, dp_rank) pair, ordered numerically.
type Rank = (u64, u32);

/// One input line. Exactly one command field must be present; `early_exit`
/// and `tree_sizes` are modifiers of `find`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Command {
    event: Option<Box<RawValue>>,
    find: Option<Vec<u64>>,
    early_exit: Option<bool>,
    tree_sizes: Option<bool>,
    dump: Option<bool>,
    remove_worker: Option<u64>,
    remove_worker_dp_rank: Option<(u64, u32)>,
    clear_all_blocks: Option<u64>,
}

/// A mutation of the tree, kept so the tree can be rebuilt for `tree_sizes`.
#[derive(Clone)]
enum Op {
    Event(RouterEvent),
    RemoveWorker(u64),
    RemoveWorkerDpRank(u64, u32),
    ClearAllBlocks(u64),
}

impl Op {
    fn apply(&self, tree: &mut RadixTree) -> Result<(), String> {
        match self {
            Op::Event(ev) => tree.apply_event(ev.clone()).map_err(|e| format!("{e:?}")),
            Op::RemoveWorker(id) => {
                tree.remove_worker(*id);
                Ok(())
            }
            Op::RemoveWorkerDpRank(id, dp) => {
                tree.remove_worker_dp_rank(*id, *dp);
                Ok(())
            }
            Op::ClearAllBlocks(id) => {
                tree.clear_all_blocks(*id);
                Ok(())
            }
        }
    }
}

struct State {
    tree: RadixTree,
    /// Every mutation applied so far, in order (failed events included).
    log: Vec<Op>,
    /// Mirror of the keys of the tree's private per-(worker, dp_rank) lookup map.
    ranks: BTreeSet<Rank>,
    /// tree_sizes computed since the last mutation.
    sizes: Option<BTreeMap<Rank, usize>>,
}

impl State {
    fn new() -> Self {
        Self {
            tree: RadixTree::new(),
            log: Vec::new(),
            ranks: BTreeSet::new(),
            sizes: None,
        }
    }

    /// Applies a mutation to the live tree and records it.
    fn mutate(&mut self, op: Op) -> Result<(), String> {
        self.sizes = None;
        match &op {
            Op::Event(ev) => {
                let rank = (ev.worker_id, ev.event.dp_rank);
                // apply_event creates the rank's lookup first, even when the
                // event then fails; a `cleared` event removes it again.
                if matches!(ev.event.data, KvCacheEventData::Cleared) {
                    self.ranks.remove(&rank);
                } else {
                    self.ranks.insert(rank);
                }
            }
            Op::RemoveWorker(id) => self.ranks.retain(|r| r.0 != *id),
            Op::RemoveWorkerDpRank(id, dp) => {
                self.ranks.remove(&(*id, *dp));
            }
            // clear_all_blocks keeps every rank of the worker, emptied.
            Op::ClearAllBlocks(_) => {}
        }
        let result = op.apply(&mut self.tree);
        self.log.push(op);
        result
    }

    /// Number of lookup entries per (worker, dp_rank), stale entries included.
    ///
    /// The crate only exposes the total (`current_size`); its per-rank getter
    /// is `#[cfg(test)]`. `remove_worker_dp_rank` drops exactly one rank's
    /// lookup map and touches no other rank's map, so on a replica of the tree
    /// the drop in `current_size` when a rank is removed is that rank's lookup
    /// size. The replica is rebuilt by replaying the mutation log (the tree is
    /// deterministic: FxHash has no random seed).
    fn tree_sizes(&mut self) -> Result<&BTreeMap<Rank, usize>, String> {
        if self.sizes.is_none() {
            let total = self.tree.current_size();
            let mut sizes = BTreeMap::new();
            match self.ranks.len() {
                0 => {}
                1 => {
                    sizes.insert(*self.ranks.iter().next().unwrap(), total);
                }
                _ => {
                    let mut replica = RadixTree::new();
                    for op in &self.log {
                        let _ = op.apply(&mut replica);
                    }
                    if replica.current_size() != total {
                        return Err(format!(
                            "replayed tree has current_size {} but the live tree has {}",
                            replica.current_size(),
                            total
                        ));
                    }
                    for &(w, dp) in &self.ranks {
                        let before = replica.current_size();
                        replica.remove_worker_dp_rank(w, dp);
                        sizes.insert((w, dp), before - replica.current_size());
                    }
                    if replica.current_size() != 0 {
                        return Err(format!(
                            "{} lookup entries belong to no known (worker, dp_rank)",
                            replica.current_size()
                        ));
                    }
                }
            }
            self.sizes = Some(sizes);
        }
        Ok(self.sizes.as_ref().unwrap())
    }

    fn find(&mut self, hashes: Vec<u64>, early_exit: bool, want_sizes: bool) -> String {
        let query: Vec<LocalBlockHash> = hashes.into_iter().map(LocalBlockHash).collect();
        let overlap = self.tree.find_matches(query, early_exit);
        let scores: BTreeMap<Rank, u32> = overlap
            .scores
            .iter()
            .filter(|&(_, &s)| s >= 1)
            .map(|(w, &s)| ((w.worker_id, w.dp_rank), s))
            .collect();
        let mut out = String::from("{\"scores\":");
        push_rank_map(&mut out, scores.iter().map(|(k, v)| (*k, *v as u64)));
        if want_sizes {
            match self.tree_sizes() {
                Ok(sizes) => {
                    out.push_str(",\"tree_sizes\":");
                    push_rank_map(&mut out, sizes.iter().map(|(k, v)| (*k, *v as u64)));
                }
                Err(e) => {
                    out.push_str(",\"tree_sizes\":null,\"tree_sizes_error\":");
                    out.push_str(&esc(&e));
                }
            }
        }
        out.push_str(&format!(",\"current_size\":{}}}", self.tree.current_size()));
        out
    }

    fn dump(&self) -> Result<String, String> {
        let events = self.tree.dump_tree_as_events();
        // (worker, dp, parent, block_hash, tokens_hash); Option orders None first.
        let mut blocks: Vec<(u64, u32, Option<u64>, u64, u64)> = Vec::new();
        for ev in &events {
            if let KvCacheEventData::Stored(store) = &ev.event.data {
                let mut parent = store.parent_hash.map(|h| h.0);
                for b in &store.blocks {
                    blocks.push((
                        ev.worker_id,
                        ev.event.dp_rank,
                        parent,
                        b.block_hash.0,
                        b.tokens_hash.0,
                    ));
                    parent = Some(b.block_hash.0);
                }
            }
        }
        blocks.sort_unstable();
        let events_json = serde_json::to_string(&events).map_err(|e| e.to_string())?;
        let mut out = format!("{{\"events\":{events_json},\"blocks\":[");
        for (i, (w, dp, parent, bh, th)) in blocks.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            match parent {
                Some(p) => out.push_str(&format!("[{w},{dp},{p},{bh},{th}]")),
                None => out.push_str(&format!("[{w},{dp},null,{bh},{th}]")),
            }
        }
        out.push_str("]}");
        Ok(out)
    }

    /// Handles one non-blank, non-comment line and returns the answer line.
    fn handle(&mut self, line: &str) -> String {
        let cmd: Command = match serde_json::from_str(line) {
            Ok(c) => c,
            Err(e) => return bad_input(&e.to_string()),
        };
        let given = [
            cmd.event.is_some(),
            cmd.find.is_some(),
            cmd.dump.is_some(),
            cmd.remove_worker.is_some(),
            cmd.remove_worker_dp_rank.is_some(),
            cmd.clear_all_blocks.is_some(),
        ]
        .iter()
        .filter(|&&b| b)
        .count();
        if given != 1 {
            return bad_input(
                "expected exactly one of event, find, dump, remove_worker, \
                 remove_worker_dp_rank, clear_all_blocks",
            );
        }
        if cmd.find.is_none() && (cmd.early_exit.is_some() || cmd.tree_sizes.is_some()) {
            return bad_input("early_exit and tree_sizes only go with find");
        }

        if let Some(raw) = cmd.event {
            // Dynamo's own serde decides what a RouterEvent is.
            let ev: RouterEvent = match serde_json::from_str(raw.get()) {
                Ok(ev) => ev,
                Err(e) => return bad_input(&format!("RouterEvent: {e}")),
            };
            return match self.mutate(Op::Event(ev)) {
                Ok(()) => ok(),
                Err(name) => format!("{{\"status\":{}}}", esc(&name)),
            };
        }
        if let Some(hashes) = cmd.find {
            return self.find(
                hashes,
                cmd.early_exit.unwrap_or(false),
                cmd.tree_sizes.unwrap_or(true),
            );
        }
        if let Some(d) = cmd.dump {
            if !d {
                return bad_input("dump must be true");
            }
            return match self.dump() {
                Ok(s) => s,
                Err(e) => bad_input(&e),
            };
        }
        let op = if let Some(id) = cmd.remove_worker {
            Op::RemoveWorker(id)
        } else if let Some((id, dp)) = cmd.remove_worker_dp_rank {
            Op::RemoveWorkerDpRank(id, dp)
        } else {
            Op::ClearAllBlocks(cmd.clear_all_blocks.unwrap())
        };
        let _ = self.mutate(op);
        ok()
    }
}

fn ok() -> String {
    "{\"status\":\"ok\"}".to_string()
}

fn bad_input(msg: &str) -> String {
    format!("{{\"status\":\"bad_input\",\"error\":{}}}", esc(msg))
}

fn push_rank_map(out: &mut String, items: impl Iterator<Item = (Rank, u64)>) {
    out.push('{');
    for (i, ((w, dp), v)) in items.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&format!("\"{}\":{v}", worker_key(w, dp)));
    }
    out.push('}');
}

pub fn run() -> io::Result<()> {
    // A panic inside the crate is reported as a line, not a crash.
    panic::set_hook(Box::new(|info| eprintln!("kvindex-oracle: panic: {info}")));
    let stdin = io::stdin();
    let mut input = stdin.lock();
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let mut state = State::new();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if input.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        let answer = match std::str::from_utf8(&buf) {
            Err(e) => Some(bad_input(&format!("invalid UTF-8: {e}"))),
            Ok(text) => {
                let line = text.trim();
                if line.is_empty() || line.starts_with('#') {
                    None
                } else {
                    Some(
                        match panic::catch_unwind(AssertUnwindSafe(|| state.handle(line))) {
                            Ok(s) => s,
                            Err(payload) => {
                                let msg = payload
                                    .downcast_ref::<&str>()
                                    .map(|s| s.to_string())
                                    .or_else(|| payload.downcast_ref::<String>().cloned())
                                    .unwrap_or_else(|| "unknown panic".to_string());
                                state.sizes = None;
                                format!("{{\"status\":\"panic\",\"error\":{}}}", esc(&msg))
                            }
                        },
                    )
                }
            }
        };
        if let Some(a) = answer {
            out.write_all(a.as_bytes())?;
            out.write_all(b"\n")?;
            out.flush()?;
        }
    }
    Ok(())
}
