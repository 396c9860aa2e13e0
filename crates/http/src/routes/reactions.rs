//! `/conversations/{id}/messages/{id}/reactions/{emoji}[/{userId}]` (API.md "Reactions").

use actix_web::{web, HttpRequest};
use parley_domain::error::Problems;
use parley_domain::listing::MAX_LIMIT;
use parley_domain::reactions::Emoji;
use parley_domain::{Invalid, InvalidCode, UserId};
use serde::Serialize;

use super::{ok, ok_empty, Answer};
use crate::body::read_json_or_empty;
use crate::dto::{parse_limit, query_pairs, Data};
use crate::error::ApiError;
use crate::openapi::schemas::{Empty, ReactionList};
use crate::openapi::{Failures, Page, ReactionPath, ReactorPath};
use crate::path::{conversation_id, decoded_segment, id_problem, message_id};
use crate::state::AppState;

/// The `{emoji}` segment, normalised.
fn emoji(req: &HttpRequest) -> Result<Emoji, Invalid> {
    let raw = decoded_segment(req, 7, "emoji")?;
    Emoji::parse(&raw).map_err(|why| Invalid::field(InvalidCode::InvalidField, "emoji", why))
}

fn reacting_user(req: &HttpRequest) -> Result<UserId, Invalid> {
    let raw = decoded_segment(req, 8, "userId")?;
    UserId::new(raw).map_err(|e| id_problem("userId", &e))
}

fn service(state: &AppState) -> Result<&parley_domain::reactions::ReactionService, ApiError> {
    state
        .reactions
        .as_ref()
        .ok_or_else(|| ApiError::Unavailable("reactions are not configured".into()))
}

#[utoipa::path(put, path = "/v1/{appId}/conversations/{conversationId}/messages/{messageId}/reactions/{emoji}/{userId}", tag = "Reactions",
    summary = "React to a message (idempotent)", params(ReactorPath),
    request_body(content = Option<Empty>, content_type = "application/json"),
    responses((status = 200, description = "Reacted", body = Empty), Failures))]
pub(super) async fn add(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Answer {
    let app = state.admit(&req)?;
    let (conversation, message) = (conversation_id(&req)?, message_id(&req)?);
    let (emoji, user) = (emoji(&req)?, reacting_user(&req)?);
    let body = read_json_or_empty(&req, payload, &state.body).await?;
    if body.as_object().is_none_or(|o| !o.is_empty()) {
        let mut problems = Problems::default();
        problems.invalid("(body)", "must be {} (or empty)");
        problems.finish()?;
    }
    service(&state)?
        .add(&app, &conversation, &message, &emoji, &user)
        .await?;
    Ok(ok_empty())
}

#[utoipa::path(delete, path = "/v1/{appId}/conversations/{conversationId}/messages/{messageId}/reactions/{emoji}/{userId}", tag = "Reactions",
    summary = "Remove a reaction", params(ReactorPath),
    responses((status = 200, description = "Removed (also when there was none)", body = Empty), Failures))]
pub(super) async fn remove(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let app = state.admit(&req)?;
    let (conversation, message) = (conversation_id(&req)?, message_id(&req)?);
    let (emoji, user) = (emoji(&req)?, reacting_user(&req)?);
    service(&state)?
        .remove(&app, &conversation, &message, &emoji, &user)
        .await?;
    Ok(ok_empty())
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReactionView<'a> {
    user_id: &'a str,
    created_at: i64,
}

#[utoipa::path(get, path = "/v1/{appId}/conversations/{conversationId}/messages/{messageId}/reactions/{emoji}", tag = "Reactions",
    summary = "Who reacted with an emoji, oldest first", params(ReactionPath, Page),
    responses((status = 200, description = "A page of reactions", body = ReactionList), Failures))]
pub(super) async fn list(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let app = state.admit(&req)?;
    let (conversation, message) = (conversation_id(&req)?, message_id(&req)?);
    let emoji = emoji(&req)?;
    let mut problems = Problems::default();
    let mut limit = parley_domain::listing::DEFAULT_LIMIT;
    let mut after = None;
    for (name, value) in query_pairs(req.query_string())? {
        match name.as_str() {
            "limit" => limit = parse_limit(&mut problems, &value, MAX_LIMIT).unwrap_or(limit),
            "startingAfter" => match UserId::new(value) {
                Ok(id) => after = Some(id),
                Err(e) => problems.invalid("startingAfter", e.to_string()),
            },
            _ => {}
        }
    }
    problems.finish()?;
    let page = service(&state)?
        .list(&app, &conversation, &message, &emoji, limit, after)
        .await?;
    Ok(ok(&Data {
        data: page
            .iter()
            .map(|(user, at)| ReactionView {
                user_id: user.as_str(),
                created_at: *at,
            })
            .collect(),
    }))
}
