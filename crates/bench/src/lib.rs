//! Benchmark tools: a seeder that fills a database through the storage layer, and a minimal
//! actix-web server that measures what this machine can serve at all. `scripts/bench.sh` drives
//! them with `wrk`.

/// How many distinct users the seeded conversations draw their participants from.
pub const USERS: u64 = 100_000;

/// The participants of seeded conversation `i` (the load scripts compute the same).
pub fn participants_of(i: u64) -> [String; 3] {
    [0, 1, 2].map(|k| format!("u{}", (i * 7 + k) % USERS))
}

/// The ID of seeded conversation `i`.
pub fn conversation_id(i: u64) -> String {
    format!("c{i:07}")
}
