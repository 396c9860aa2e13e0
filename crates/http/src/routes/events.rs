//! The event log, its live stream, the webhook deliveries, and the JSON of events: the
//! envelope and its `data`, built from the same views as the REST responses.

use std::collections::BTreeSet;
use std::time::Duration;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use parley_domain::error::Problems;
use parley_domain::events::{
    Delivery, DeliveryStatus, Event, EventData, EventEncoder, EventQuery, EventService,
    EventSignal, EventType, Sender, MAX_DELIVERIES_LIMIT, MAX_EVENTS_LIMIT,
};
use parley_domain::{AppId, Conversation, Participant, User, UserId};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::watch;

use super::{ok, ok_empty, Answer};
use crate::dto::{
    parse_limit, query_pairs, ConversationView, FileUrls, MessageView, NotifyView, ParticipantView,
    UserView,
};
use crate::error::ApiError;
use crate::openapi::schemas::{DeliveryList, Empty, EventList};
use crate::openapi::{AppPath, DeliveryListQuery, EventListQuery, EventPath, Failures};
use crate::state::AppState;

/// How often an idle stream sends a comment line, so that proxies keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How often a stream looks for events committed by other servers on the same database when
/// nothing in this process woke it.
const STREAM_POLL: Duration = Duration::from_secs(1);

/// Wakes this process's deliverer and streams when a write with events commits.
#[derive(Debug)]
pub struct EventBus {
    tx: watch::Sender<u64>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self {
            tx: watch::channel(0).0,
        }
    }
}

impl EventBus {
    /// A receiver that sees every commit after this call as a change.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.tx.subscribe()
    }
}

impl EventSignal for EventBus {
    fn committed(&self) {
        self.tx.send_modify(|n| *n = n.wrapping_add(1));
    }
}

fn participant_view(c: &Conversation, user: &UserId, p: &Participant) -> ParticipantView {
    ParticipantView {
        access: p.access.as_str(),
        notify: NotifyView(p.notify),
        is_unread: c.is_unread(user, p),
        read_until: p.read_until,
    }
}

/// A sender (or recipient) that is no user: every key of the User object, `name` null.
fn unknown_user(id: &UserId) -> Value {
    let placeholder = User {
        id: id.clone(),
        name: String::new(),
        email: None,
        phone: None,
        photo_url: None,
        welcome_message: None,
        role: None,
        locale: None,
        availability_text: None,
        custom: Default::default(),
        push_tokens: Default::default(),
        created_at: 0,
    };
    let mut value = serde_json::to_value(UserView::from(&placeholder)).unwrap_or(Value::Null);
    if let Some(object) = value.as_object_mut() {
        object.insert("name".into(), Value::Null);
        object.insert("createdAt".into(), Value::Null);
    }
    value
}

/// A sender or recipient: the User object, or the stub of an unknown user.
fn person(who: &Sender) -> Value {
    match who {
        Sender::User(user) => {
            serde_json::to_value(UserView::from(user.as_ref())).unwrap_or(Value::Null)
        }
        Sender::Unknown(id) => unknown_user(id),
    }
}

fn data_json(data: &EventData, urls: &FileUrls) -> Value {
    let json = |v: Result<Value, serde_json::Error>| v.unwrap_or(Value::Null);
    match data {
        EventData::Conversation { conversation } => serde_json::json!({
            "conversation": json(serde_json::to_value(ConversationView::new(conversation, urls))),
        }),
        EventData::Message {
            conversation,
            message,
            sender,
        } => serde_json::json!({
            "conversation": json(serde_json::to_value(ConversationView::new(conversation, urls))),
            "message": json(serde_json::to_value(MessageView::new(message, conversation, urls))),
            "sender": sender.as_ref().map_or(Value::Null, person),
        }),
        EventData::Read {
            conversation,
            message,
            recipient,
        } => serde_json::json!({
            "conversation": json(serde_json::to_value(ConversationView::new(conversation, urls))),
            "message": json(serde_json::to_value(MessageView::new(message, conversation, urls))),
            "recipient": person(recipient),
        }),
        EventData::Reaction {
            conversation,
            message,
            user_id,
            emoji,
        } => serde_json::json!({
            "conversation": json(serde_json::to_value(ConversationView::new(conversation, urls))),
            "message": json(serde_json::to_value(MessageView::new(message, conversation, urls))),
            "userId": user_id.as_str(),
            "emoji": emoji,
        }),
        EventData::User { user } => serde_json::json!({
            "user": json(serde_json::to_value(UserView::from(user))),
        }),
        EventData::Participant {
            conversation,
            user_id,
            participant,
        } => serde_json::json!({
            "conversation": json(serde_json::to_value(ConversationView::new(conversation, urls))),
            "userId": user_id.as_str(),
            "participant": json(serde_json::to_value(participant_view(conversation, user_id, participant))),
        }),
    }
}

