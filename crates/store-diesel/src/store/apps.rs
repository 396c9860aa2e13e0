//! `AppRepository` on diesel.

use async_trait::async_trait;
use diesel::prelude::*;
use parley_domain::{AppId, AppRepository, Clock, RepositoryError, SecretKey, SystemClock};

use super::Store;
use crate::schema::apps;

#[async_trait]
impl AppRepository for Store {
    async fn get_or_create_key(
        &self,
        app: &AppId,
        new_key: &SecretKey,
    ) -> Result<SecretKey, RepositoryError> {
        let (app, key) = (app.as_str().to_owned(), new_key.expose().to_owned());
        let created_at = SystemClock.now_ms();
        self.run_write(move |conn| {
            super::write_tx(&mut *conn, |tx| {
                diesel::insert_into(apps::table)
                    .values((
                        apps::id.eq(&app),
                        apps::secret_key.eq(&key),
                        apps::created_at.eq(created_at),
                    ))
                    .on_conflict_do_nothing()
                    .execute(tx)?;
                let stored: String = apps::table.find(&app).select(apps::secret_key).first(tx)?;
                Ok(SecretKey::new(stored))
            })
        })
        .await
    }
}
