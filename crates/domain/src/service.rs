//! Use cases for conversations: what the HTTP layer calls.

use std::sync::Arc;

use crate::clock::Clock;
use crate::conversation::{Conversation, ConversationPatch};
use crate::error::{RepositoryError, ServiceError};
use crate::ids::{AppId, ConversationId};
use crate::limits::Limits;
use crate::ports::ConversationRepository;

/// How often a PUT re-reads and retries after losing a race to a concurrent writer. Every lost
/// race means another writer committed, so the system as a whole always makes progress.
pub const MAX_WRITE_ATTEMPTS: usize = 100;

/// Reads, merges and deletes conversations.
#[derive(Clone)]
pub struct ConversationService {
    repo: Arc<dyn ConversationRepository>,
    clock: Arc<dyn Clock>,
    limits: Limits,
}

impl std::fmt::Debug for ConversationService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConversationService")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl ConversationService {
    pub fn new(
        repo: Arc<dyn ConversationRepository>,
        clock: Arc<dyn Clock>,
        limits: Limits,
    ) -> Self {
        Self {
            repo,
            clock,
            limits,
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The conversation, or `NotFound`.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`], or the repository's error.
    pub async fn get(
        &self,
        app: &AppId,
        id: &ConversationId,
    ) -> Result<Conversation, ServiceError> {
        match self.repo.find(app, id).await? {
            Some(found) => Ok(found.value),
            None => Err(ServiceError::NotFound("conversation")),
        }
    }

    /// Creates the conversation or merges `patch` into it. Concurrent PUTs to one conversation
    /// all take effect: a write that lost a race re-reads and merges again.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] for a patch over the limits (nothing is written);
    /// [`ServiceError::Busy`] when every attempt lost a race; the repository's error otherwise.
    pub async fn put(
        &self,
        app: &AppId,
        id: &ConversationId,
        patch: &ConversationPatch,
    ) -> Result<(), ServiceError> {
        self.limits.check_patch(patch)?;
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let outcome = match self.repo.find(app, id).await? {
                None => {
                    let mut created = Conversation::new(id.clone(), self.clock.now_ms());
                    created.apply(patch);
                    self.limits.check_conversation(&created)?;
                    self.repo.insert(app, &created).await
                }
                Some(current) => {
                    let mut next = current.value.clone();
                    next.apply(patch);
                    if next == current.value {
                        return Ok(());
                    }
                    self.limits.check_conversation(&next)?;
                    self.repo.update(app, &current, &next).await
                }
            };
            match outcome {
                Ok(()) => return Ok(()),
                Err(RepositoryError::Conflict) => continue,
                Err(other) => return Err(other.into()),
            }
        }
        Err(ServiceError::Busy)
    }

    /// Deletes the conversation with its participants (and, later, messages).
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] when there is no such conversation; the repository's error.
    pub async fn delete(&self, app: &AppId, id: &ConversationId) -> Result<(), ServiceError> {
        if self.repo.delete(app, id).await? {
            Ok(())
        } else {
            Err(ServiceError::NotFound("conversation"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::{CustomPatch, Field, Participant};
    use crate::error::InvalidCode;
    use crate::ids::UserId;
    use crate::ports::{MockConversationRepository, Versioned};
    use mockall::predicate::always;
    use mockall::Sequence;
    use std::collections::BTreeMap;

    struct FixedClock(i64);
    impl Clock for FixedClock {
        fn now_ms(&self) -> i64 {
            self.0
        }
    }

    fn app() -> AppId {
        AppId::new("app").unwrap()
    }
    fn cid() -> ConversationId {
        ConversationId::new("c1").unwrap()
    }
    fn uid(raw: &str) -> UserId {
        UserId::new(raw).unwrap()
    }

    fn service(repo: MockConversationRepository) -> ConversationService {
        ConversationService::new(Arc::new(repo), Arc::new(FixedClock(42)), Limits::default())
    }

    fn stored(version: i64, users: &[&str]) -> Versioned<Conversation> {
        let mut c = Conversation::new(cid(), 7);
        for u in users {
            c.participants.insert(uid(u), Participant::default());
        }
        Versioned { value: c, version }
    }

    fn add(user: &str) -> ConversationPatch {
        ConversationPatch {
            participants: vec![uid(user)],
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn put_creates_a_missing_conversation_with_the_clock_time() {
        let mut repo = MockConversationRepository::new();
        repo.expect_find().times(1).returning(|_, _| Ok(None));
        repo.expect_insert()
            .withf(|app, c| {
                app.as_str() == "app"
                    && c.created_at == 42
                    && c.participants.contains_key(&uid("u1"))
                    && c.subject.as_deref() == Some("hi")
            })
            .times(1)
            .returning(|_, _| Ok(()));
        let patch = ConversationPatch {
            subject: Field::Set("hi".into()),
            ..add("u1")
        };
        service(repo).put(&app(), &cid(), &patch).await.unwrap();
    }

    #[tokio::test]
    async fn put_merges_into_the_version_it_read() {
        let mut repo = MockConversationRepository::new();
        repo.expect_find()
            .returning(|_, _| Ok(Some(stored(3, &["u1"]))));
        repo.expect_update()
            .withf(|_, before, after| {
                before.version == 3
                    && after.created_at == 7
                    && after.participants.len() == 2
                    && after.participants.contains_key(&uid("u1"))
            })
            .times(1)
            .returning(|_, _, _| Ok(()));
        service(repo).put(&app(), &cid(), &add("u2")).await.unwrap();
    }

    #[tokio::test]
    async fn put_rereads_and_merges_again_after_a_conflict() {
        let mut repo = MockConversationRepository::new();
        let mut seq = Sequence::new();
        repo.expect_find()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(Some(stored(1, &["u1"]))));
        repo.expect_update()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _| Err(RepositoryError::Conflict));
        // Meanwhile someone else added u9: the retry must keep it.
        repo.expect_find()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(Some(stored(2, &["u1", "u9"]))));
        repo.expect_update()
            .withf(|_, before, after| {
                before.version == 2
                    && after.participants.contains_key(&uid("u9"))
                    && after.participants.contains_key(&uid("u2"))
            })
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _| Ok(()));
        service(repo).put(&app(), &cid(), &add("u2")).await.unwrap();
    }

    #[tokio::test]
    async fn a_lost_create_race_becomes_a_merge() {
        let mut repo = MockConversationRepository::new();
        let mut seq = Sequence::new();
        repo.expect_find()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(None));
        repo.expect_insert()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Err(RepositoryError::Conflict));
        repo.expect_find()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(Some(stored(1, &["other"]))));
        repo.expect_update()
            .withf(|_, _, after| after.participants.len() == 2)
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _| Ok(()));
        service(repo).put(&app(), &cid(), &add("u2")).await.unwrap();
    }

    #[tokio::test]
    async fn put_gives_up_with_busy_after_bounded_attempts() {
        let mut repo = MockConversationRepository::new();
        repo.expect_find()
            .times(MAX_WRITE_ATTEMPTS)
            .returning(|_, _| Ok(Some(stored(1, &[]))));
        repo.expect_update()
            .times(MAX_WRITE_ATTEMPTS)
            .returning(|_, _, _| Err(RepositoryError::Conflict));
        let err = service(repo)
            .put(&app(), &cid(), &add("u"))
            .await
            .unwrap_err();
        assert!(matches!(err, ServiceError::Busy), "{err:?}");
    }

    #[tokio::test]
    async fn put_does_not_retry_when_storage_is_unavailable() {
        let mut repo = MockConversationRepository::new();
        repo.expect_find().times(1).returning(|_, _| Ok(None));
        repo.expect_insert()
            .times(1)
            .returning(|_, _| Err(RepositoryError::Unavailable("down".into())));
        let err = service(repo)
            .put(&app(), &cid(), &add("u"))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                ServiceError::Repository(RepositoryError::Unavailable(_))
            ),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn put_over_a_limit_writes_nothing() {
        let mut repo = MockConversationRepository::new();
        repo.expect_find().times(0);
        repo.expect_insert().times(0);
        let patch = ConversationPatch {
            subject: Field::Set("s".repeat(10_001)),
            ..Default::default()
        };
        let err = service(repo).put(&app(), &cid(), &patch).await.unwrap_err();
        match err {
            ServiceError::Invalid(invalid) => {
                assert_eq!(invalid.code, InvalidCode::LimitExceeded);
                assert!(invalid.reasons.contains_key("subject"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn put_that_would_exceed_the_participant_limit_writes_nothing() {
        let mut repo = MockConversationRepository::new();
        repo.expect_find().returning(|_, _| {
            let names: Vec<String> = (0..300).map(|i| format!("u{i}")).collect();
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            Ok(Some(stored(1, &refs)))
        });
        repo.expect_update().times(0);
        let err = service(repo)
            .put(&app(), &cid(), &add("one-too-many"))
            .await
            .unwrap_err();
        assert!(matches!(err, ServiceError::Invalid(_)), "{err:?}");
    }

    #[tokio::test]
    async fn put_that_changes_nothing_does_not_write() {
        let mut repo = MockConversationRepository::new();
        repo.expect_find()
            .returning(|_, _| Ok(Some(stored(1, &["u1"]))));
        repo.expect_update().times(0);
        let patch = ConversationPatch {
            custom: Some(CustomPatch::Merge(BTreeMap::new())),
            ..add("u1")
        };
        service(repo).put(&app(), &cid(), &patch).await.unwrap();
    }

    #[tokio::test]
    async fn get_and_delete_report_missing_conversations() {
        let mut repo = MockConversationRepository::new();
        repo.expect_find().returning(|_, _| Ok(None));
        repo.expect_delete()
            .with(always(), always())
            .returning(|_, _| Ok(false));
        let svc = service(repo);
        assert!(matches!(
            svc.get(&app(), &cid()).await,
            Err(ServiceError::NotFound("conversation"))
        ));
        assert!(matches!(
            svc.delete(&app(), &cid()).await,
            Err(ServiceError::NotFound("conversation"))
        ));
    }
}