/// The envelope `{"id", "type", "createdAt", "data"}` with the REST views (file URLs under
/// `urls`, as in REST answers).
#[derive(Debug, Clone)]
pub struct JsonEventEncoder {
    urls: FileUrls,
}

impl JsonEventEncoder {
    pub fn new(urls: FileUrls) -> Self {
        Self { urls }
    }
}

impl EventEncoder for JsonEventEncoder {
    fn encode(&self, event: &Event) -> String {
        serde_json::json!({
            "id": event.id,
            "type": event.kind.as_str(),
            "createdAt": event.created_at,
            "data": data_json(&event.data, &self.urls),
        })
        .to_string()
    }
}

fn service(state: &AppState) -> Result<&EventService, ApiError> {
    state
        .events
        .as_ref()
        .map(|(service, _)| service)
        .ok_or(ApiError::NotFound("event log"))
}

/// `after`, `limit` and `types` of the log and the stream.
async fn event_query(
    req: &HttpRequest,
    service: &EventService,
    app: &AppId,
    resume: Option<String>,
) -> Result<(EventQuery, bool), ApiError> {
    let mut problems = Problems::default();
    let mut query = EventQuery {
        after: None,
        limit: 100,
        types: BTreeSet::new(),
    };
    let mut after = resume;
    for (name, value) in query_pairs(req.query_string())? {
        match name.as_str() {
            "after" => after = after.or(Some(value)),
            "limit" => {
                query.limit = parse_limit(&mut problems, &value, MAX_EVENTS_LIMIT).unwrap_or(100)
            }
            "types" => {
                for t in value.split(',').filter(|t| !t.is_empty()) {
                    match EventType::parse(t) {
                        Some(t) => {
                            query.types.insert(t);
                        }
                        None => problems.invalid("types", format!("`{t}` is no event type")),
                    }
                }
            }
            _ => {}
        }
    }
    problems.finish()?;
    let resumed = after.is_some();
    if let Some(id) = after {
        query.after = Some(service.position(app, &id, "after").await?);
    }
    Ok((query, resumed))
}

fn log_body(bodies: impl Iterator<Item = String>) -> String {
    let items: Vec<String> = bodies.collect();
    format!("{{\"data\":[{}]}}", items.join(","))
}

/// `GET /v1/{appId}/events`
#[utoipa::path(get, path = "/v1/{appId}/events", tag = "Events",
    summary = "The event log, oldest first",
    description = "Every change as an event, whatever a webhook subscribes to. Resuming with `after` never skips an event.",
    params(AppPath, EventListQuery),
    responses((status = 200, description = "A page of events", body = EventList), Failures))]
pub(super) async fn list_events(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let app = state.admit(&req)?;
    let service = service(&state)?;
    let (query, _) = event_query(&req, service, &app, None).await?;
    let events = service.list(&app, &query).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(log_body(events.into_iter().map(|e| e.body))))
}

struct Stream {
    service: EventService,
    app: AppId,
    query: EventQuery,
    wake: watch::Receiver<u64>,
    queued: std::collections::VecDeque<parley_domain::events::StoredEvent>,
    since_write: tokio::time::Instant,
}

impl Stream {
    /// The next record to send: an event, or a keep-alive comment.
    async fn next(&mut self) -> Result<Bytes, ApiError> {
        loop {
            if let Some(event) = self.queued.pop_front() {
                self.query.after = Some(event.position());
                self.since_write = tokio::time::Instant::now();
                return Ok(Bytes::from(format!(
                    "id: {}\nevent: {}\ndata: {}\n\n",
                    event.id,
                    event.kind.as_str(),
                    event.body
                )));
            }
            let page = self.service.list(&self.app, &self.query).await?;
            if !page.is_empty() {
                self.queued.extend(page);
                continue;
            }
            let keep_alive_at = self.since_write + KEEP_ALIVE;
            let poll_at = tokio::time::Instant::now() + STREAM_POLL;
            tokio::select! {
                _ = self.wake.changed() => {}
                () = tokio::time::sleep_until(poll_at.min(keep_alive_at)) => {
                    if tokio::time::Instant::now() >= keep_alive_at {
                        self.since_write = tokio::time::Instant::now();
                        return Ok(Bytes::from_static(b": keep-alive\n\n"));
                    }
                }
            }
        }
    }
}

