//! `parley migrate --from URL --app ID --key KEY [--to-app ID]`: copies an app from a
//! TalkJS-compatible REST API (TalkJS itself, or another Parley) into this server's database:
//! users, conversations with their participants (access, notify, readUntil), and every
//! conversation's messages with their IDs, times, origin, custom data, edits, content, files
//! (downloaded and stored here under the same token) and reactions.
//!
//! It pages through the source's lists (`limit=100`, `startingAfter`), runs up to
//! `--concurrency` conversations at once, waits out 429s (`Retry-After`) and retries 5xx and
//! network errors with back-off. Every write is idempotent, so an interrupted migration is run
//! again: it reads the source again and stores only what is missing.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use futures_util::{stream, StreamExt};
use parley_domain::archive::{Record, Restored, Restorer};
use parley_domain::files::StoredFile;
use parley_domain::reactions::Emoji;
use parley_domain::{Access, AppId, Block, ConversationId, Notify, Participant, UserId};
use parley_http::archive::{conversation_from_rest, message_from_rest, user_from_rest};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde_json::Value;
use tokio::sync::Mutex;

use super::{Opened, Progress};
use crate::Settings;

/// Items per list request (the most TalkJS allows).
const PAGE: usize = 100;
/// Attempts of one request that fails with a 5xx or no answer (429s are waited out apart).
const ATTEMPTS: u32 = 8;
/// 429s waited out for one request before giving up.
const RATE_LIMITED: u32 = 100;

/// What `parley migrate` is asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    /// The source's base URL, e.g. `https://api.talkjs.com`.
    pub from: String,
    pub app: String,
    pub key: String,
    /// The app to write into here; default: the same ID.
    pub to_app: Option<String>,
    /// Conversations migrated at once.
    pub concurrency: usize,
}

/// Counts read from the source and found here afterwards.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub users: u64,
    pub conversations: u64,
    pub messages: u64,
    pub restored: Restored,
}

#[derive(Clone)]
struct Source {
    client: reqwest::Client,
    base: String,
    app: String,
    key: String,
}

fn enc(segment: &str) -> String {
    utf8_percent_encode(segment, NON_ALPHANUMERIC).to_string()
}

impl Source {
    /// GET `url` with the source's credentials, retried; the body and its content type.
    async fn fetch(&self, url: &str, auth: bool) -> anyhow::Result<(Vec<u8>, Option<String>)> {
        let mut failures = 0;
        let mut limited = 0;
        loop {
            let mut request = self.client.get(url);
            if auth {
                request = request.bearer_auth(&self.key);
            }
            let why = match request.send().await {
                Ok(resp) if resp.status().is_success() => {
                    let content_type = resp
                        .headers()
                        .get(reqwest::header::CONTENT_TYPE)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    match resp.bytes().await {
                        Ok(body) => return Ok((body.to_vec(), content_type)),
                        Err(e) => format!("the body broke off: {e}"),
                    }
                }
                Ok(resp) if resp.status().as_u16() == 429 => {
                    limited += 1;
                    if limited > RATE_LIMITED {
                        bail!("GET {url}: still rate limited after {RATE_LIMITED} waits");
                    }
                    let wait = resp
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<f64>().ok())
                        .filter(|s| s.is_finite() && *s >= 0.0)
                        .unwrap_or(1.0)
                        .min(60.0);
                    tokio::time::sleep(Duration::from_secs_f64(wait)).await;
                    continue;
                }
                Ok(resp) if resp.status().is_server_error() => format!("{}", resp.status()),
                Ok(resp) => {
                    let status = resp.status();
                    let body = resp.text().await.unwrap_or_default();
                    bail!("GET {url}: {status}: {body}");
                }
                Err(e) => format!("{e}"),
            };
            failures += 1;
            if failures >= ATTEMPTS {
                bail!("GET {url}: {why} ({ATTEMPTS} attempts)");
            }
            let backoff = Duration::from_millis(250 << failures.min(6));
            tokio::time::sleep(backoff).await;
        }
    }

    /// GET `/v1/{app}{path}` as JSON.
    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        let url = format!("{}/v1/{}{path}", self.base, enc(&self.app));
        let (body, _) = self.fetch(&url, true).await?;
        serde_json::from_slice(&body).with_context(|| format!("GET {url}: the answer is not JSON"))
    }

    /// Every item of a list at `path` (a `?` query or none), page by page.
    async fn list(&self, path: &str, mut each: impl FnMut(&Value)) -> anyhow::Result<Vec<Value>> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut items = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut url = format!("{path}{sep}limit={PAGE}");
            if let Some(a) = &after {
                url.push_str(&format!("&startingAfter={}", enc(a)));
            }
            let page = self.get(&url).await?;
            let data = page
                .get("data")
                .and_then(Value::as_array)
                .ok_or_else(|| anyhow!("GET {url}: no `data` array in the answer"))?;
            for item in data {
                each(item);
            }
            let last = data
                .last()
                .and_then(|i| i.get("id").or_else(|| i.get("userId")))
                .and_then(Value::as_str)
                .map(str::to_owned);
            let full = data.len() == PAGE;
            items.extend(data.iter().cloned());
            match last {
                Some(id) if full => after = Some(id),
                _ => return Ok(items),
            }
        }
    }
}

