//! `FileRepository` on diesel: the records of uploads, and which are unused (no live message
//! refers to them: `message_files` rows go with their message).

use async_trait::async_trait;
use diesel::prelude::*;
use parley_domain::files::{FileRepository, StoredFile};
use parley_domain::{AppId, Finite, RepositoryError};

use super::Store;
use crate::error::DbError;
use crate::schema::{files, message_files};

type FileColumns = (
    String,
    String,
    String,
    String,
    i64,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<f64>,
    i64,
);

fn into_domain(row: FileColumns) -> Result<StoredFile, DbError> {
    let (token, app, filename, content_type, size, subtype, width, height, duration, created_at) =
        row;
    let unsigned = |v: i64| u64::try_from(v).map_err(|e| DbError::Corrupt(e.to_string()));
    Ok(StoredFile {
        app: AppId::new(app).map_err(|e| DbError::Corrupt(e.to_string()))?,
        token,
        filename,
        content_type,
        size: unsigned(size)?,
        subtype,
        width: width.map(unsigned).transpose()?,
        height: height.map(unsigned).transpose()?,
        duration: duration.map(Finite),
        created_at,
    })
}

macro_rules! file_columns {
    () => {
        (
            files::token,
            files::app_id,
            files::filename,
            files::content_type,
            files::size,
            files::subtype,
            files::width,
            files::height,
            files::duration,
            files::created_at,
        )
    };
}

fn signed(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

#[async_trait]
impl FileRepository for Store {
    async fn insert_file(&self, file: &StoredFile) -> Result<(), RepositoryError> {
        let f = file.clone();
        self.run_write(move |conn| {
            diesel::insert_into(files::table)
                .values((
                    files::token.eq(&f.token),
                    files::app_id.eq(f.app.as_str()),
                    files::filename.eq(&f.filename),
                    files::content_type.eq(&f.content_type),
                    files::size.eq(signed(f.size)),
                    files::subtype.eq(&f.subtype),
                    files::width.eq(f.width.map(signed)),
                    files::height.eq(f.height.map(signed)),
                    files::duration.eq(f.duration.map(|d| d.0)),
                    files::created_at.eq(f.created_at),
                ))
                .execute(conn)?;
            Ok(())
        })
        .await
    }

    async fn find_file(&self, token: &str) -> Result<Option<StoredFile>, RepositoryError> {
        let token = token.to_owned();
        self.run(move |conn| {
            let row: Option<FileColumns> = files::table
                .find(&token)
                .select(file_columns!())
                .first(conn)
                .optional()?;
            row.map(into_domain).transpose()
        })
        .await
    }

    async fn unused_files(
        &self,
        uploaded_before: i64,
        limit: usize,
    ) -> Result<Vec<StoredFile>, RepositoryError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(move |conn| {
            let rows: Vec<FileColumns> = files::table
                .filter(files::created_at.lt(uploaded_before))
                .filter(diesel::dsl::not(diesel::dsl::exists(
                    message_files::table.filter(message_files::token.eq(files::token)),
                )))
                .order(files::created_at.asc())
                .limit(limit)
                .select(file_columns!())
                .load(conn)?;
            rows.into_iter().map(into_domain).collect()
        })
        .await
    }

    async fn delete_unused_file(&self, token: &str) -> Result<bool, RepositoryError> {
        let token = token.to_owned();
        self.run_write(move |conn| {
            let deleted = diesel::delete(files::table.find(&token).filter(diesel::dsl::not(
                diesel::dsl::exists(
                    message_files::table.filter(message_files::token.eq(files::token)),
                ),
            )))
            .execute(conn)?;
            Ok(deleted > 0)
        })
        .await
    }
}
