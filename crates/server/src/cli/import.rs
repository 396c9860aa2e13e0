//! `parley import FILE`: reads the JSON Lines of `parley export` (or `-` for stdin) into the
//! database, a batch of lines at a time. A batch with a bad line is reported (every bad line,
//! with its number) and none of it is written; the import goes on with the next batch and
//! exits with an error at the end. Importing the same file again changes nothing.

use std::io::BufRead;
use std::path::Path;

use anyhow::Context;
use futures_util::StreamExt;
use parley_domain::archive::{Record, Restored};
use parley_domain::AppId;
use parley_http::archive::decode;

use super::{Opened, Progress};
use crate::Settings;

/// Lines read and checked before any of them is written.
pub const BATCH: usize = 1000;
/// Groups of records (a conversation and what belongs to it) written at once.
const CONCURRENCY: usize = 16;

/// What an import did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub restored: Restored,
    pub bad_lines: u64,
}

fn counter(record: &Record) -> usize {
    match record {
        Record::User(_) => 0,
        Record::Conversation(_) => 1,
        Record::Message(_) => 2,
        _ => 3,
    }
}

/// Runs `parley import`.
///
/// # Errors
/// When the file cannot be read, a line is bad (after the whole file was read), or a record
/// cannot be stored (at once, naming its line: fix it and run again).
pub async fn run(settings: &Settings, file: &Path) -> anyhow::Result<Summary> {
    let opened = Opened::open(settings).await?;
    let restorer = opened.restorer();
    let input: Box<dyn BufRead> = if file.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::io::BufReader::with_capacity(
            1 << 20,
            std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?,
        ))
    };
    let mut progress = Progress::new(&[
        "users",
        "conversations",
        "messages",
        "other records",
        "bytes read",
    ]);
    if let Ok(meta) = std::fs::metadata(file) {
        if meta.is_file() {
            progress.set_total(4, meta.len());
        }
    }
    let mut summary = Summary::default();
    let mut batch: Vec<(u64, AppId, Record)> = Vec::with_capacity(BATCH);
    let mut bad: Vec<(u64, String)> = Vec::new();
    let mut lines = input.lines();
    let mut number = 0_u64;
    loop {
        let next = lines.next();
        let ended = next.is_none();
        if let Some(line) = next {
            number += 1;
            let line = line.with_context(|| format!("cannot read line {number}"))?;
            progress.add(4, line.len() as u64 + 1);
            if !line.trim().is_empty() {
                match decode(&line) {
                    Ok((app, record)) => batch.push((number, app, record)),
                    Err(why) => bad.push((number, why)),
                }
            }
        }
        let full = batch.len() + bad.len() >= BATCH;
        if !(full || ended) {
            continue;
        }
        if bad.is_empty() {
            write(&restorer, &batch, &mut progress, &mut summary).await?;
        } else {
            for (n, why) in &bad {
                eprintln!("line {n}: {why}");
            }
            summary.bad_lines += bad.len() as u64;
            let first = batch.first().map_or(bad[0].0, |b| b.0.min(bad[0].0));
            eprintln!(
                "lines {first} to {number}: not imported ({} bad line(s) in this batch)",
                bad.len()
            );
            bad.clear();
        }
        batch.clear();
        if ended {
            break;
        }
    }
    progress.finish("imported");
    eprintln!(
        "{} records written, {} there already",
        summary.restored.written, summary.restored.unchanged
    );
    if summary.bad_lines > 0 {
        anyhow::bail!(
            "{} bad line(s); their batches were not imported",
            summary.bad_lines
        );
    }
    Ok(summary)
}

/// A record with its line number and app.
type Line = (u64, AppId, Record);
/// Records of one app and one conversation (`None`: the users) are written together.
type GroupKey = (AppId, Option<String>);

/// Writes one checked batch. Its records are split into groups that do not depend on each
/// other: the users, and each conversation with its participants, files, messages and
/// reactions (in file order within the group). The groups that are whole new conversations
/// are written together, in one transaction (`Restorer::restore_whole`); the others (a
/// conversation stored before, as when a file is imported again, or continued from the
/// previous batch, and the users) one by one, up to [`CONCURRENCY`] groups at once (group
/// commit on SQLite, parallel transactions on PostgreSQL). The whole batch is written before
/// the next one starts, so a conversation split by the batch boundary is written in order.
async fn write(
    restorer: &parley_domain::archive::Restorer,
    batch: &[(u64, AppId, Record)],
    progress: &mut Progress,
    summary: &mut Summary,
) -> anyhow::Result<()> {
    let mut groups: Vec<(GroupKey, Vec<&Line>)> = Vec::new();
    let mut current: Option<String> = None;
    for entry in batch {
        let (_, app, record) = entry;
        let key = match record {
            Record::User(_) => None,
            Record::Conversation(c) => Some(c.id.as_str().to_owned()),
            Record::Participant { conversation, .. } | Record::Reaction { conversation, .. } => {
                Some(conversation.as_str().to_owned())
            }
            Record::Message(m) => Some(m.conversation_id.as_str().to_owned()),
            // A file belongs to the conversation whose messages follow it.
            Record::File { .. } => current.clone(),
        };
        if key.is_some() {
            current.clone_from(&key);
        }
        let key = (app.clone(), key);
        match groups.iter_mut().rev().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push(entry),
            None => groups.push((key, vec![entry])),
        }
    }
    // Whole new conversations first, many in one transaction per app.
    let mut whole = vec![false; groups.len()];
    let mut apps: Vec<&AppId> = Vec::new();
    for ((app, _), _) in &groups {
        if !apps.contains(&app) {
            apps.push(app);
        }
    }
    for app in apps {
        let candidates: Vec<usize> = (0..groups.len())
            .filter(|&i| groups[i].0 .0 == *app && groups[i].0 .1.is_some())
            .collect();
        let records: Vec<Vec<Record>> = candidates
            .iter()
            .map(|&i| groups[i].1.iter().map(|(_, _, r)| r.clone()).collect())
            .collect();
        let slices: Vec<&[Record]> = records.iter().map(Vec::as_slice).collect();
        let lines = |i: usize| groups[i].1.first().map_or(0, |(n, _, _)| *n);
        let (done, left) = restorer
            .restore_whole(app, &slices)
            .await
            .with_context(|| {
                format!(
                    "lines {} to {}: cannot store these conversations",
                    candidates.first().map_or(0, |&i| lines(i)),
                    batch.last().map_or(0, |(n, _, _)| *n)
                )
            })?;
        summary.restored += done;
        for (k, &i) in candidates.iter().enumerate() {
            whole[i] = !left.contains(&k);
        }
    }
    let rest = groups
        .iter()
        .zip(&whole)
        .filter(|(_, w)| !**w)
        .map(|(g, _)| g);
    let results: Vec<anyhow::Result<Restored>> = futures_util::stream::iter(rest)
        .map(|((app, _), members)| async move {
            let records: Vec<Record> = members.iter().map(|(_, _, r)| r.clone()).collect();
            match restorer.restore(app, &records).await {
                Ok(done) => Ok(done),
                // One record at a time, to name the line that cannot be stored.
                Err(_) => {
                    let mut done = Restored::default();
                    for (n, app, record) in members {
                        done += restorer
                            .restore(app, std::slice::from_ref(record))
                            .await
                            .with_context(|| {
                                format!("line {n}: cannot store this {}", record.kind())
                            })?;
                    }
                    Ok(done)
                }
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    for result in results {
        summary.restored += result?;
    }
    for (_, _, record) in batch {
        progress.add(counter(record), 1);
    }
    Ok(())
}