/// `GET /v1/{appId}/events/stream`: Server-Sent Events, replay then live.
#[utoipa::path(get, path = "/v1/{appId}/events/stream", tag = "Events",
    summary = "The event log as Server-Sent Events",
    description = "One record per event (`id:`, `event:`, `data:` the envelope); resumes after `Last-Event-ID` or `after`; a comment every 15 s.",
    params(AppPath, EventListQuery, ("Last-Event-ID" = Option<String>, Header, description = "The event to resume after")),
    responses((status = 200, description = "The stream", content_type = "text/event-stream", body = String), Failures))]
pub(super) async fn stream_events(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let app = state.admit(&req)?;
    // Also spelled otherwise (`//events/stream`): a batch would wait on it forever.
    if actix_web::HttpMessage::extensions(&req)
        .get::<crate::state::BatchOperation>()
        .is_some()
    {
        return Err(ApiError::Invalid(parley_domain::Invalid::field(
            parley_domain::InvalidCode::InvalidField,
            "path",
            "the event stream never ends: it cannot be a batch operation",
        )));
    }
    let (service, bus) = state
        .events
        .as_ref()
        .ok_or(ApiError::NotFound("event log"))?;
    let resume = req
        .headers()
        .get("Last-Event-ID")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned);
    // Subscribed before the starting point is read: nothing committed in between is missed.
    let wake = bus.subscribe();
    let (mut query, resumed) = event_query(&req, service, &app, resume).await?;
    if !resumed {
        query.after = Some(service.latest(&app).await?.unwrap_or_default());
    }
    query.limit = query.limit.min(MAX_EVENTS_LIMIT);
    let stream = Stream {
        service: service.clone(),
        app,
        query,
        wake,
        queued: Default::default(),
        since_write: tokio::time::Instant::now(),
    };
    let body = futures_util::stream::unfold(stream, |mut s| async move {
        let item = s.next().await;
        Some((item, s))
    });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DeliveryView<'a> {
    event_id: &'a str,
    url: &'a str,
    status: &'static str,
    attempts: i32,
    last_status: Option<i32>,
    last_error: Option<&'a str>,
    next_attempt_at: Option<i64>,
}

impl<'a> From<&'a Delivery> for DeliveryView<'a> {
    fn from(d: &'a Delivery) -> Self {
        Self {
            event_id: &d.event_id,
            url: &d.url,
            status: d.status.as_str(),
            attempts: d.attempts,
            last_status: d.last_status,
            last_error: d.last_error.as_deref(),
            next_attempt_at: d.next_attempt_at,
        }
    }
}

/// `GET /v1/{appId}/webhooks/deliveries`
#[utoipa::path(get, path = "/v1/{appId}/webhooks/deliveries", tag = "Webhooks",
    summary = "Webhook deliveries, newest event first", params(AppPath, DeliveryListQuery),
    responses((status = 200, description = "A page of deliveries", body = DeliveryList), Failures))]
pub(super) async fn list_deliveries(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let app = state.admit(&req)?;
    let service = service(&state)?;
    let mut problems = Problems::default();
    let (mut status, mut limit, mut after) = (None, 10, None);
    for (name, value) in query_pairs(req.query_string())? {
        match name.as_str() {
            "status" => match DeliveryStatus::parse(&value) {
                Some(s) => status = Some(s),
                None => problems.invalid("status", "must be pending, delivered or failed"),
            },
            "limit" => {
                limit = parse_limit(&mut problems, &value, MAX_DELIVERIES_LIMIT).unwrap_or(10)
            }
            "startingAfter" => after = Some(value),
            _ => {}
        }
    }
    problems.finish()?;
    let items = service
        .deliveries(&app, status, limit, after.as_deref())
        .await?;
    Ok(ok(&crate::dto::Data {
        data: items.iter().map(DeliveryView::from).collect(),
    }))
}

/// `POST /v1/{appId}/webhooks/deliveries/{eventId}/retry`
#[utoipa::path(post, path = "/v1/{appId}/webhooks/deliveries/{eventId}/retry", tag = "Webhooks",
    summary = "Schedule an event's failed deliveries again", params(EventPath),
    responses((status = 200, description = "Scheduled", body = Empty), Failures))]
pub(super) async fn retry_delivery(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let app = state.admit(&req)?;
    let service = service(&state)?;
    let id = req.match_info().query("eventId").to_owned();
    service.retry(&app, &id).await?;
    Ok(ok_empty())
}