/// One conversation of the source as records, in the order they are restored in.
async fn conversation_records(source: &Source, item: &Value) -> anyhow::Result<(Vec<Record>, u64)> {
    let conversation = conversation_from_rest(item, "conversation").map_err(|e| anyhow!(e))?;
    let id = conversation.id.clone();
    let path = format!("/conversations/{}", enc(id.as_str()));
    let mut records = Vec::new();
    let mut own = conversation.clone();
    own.participants.clear();
    records.push(Record::Conversation(own));
    let mut on_record: BTreeSet<UserId> = BTreeSet::new();
    for (user, participant) in &conversation.participants {
        on_record.insert(user.clone());
        records.push(Record::Participant {
            conversation: id.clone(),
            user: user.clone(),
            participant: *participant,
        });
    }
    let mut messages = source.list(&format!("{path}/messages"), |_| {}).await?;
    // Listed newest first; restored oldest first, their order.
    messages.reverse();
    let mut files = Vec::new();
    let mut parsed = Vec::new();
    let mut reactions = Vec::new();
    for item in &messages {
        let message = message_from_rest(item, "message").map_err(|e| anyhow!(e))?;
        // A sender the source no longer shows (access None, or gone): kept on record here,
        // hidden as on the source, so that the message can be stored.
        if let Some(sender) = &message.sender {
            if on_record.insert(sender.clone()) {
                records.push(Record::Participant {
                    conversation: id.clone(),
                    user: sender.clone(),
                    participant: Participant {
                        access: Access::None,
                        notify: Notify::Off,
                        read_until: 0,
                        read_mark: 0,
                    },
                });
            }
        }
        for (block, raw) in message.content.iter().zip(
            item.get("content")
                .and_then(Value::as_array)
                .into_iter()
                .flatten(),
        ) {
            let Block::File(f) = block else { continue };
            let Some(url) = raw.get("url").and_then(Value::as_str) else {
                continue;
            };
            let (bytes, content_type) = source.fetch(url, false).await?;
            files.push(Record::File {
                file: StoredFile {
                    app: AppId::new("placeholder").expect("a valid app ID"),
                    token: f.file_token.clone(),
                    filename: f.filename.clone(),
                    content_type: content_type
                        .unwrap_or_else(|| "application/octet-stream".to_owned()),
                    size: bytes.len() as u64,
                    subtype: f.subtype.clone(),
                    width: f.width,
                    height: f.height,
                    duration: f.duration,
                    created_at: message.created_at,
                },
                bytes,
            });
        }
        if let Some(summary) = item.get("reactions").and_then(Value::as_object) {
            for emoji in summary.keys() {
                let Ok(parsed_emoji) = Emoji::parse(emoji) else {
                    continue;
                };
                let list = source
                    .list(
                        &format!(
                            "{path}/messages/{}/reactions/{}",
                            enc(message.id.as_str()),
                            enc(emoji)
                        ),
                        |_| {},
                    )
                    .await?;
                for r in list {
                    let user = r
                        .get("userId")
                        .and_then(Value::as_str)
                        .ok_or_else(|| anyhow!("a reaction without userId"))?;
                    reactions.push(Record::Reaction {
                        conversation: id.clone(),
                        message: message.id.clone(),
                        emoji: parsed_emoji.clone(),
                        user: UserId::new(user).map_err(|e| anyhow!("reaction userId: {e}"))?,
                        created_at: r.get("createdAt").and_then(Value::as_i64).unwrap_or(0),
                    });
                }
            }
        }
        parsed.push(Record::Message(message));
    }
    let count = parsed.len() as u64;
    records.extend(files);
    records.extend(parsed);
    records.extend(reactions);
    Ok((records, count))
}

