//! Import load: brings `--per-conversation` messages into each of the first `--conversations`
//! seeded conversations through `POST /import/conversations/{id}/messages`, `--batch` items per
//! request, from `--connections` threads with one keep-alive connection each. Every item has an
//! idempotency key and an old timestamp (history from before the seeded messages). Prints the
//! messages per second and the per-request p50/p99.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use parley_bench::{conversation_id, participants_of};

#[derive(Parser)]
struct Args {
    /// The server, e.g. http://127.0.0.1:18080
    #[arg(long)]
    base: String,
    #[arg(long, default_value = "bench")]
    app: String,
    #[arg(long, default_value = "sk_test_bench")]
    key: String,
    #[arg(long, default_value_t = 10_000)]
    conversations: u64,
    #[arg(long, default_value_t = 100)]
    per_conversation: u64,
    #[arg(long, default_value_t = 100)]
    batch: u64,
    #[arg(long, default_value_t = 4)]
    connections: u64,
    /// The number of each conversation's first item (items are numbered for their keys and
    /// times), so that a second run imports new messages.
    #[arg(long, default_value_t = 0)]
    offset: u64,
}

/// Two years before now: older than anything the seeder wrote.
fn history_start() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    now - 2 * 365 * 24 * 3600 * 1000
}

fn body(conversation: u64, first: u64, count: u64, start: i64) -> String {
    let users = participants_of(conversation);
    let items: Vec<serde_json::Value> = (first..first + count)
        .map(|n| {
            let sender = &users[usize::try_from(n % 3).unwrap_or(0)];
            let reader = &users[usize::try_from((n + 1) % 3).unwrap_or(0)];
            serde_json::json!({
                "type": "UserMessage",
                "sender": sender,
                "timestamp": start + i64::try_from(n).unwrap_or(0) * 1000,
                "text": format!("imported message {n} of conversation {conversation}"),
                "readBy": [reader],
                "idempotencyKey": format!("bench-{conversation}-{n}"),
            })
        })
        .collect();
    serde_json::Value::Array(items).to_string()
}

fn main() -> anyhow::Result<()> {
    let args = Arc::new(Args::parse());
    let start = history_start();
    // The work: (conversation, first item) pairs, taken in order by whichever thread is free.
    let per_request = args.batch.max(1);
    let requests_per_conversation = args.per_conversation.div_ceil(per_request);
    let total = args.conversations * requests_per_conversation;
    let next = Arc::new(AtomicU64::new(0));
    let began = Instant::now();
    let threads: Vec<_> = (0..args.connections)
        .map(|_| {
            let (args, next) = (args.clone(), next.clone());
            std::thread::spawn(move || -> anyhow::Result<Vec<Duration>> {
                let agent = ureq::AgentBuilder::new()
                    .timeout(Duration::from_secs(60))
                    .build();
                let auth = format!("Bearer {}", args.key);
                let mut latencies = Vec::new();
                loop {
                    let job = next.fetch_add(1, Ordering::Relaxed);
                    if job >= total {
                        return Ok(latencies);
                    }
                    let conversation = job / requests_per_conversation;
                    let first = (job % requests_per_conversation) * per_request;
                    let count = per_request.min(args.per_conversation - first);
                    let url = format!(
                        "{}/v1/{}/import/conversations/{}/messages",
                        args.base,
                        args.app,
                        conversation_id(conversation)
                    );
                    let payload = body(conversation, args.offset + first, count, start);
                    let sent = Instant::now();
                    let resp = agent
                        .post(&url)
                        .set("Authorization", &auth)
                        .set("Content-Type", "application/json")
                        .send_string(&payload);
                    latencies.push(sent.elapsed());
                    match resp {
                        Ok(r) => {
                            r.into_string()?;
                        }
                        Err(ureq::Error::Status(code, r)) => {
                            anyhow::bail!("{url}: {code} {}", r.into_string().unwrap_or_default())
                        }
                        Err(e) => return Err(e).context(url),
                    }
                }
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for t in threads {
        latencies.extend(
            t.join()
                .map_err(|_| anyhow::anyhow!("a thread panicked"))??,
        );
    }
    let elapsed = began.elapsed().as_secs_f64();
    latencies.sort();
    let at = |q: f64| {
        let i = ((latencies.len() as f64 - 1.0) * q).round() as usize;
        latencies.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    let messages = args.conversations * args.per_conversation;
    println!(
        "messages={messages} requests={} seconds={elapsed:.1} messages_per_second={:.0} p50_ms={:.1} p99_ms={:.1}",
        latencies.len(),
        messages as f64 / elapsed,
        at(0.5),
        at(0.99)
    );
    Ok(())
}
