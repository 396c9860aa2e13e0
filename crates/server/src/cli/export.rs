//! `parley export [--app ID] [--out FILE]`: an app (or every configured app) as JSON Lines,
//! streamed: users, then each conversation with its participants, its messages oldest first
//! (each preceded by the files it uses, embedded as base64, and followed by its reactions).

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use futures_util::TryStreamExt;
use parley_domain::archive::Record;
use parley_domain::reactions::Emoji;
use parley_domain::{
    AppId, Block, Conversation, ConversationQuery, ConversationService, Direction, Message,
    OrderBy, SystemClock,
};
use parley_http::archive::encode;
use parley_http::FileUrls;

use super::{configured_apps, Opened, Progress};
use crate::Settings;

/// Records read per page.
const PAGE: usize = 100;

const USERS: usize = 0;
const CONVERSATIONS: usize = 1;
const MESSAGES: usize = 2;
const OTHER: usize = 3;

struct Exporter<'a> {
    opened: &'a Opened,
    conversations: ConversationService,
    urls: FileUrls,
    out: Box<dyn Write + 'a>,
    progress: Progress,
    /// Files written already (a file used by several messages is written once).
    files_written: HashSet<String>,
}

impl Exporter<'_> {
    fn line(
        &mut self,
        app: &AppId,
        record: &Record,
        conversation: Option<&Conversation>,
    ) -> anyhow::Result<()> {
        let mut line = encode(app, record, conversation, &self.urls);
        line.push('\n');
        self.out
            .write_all(line.as_bytes())
            .context("cannot write the export")
    }

    async fn users(&mut self, app: &AppId) -> anyhow::Result<()> {
        let mut after = None;
        loop {
            let page = self
                .opened
                .ports
                .users
                .list_users(app, PAGE, after.clone())
                .await?
                .unwrap_or_default();
            for user in &page {
                self.line(app, &Record::User(user.clone()), None)?;
            }
            self.progress.add(USERS, page.len() as u64);
            match page.last() {
                Some(last) if page.len() == PAGE => after = Some(last.id.clone()),
                _ => return Ok(()),
            }
        }
    }

    async fn conversations(&mut self, app: &AppId) -> anyhow::Result<()> {
        let mut query = ConversationQuery {
            limit: PAGE,
            order_by: OrderBy::CreatedAt,
            direction: Direction::Asc,
            ..ConversationQuery::default()
        };
        loop {
            let page = self.conversations.list(app, &query).await?;
            for c in &page {
                self.conversation(app, c).await?;
            }
            self.progress.add(CONVERSATIONS, page.len() as u64);
            match page.last() {
                Some(last) if page.len() == PAGE => query.starting_after = Some(last.id.clone()),
                _ => return Ok(()),
            }
        }
    }

    async fn conversation(&mut self, app: &AppId, c: &Conversation) -> anyhow::Result<()> {
        self.line(app, &Record::Conversation(c.clone()), None)?;
        for (user, participant) in &c.participants {
            let record = Record::Participant {
                conversation: c.id.clone(),
                user: user.clone(),
                participant: *participant,
            };
            self.line(app, &record, None)?;
            self.progress.add(OTHER, 1);
        }
        // Newest first from the store; written oldest first, the order they are restored in.
        let mut messages: Vec<Message> = Vec::new();
        let mut after = None;
        loop {
            let page = self
                .opened
                .ports
                .messages
                .list_messages(app, &c.id, PAGE, after.clone())
                .await?
                .unwrap_or_default();
            let full = page.len() == PAGE;
            after = page.last().map(|m| m.id.clone());
            messages.extend(page);
            if !full {
                break;
            }
        }
        // Files first, then the messages (restored together, one transaction), then reactions.
        for m in messages.iter().rev() {
            self.files(app, m).await?;
        }
        for m in messages.iter().rev() {
            self.line(app, &Record::Message(m.clone()), Some(c))?;
            self.progress.add(MESSAGES, 1);
        }
        for m in messages.iter().rev() {
            self.reactions(app, c, m).await?;
        }
        Ok(())
    }

    async fn files(&mut self, app: &AppId, m: &Message) -> anyhow::Result<()> {
        for block in &m.content {
            let Block::File(f) = block else { continue };
            if !self.files_written.insert(f.file_token.clone()) {
                continue;
            }
            let Some(file) = self.opened.ports.files.find_file(&f.file_token).await? else {
                continue;
            };
            let bytes: Vec<u8> = self
                .opened
                .files
                .get(&file.token, 0, file.size)
                .await
                .map_err(|e| anyhow::anyhow!("file {}: {e}", file.token))?
                .map_ok(|chunk| chunk.to_vec())
                .try_concat()
                .await
                .map_err(|e| anyhow::anyhow!("file {}: {e}", file.token))?;
            self.line(app, &Record::File { file, bytes }, None)?;
            self.progress.add(OTHER, 1);
        }
        Ok(())
    }

    async fn reactions(
        &mut self,
        app: &AppId,
        c: &Conversation,
        m: &Message,
    ) -> anyhow::Result<()> {
        for emoji in m.reactions.keys() {
            let Ok(emoji) = Emoji::parse(emoji) else {
                continue;
            };
            let mut after = None;
            loop {
                let page = self
                    .opened
                    .ports
                    .reactions
                    .list_reactions(app, &m.id, &emoji, PAGE, after.clone())
                    .await?
                    .unwrap_or_default();
                for (user, at) in &page {
                    let record = Record::Reaction {
                        conversation: c.id.clone(),
                        message: m.id.clone(),
                        emoji: emoji.clone(),
                        user: user.clone(),
                        created_at: *at,
                    };
                    self.line(app, &record, None)?;
                }
                self.progress.add(OTHER, page.len() as u64);
                match page.last() {
                    Some((last, _)) if page.len() == PAGE => after = Some(last.clone()),
                    _ => break,
                }
            }
        }
        Ok(())
    }
}

/// Runs `parley export`.
///
/// # Errors
/// When the storage cannot be opened, read, or the output written.
pub async fn run(settings: &Settings, app: Option<&str>, out: Option<&Path>) -> anyhow::Result<()> {
    let apps = match app {
        Some(a) => vec![AppId::new(a).context("--app: invalid app ID")?],
        None => configured_apps(settings)?,
    };
    let opened = Opened::open(settings).await?;
    let output: Box<dyn Write> = match out {
        None => Box::new(std::io::stdout().lock()),
        Some(p) if p.as_os_str() == "-" => Box::new(std::io::stdout().lock()),
        Some(p) => Box::new(
            std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        ),
    };
    let public_url = settings.public_url(&format!(
        "{}:{}",
        settings.server.host, settings.server.port
    ));
    let mut exporter = Exporter {
        conversations: ConversationService::new(
            opened.ports.conversations.clone(),
            opened.ports.cursors.clone(),
            Arc::new(SystemClock),
            settings.limits(),
        ),
        opened: &opened,
        urls: FileUrls::new(&public_url),
        out: Box::new(std::io::BufWriter::with_capacity(1 << 20, output)),
        progress: Progress::new(&["users", "conversations", "messages", "other records"]),
        files_written: HashSet::new(),
    };
    for app in &apps {
        exporter.users(app).await?;
        exporter.conversations(app).await?;
    }
    exporter.out.flush().context("cannot write the export")?;
    let progress = exporter.progress;
    progress.finish("exported");
    Ok(())
}
