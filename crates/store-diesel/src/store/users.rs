//! `UserRepository` on diesel.

use async_trait::async_trait;
use diesel::prelude::*;
use parley_domain::events::NewEvent;
use parley_domain::{AppId, RepositoryError, User, UserId, UserRepository, UserWrite, Versioned};

use super::Store;
use crate::error::DbError;
use crate::models::encode_custom;
use crate::schema::users;

#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
pub(crate) struct UserRow {
    app_id: String,
    id: String,
    name: String,
    email: Option<String>,
    phone: Option<String>,
    photo_url: Option<String>,
    welcome_message: Option<String>,
    role: Option<String>,
    locale: Option<String>,
    availability_text: Option<String>,
    custom: String,
    push_tokens: String,
    created_at: i64,
    version: i64,
}

fn corrupt(e: impl std::fmt::Display) -> DbError {
    DbError::Corrupt(e.to_string())
}

fn list_json(list: &Option<Vec<String>>) -> Option<String> {
    list.as_ref()
        .map(|l| serde_json::to_string(l).unwrap_or_else(|_| "[]".into()))
}

impl UserRow {
    pub(crate) fn new(app: &AppId, u: &User, version: i64) -> Self {
        Self {
            app_id: app.as_str().to_owned(),
            id: u.id.as_str().to_owned(),
            name: u.name.clone(),
            email: list_json(&u.email),
            phone: list_json(&u.phone),
            photo_url: u.photo_url.clone(),
            welcome_message: u.welcome_message.clone(),
            role: u.role.clone(),
            locale: u.locale.clone(),
            availability_text: u.availability_text.clone(),
            custom: encode_custom(&u.custom),
            push_tokens: serde_json::to_string(&u.push_tokens).unwrap_or_else(|_| "[]".into()),
            created_at: u.created_at,
            version,
        }
    }

    fn into_domain(self) -> Result<Versioned<User>, DbError> {
        let list = |raw: Option<String>| -> Result<Option<Vec<String>>, DbError> {
            raw.map(|r| serde_json::from_str(&r).map_err(corrupt))
                .transpose()
        };
        Ok(Versioned {
            version: self.version,
            value: User {
                id: UserId::new(self.id).map_err(corrupt)?,
                name: self.name,
                email: list(self.email)?,
                phone: list(self.phone)?,
                photo_url: self.photo_url,
                welcome_message: self.welcome_message,
                role: self.role,
                locale: self.locale,
                availability_text: self.availability_text,
                custom: serde_json::from_str(&self.custom).map_err(corrupt)?,
                push_tokens: serde_json::from_str(&self.push_tokens).map_err(corrupt)?,
                created_at: self.created_at,
            },
        })
    }
}

#[async_trait]
impl UserRepository for Store {
    async fn find_user(
        &self,
        app: &AppId,
        id: &UserId,
    ) -> Result<Option<Versioned<User>>, RepositoryError> {
        let (app, id) = (app.as_str().to_owned(), id.as_str().to_owned());
        self.run(move |conn| {
            let row: Option<UserRow> = users::table
                .find((app.as_str(), id.as_str()))
                .select(UserRow::as_select())
                .first(conn)
                .optional()?;
            row.map(UserRow::into_domain).transpose()
        })
        .await
    }

    async fn save_users_recording(
        &self,
        app: &AppId,
        writes: &[UserWrite],
        events: &[NewEvent],
    ) -> Result<(), RepositoryError> {
        let (app, mut writes, events) = (app.clone(), writes.to_vec(), events.to_vec());
        // One lock order for every batch, so that concurrent batches never deadlock.
        writes.sort_by(|a, b| a.user.id.as_str().cmp(b.user.id.as_str()));
        self.run_write(move |conn| {
            super::write_tx(&mut *conn, |tx| {
                for write in &writes {
                    match write.expected_version {
                        None => {
                            // A user created meanwhile makes this a unique violation: Conflict.
                            diesel::insert_into(users::table)
                                .values(UserRow::new(&app, &write.user, crate::fresh_version()))
                                .execute(tx)?;
                        }
                        Some(version) => {
                            let row = UserRow::new(&app, &write.user, version + 1);
                            let updated = diesel::update(
                                users::table
                                    .find((app.as_str(), write.user.id.as_str()))
                                    .filter(users::version.eq(version)),
                            )
                            .set((
                                users::name.eq(row.name),
                                users::email.eq(row.email),
                                users::phone.eq(row.phone),
                                users::photo_url.eq(row.photo_url),
                                users::welcome_message.eq(row.welcome_message),
                                users::role.eq(row.role),
                                users::locale.eq(row.locale),
                                users::availability_text.eq(row.availability_text),
                                users::custom.eq(row.custom),
                                users::push_tokens.eq(row.push_tokens),
                                users::version.eq(row.version),
                            ))
                            .execute(tx)?;
                            if updated == 0 {
                                return Err(DbError::Conflict);
                            }
                        }
                    }
                }
                super::events::record(tx, app.as_str(), &events)
            })
        })
        .await
    }

    async fn list_users(
        &self,
        app: &AppId,
        limit: usize,
        starting_after: Option<UserId>,
    ) -> Result<Option<Vec<User>>, RepositoryError> {
        let app = app.as_str().to_owned();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(move |conn| {
            let mut q = users::table
                .filter(users::app_id.eq(&app))
                .select(UserRow::as_select())
                .into_boxed();
            if let Some(after) = &starting_after {
                let known = users::table
                    .find((app.as_str(), after.as_str()))
                    .select(users::id)
                    .first::<String>(conn)
                    .optional()?;
                if known.is_none() {
                    return Ok(None);
                }
                q = q.filter(users::id.gt(after.as_str().to_owned()));
            }
            let rows: Vec<UserRow> = q.order(users::id.asc()).limit(limit).load(conn)?;
            rows.into_iter()
                .map(|r| r.into_domain().map(|v| v.value))
                .collect::<Result<Vec<_>, _>>()
                .map(Some)
        })
        .await
    }
}
