//! Seeds a SQLite or PostgreSQL database with conversations through the storage layer, in batches: three
//! participants each, a last message on 90% of them, spread over a year. Prints how long it took
//! and the ID of the conversation 10,000 deep in the default order (for a deep-page benchmark).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Parser;
use parley_bench::{conversation_id, participants_of};
use parley_domain::{
    AppId, Conversation, ConversationId, Message, MessageId, MessageKind, Participant, User, UserId,
};
use parley_store_diesel::{DieselStore, PgOptions, PgStore, SqliteOptions, Synchronous};

#[derive(Parser)]
struct Args {
    /// The SQLite file to create (it must not exist yet).
    #[arg(long, conflicts_with = "url", required_unless_present = "url")]
    db: Option<PathBuf>,
    /// Or a PostgreSQL database (`postgres://...`; its schema must be empty).
    #[arg(long)]
    url: Option<String>,
    /// How many conversations.
    #[arg(long, default_value_t = 1_000_000)]
    conversations: u64,
    /// The app they belong to.
    #[arg(long, default_value = "bench")]
    app: String,
    /// Conversations per transaction.
    #[arg(long, default_value_t = 5_000)]
    batch: u64,
    /// The depth (in items of the default order) whose conversation ID is printed.
    #[arg(long, default_value_t = 10_000)]
    depth: usize,
    /// Also create the users the participants are drawn from (u0, u1, ...).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    users: bool,
}

const YEAR_MS: i64 = 365 * 24 * 60 * 60 * 1000;

/// A deterministic spread (splitmix64), so that runs are comparable.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn conversation(i: u64, now: i64) -> anyhow::Result<(Conversation, i64)> {
    let id = ConversationId::new(conversation_id(i))?;
    let created_at = now - YEAR_MS + (mix(i) % (YEAR_MS as u64 / 2)) as i64;
    let mut c = Conversation::new(id.clone(), created_at);
    let users = participants_of(i);
    for u in &users {
        c.participants
            .insert(UserId::new(u.as_str())?, Participant::joined(created_at));
    }
    c.subject = Some(format!("Conversation {i}"));
    c.custom = BTreeMap::from([("orderId".to_string(), i.to_string())]);
    let mut activity = created_at;
    if !mix(i ^ 0xA5A5).is_multiple_of(10) {
        let sent_at = created_at + (mix(i ^ 0x5A5A) % (YEAR_MS as u64 / 2)) as i64;
        let sender = UserId::new(users[0].as_str())?;
        if let Some(p) = c.participants.get_mut(&sender) {
            p.read_until = sent_at;
            p.read_mark = sent_at;
        }
        c.last_message = Some(Message {
            reactions: Default::default(),
            id: MessageId::generate(),
            conversation_id: id,
            kind: MessageKind::User,
            sender: Some(sender),
            text: format!("Hello from conversation {i}"),
            content: vec![parley_domain::Block::plain(format!(
                "Hello from conversation {i}"
            ))],
            custom: BTreeMap::new(),
            created_at: sent_at,
            edited_at: None,
            referenced_message_id: None,
            origin: parley_domain::Origin::Rest,
        });
        activity = sent_at;
    }
    Ok((c, activity))
}

/// Where the seed goes.
enum Target {
    Sqlite(DieselStore),
    Postgres(PgStore),
}

impl Target {
    fn open(args: &Args) -> anyhow::Result<Self> {
        if let Some(url) = &args.url {
            let store = PgStore::open_postgres(&PgOptions::new(url.as_str()))
                .context("open the database")?;
            return Ok(Self::Postgres(store));
        }
        let db = args.db.as_ref().context("--db or --url")?;
        anyhow::ensure!(!db.exists(), "{} exists already", db.display());
        let mut options = SqliteOptions::new(db);
        options.synchronous = Synchronous::Normal;
        options.pool_size = 1;
        // The index pages of a million conversations (about 2 GB) stay cached: inserts into the
        // indexes keyed by activity, user and message ID do not wait on page reads.
        options.cache_mib = 4096;
        Ok(Self::Sqlite(
            DieselStore::open_sqlite(&options).context("open the database")?,
        ))
    }

    fn import_blocking(
        &self,
        app: &AppId,
        batch: &[Conversation],
    ) -> Result<(), parley_domain::RepositoryError> {
        match self {
            Self::Sqlite(store) => store.import_blocking(app, batch),
            Self::Postgres(store) => store.import_blocking(app, batch),
        }
    }

    fn import_users_blocking(
        &self,
        app: &AppId,
        batch: &[User],
    ) -> Result<(), parley_domain::RepositoryError> {
        match self {
            Self::Sqlite(store) => store.import_users_blocking(app, batch),
            Self::Postgres(store) => store.import_users_blocking(app, batch),
        }
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let store = Target::open(&args)?;
    let app = AppId::new(args.app.as_str())?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as i64;

    let started = Instant::now();
    let mut order: Vec<(i64, String)> = Vec::with_capacity(args.conversations as usize);
    let mut i = 0;
    while i < args.conversations {
        let end = (i + args.batch).min(args.conversations);
        let mut batch = Vec::with_capacity((end - i) as usize);
        for n in i..end {
            let (c, activity) = conversation(n, now)?;
            order.push((activity, c.id.as_str().to_owned()));
            batch.push(c);
        }
        store
            .import_blocking(&app, &batch)
            .map_err(|e| anyhow::anyhow!("import failed: {e}"))?;
        i = end;
    }
    let mut users = 0;
    if args.users {
        let count = parley_bench::USERS.min(args.conversations * 3);
        let mut batch = Vec::with_capacity(10_000);
        for n in 0..count {
            batch.push(User {
                id: UserId::new(format!("u{n}"))?,
                name: format!("User {n}"),
                email: Some(vec![format!("u{n}@example.com")]),
                phone: None,
                photo_url: None,
                welcome_message: None,
                role: Some("customer".into()),
                locale: None,
                availability_text: None,
                custom: BTreeMap::new(),
                push_tokens: Default::default(),
                created_at: now - YEAR_MS,
            });
            if batch.len() == 10_000 || n + 1 == count {
                store
                    .import_users_blocking(&app, &batch)
                    .map_err(|e| anyhow::anyhow!("user import failed: {e}"))?;
                users += batch.len();
                batch.clear();
            }
        }
    }
    let elapsed = started.elapsed();
    // The default order: last activity descending, ties on ID descending.
    order.sort_unstable_by(|a, b| b.cmp(a));
    let deep = order
        .get(args.depth.saturating_sub(1))
        .map(|(_, id)| id.clone())
        .unwrap_or_default();
    println!(
        "seeded={} users={} seconds={:.1} per_second={:.0} deep_cursor={} now_ms={}",
        args.conversations,
        users,
        elapsed.as_secs_f64(),
        args.conversations as f64 / elapsed.as_secs_f64(),
        deep,
        now
    );
    Ok(())
}
