//! The write baseline: the bundled SQLite (the same build Parley links) in WAL mode with
//! `synchronous = FULL`, one single-row upsert per transaction, for `--seconds`, and then 100
//! rows per transaction. What this machine's disk and SQLite commit at all, with no HTTP, JSON
//! or Parley in between.

use std::time::{Duration, Instant};

use clap::Parser;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

#[derive(Parser)]
struct Args {
    /// The database file (created; an existing one is replaced).
    #[arg(long)]
    db: std::path::PathBuf,
    #[arg(long, default_value_t = 5)]
    seconds: u64,
}

fn upsert(conn: &mut SqliteConnection, key: i64, value: &str) -> QueryResult<usize> {
    diesel::sql_query(
        "INSERT INTO kv (k, v, n) VALUES (?, ?, 1) \
         ON CONFLICT (k) DO UPDATE SET v = excluded.v, n = kv.n + 1",
    )
    .bind::<BigInt, _>(key)
    .bind::<Text, _>(value)
    .execute(conn)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", args.db.display()));
    }
    let mut conn = SqliteConnection::establish(&args.db.to_string_lossy())?;
    conn.batch_execute(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
         CREATE TABLE kv (k INTEGER PRIMARY KEY, v TEXT NOT NULL, n INTEGER NOT NULL);",
    )?;
    let limit = Duration::from_secs(args.seconds);
    let began = Instant::now();
    let mut commits: u64 = 0;
    while began.elapsed() < limit {
        let key = i64::try_from(commits % 10_000).unwrap_or(0);
        conn.immediate_transaction(|c| upsert(c, key, "value"))?;
        commits += 1;
    }
    let single = commits as f64 / began.elapsed().as_secs_f64();
    let began = Instant::now();
    let mut rows: u64 = 0;
    while began.elapsed() < limit {
        conn.immediate_transaction(|c| {
            for _ in 0..100 {
                upsert(c, i64::try_from(rows % 10_000).unwrap_or(0), "value")?;
                rows += 1;
            }
            QueryResult::Ok(())
        })?;
    }
    let batched = rows as f64 / began.elapsed().as_secs_f64();
    println!(
        "single_row_commits_per_second={single:.0} rows_per_second_100_per_commit={batched:.0}"
    );
    Ok(())
}