/// Runs `parley migrate`.
///
/// # Errors
/// When the source cannot be read (after the retries), or a record cannot be stored here.
pub async fn run(settings: &Settings, options: &Options) -> anyhow::Result<Summary> {
    let target = AppId::new(options.to_app.as_deref().unwrap_or(&options.app))
        .context("--to-app: invalid app ID")?;
    let opened = Opened::open(settings).await?;
    let restorer: Restorer = opened.restorer();
    let source = Source {
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("Parley-migrate/", env!("CARGO_PKG_VERSION")))
            .build()?,
        base: options.from.trim_end_matches('/').to_owned(),
        app: options.app.clone(),
        key: options.key.clone(),
    };
    let progress = Arc::new(Mutex::new(Progress::new(&[
        "users",
        "conversations",
        "messages",
    ])));
    let mut summary = Summary::default();

    let users = source.list("/users", |_| {}).await?;
    progress.lock().await.set_total(0, users.len() as u64);
    let records = users
        .iter()
        .map(|u| user_from_rest(u, "user").map(Record::User))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow!(e))?;
    for chunk in records.chunks(PAGE) {
        summary.restored += restorer.restore(&target, chunk).await?;
        progress.lock().await.add(0, chunk.len() as u64);
    }
    summary.users = users.len() as u64;

    let conversations = source
        .list(
            "/conversations?orderBy=createdAt&orderDirection=ASC",
            |_| {},
        )
        .await?;
    summary.conversations = conversations.len() as u64;
    progress.lock().await.set_total(1, summary.conversations);
    let results: Vec<anyhow::Result<(ConversationId, Restored, u64)>> =
        stream::iter(conversations.iter())
            .map(|item| {
                let (source, restorer, target, progress) = (
                    source.clone(),
                    restorer.clone(),
                    target.clone(),
                    progress.clone(),
                );
                async move {
                    let (records, messages) = conversation_records(&source, item).await?;
                    let done = restorer
                        .restore_conversation(&target, &records)
                        .await
                        .with_context(|| {
                            format!(
                                "conversation {}",
                                item.get("id").and_then(Value::as_str).unwrap_or("?")
                            )
                        })?;
                    let mut progress = progress.lock().await;
                    progress.add(1, 1);
                    progress.add(2, messages);
                    let id = records
                        .iter()
                        .find_map(|r| match r {
                            Record::Conversation(c) => Some(c.id.clone()),
                            _ => None,
                        })
                        .ok_or_else(|| anyhow!("a conversation without its record"))?;
                    Ok((id, done, messages))
                }
            })
            .buffer_unordered(options.concurrency.max(1))
            .collect()
            .await;
    let mut expected = Vec::with_capacity(results.len());
    for result in results {
        let (id, done, messages) = result?;
        summary.restored += done;
        summary.messages += messages;
        expected.push((id, messages));
    }
    let progress = Arc::try_unwrap(progress)
        .map_err(|_| anyhow!("progress still shared"))?
        .into_inner();
    progress.finish("migrated");
    verify(&opened, &target, &summary, &expected).await?;
    eprintln!(
        "source: {} users, {} conversations, {} messages; here: the same. {} records written, {} there already",
        summary.users,
        summary.conversations,
        summary.messages,
        summary.restored.written,
        summary.restored.unchanged
    );
    Ok(summary)
}

/// Counts what the target app holds now and compares it with what the source listed: users,
/// and each migrated conversation's messages.
async fn verify(
    opened: &Opened,
    app: &AppId,
    summary: &Summary,
    conversations: &[(ConversationId, u64)],
) -> anyhow::Result<()> {
    let mut users = 0_u64;
    let mut after = None;
    loop {
        let page = opened
            .ports
            .users
            .list_users(app, PAGE, after.clone())
            .await?
            .unwrap_or_default();
        users += page.len() as u64;
        match page.last() {
            Some(last) if page.len() == PAGE => after = Some(last.id.clone()),
            _ => break,
        }
    }
    if users < summary.users {
        bail!(
            "the source lists {} users, this database holds {users}",
            summary.users
        );
    }
    for (id, expected) in conversations {
        let mut stored = 0_u64;
        let mut after = None;
        loop {
            let Some(page) = opened
                .ports
                .messages
                .list_messages(app, id, PAGE, after.clone())
                .await?
            else {
                bail!("conversation {id} is not in this database");
            };
            stored += page.len() as u64;
            match page.last() {
                Some(last) if page.len() == PAGE => after = Some(last.id.clone()),
                _ => break,
            }
        }
        if stored < *expected {
            bail!("conversation {id}: the source lists {expected} messages, this database holds {stored}");
        }
    }
    Ok(())
}
