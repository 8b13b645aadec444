//! `GET|POST /{Model}/change-stream`: LoopBack's change stream as Server-Sent Events, each
//! change shown to a subscriber only as a read would show it.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use actix_web::web::{Bytes, Data};
use actix_web::{HttpRequest, HttpResponse};
use persisted_model_acl::Caller;
use serde_json::{Value, json};
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::RecvError;

use crate::access;
use crate::changes::{ChangeKind, FeedEvent, ModelChange};
use crate::error::{Error, Result};
use crate::filter::{Filter, Where, matches, parse_where};
use crate::model::{Instance, ModelHandle};
use crate::rest::{RemoteMethod, RestState};
use crate::store::Store;

/// How often an idle stream sends a comment, so that proxies keep the connection open.
pub const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(15);

/// What one subscriber asked for and may see.
pub(crate) struct Subscription {
    state: Data<RestState>,
    model: ModelHandle,
    request: HttpRequest,
    /// Who subscribed, as last checked: the stream ends when the token it came with is revoked
    /// or expires, or when the caller may no longer subscribe.
    caller: RefCell<Caller>,
    /// The model's row rule for this subscriber (its `access` hook), taken when the stream opens.
    row_rule: Option<Where>,
    /// `options.where`.
    where_: Option<Where>,
    /// `options.fields`.
    fields: Option<Vec<String>>,
    /// The read methods each event is authorized as: `findById`, and `find` for changes that
    /// name no instance.
    find_by_id: Option<RemoteMethod>,
    find: Option<RemoteMethod>,
    /// The method the subscription itself is authorized as, checked again when the caller's
    /// token or roles may have changed.
    subscribe: Option<RemoteMethod>,
    /// The caller was checked once the stream had subscribed.
    checked_once: std::cell::Cell<bool>,
}

/// Reads `options` (`{where, fields}`): the `options` query argument, or the body's `options`
/// (or the body itself) for POST.
pub(crate) fn options(
    state: &RestState,
    model: &crate::model::ModelDefinition,
    query: Option<Value>,
    body: &Value,
) -> Result<(Option<Where>, Option<Vec<String>>)> {
    let options = match (query, body) {
        (Some(q), _) => q,
        (None, Value::Object(b)) => b.get("options").cloned().unwrap_or_else(|| body.clone()),
        _ => Value::Null,
    };
    let Value::Object(options) = options else { return Ok((None, None)) };
    let where_ = match options.get("where") {
        None | Some(Value::Null) => None,
        Some(w) => parse_where(w, model, &state.limits)?,
    };
    let fields = match options.get("fields") {
        None | Some(Value::Null) => None,
        Some(f) => {
            let parsed = crate::filter::parse_filter(
                &json!({ "fields": f }),
                model,
                &*state.registry,
                &state.limits,
                crate::filter::FilterUse::FieldsAndInclude,
            )?;
            parsed.fields
        }
    };
    Ok((where_, fields))
}

/// What the stream's loop holds between two frames.
type Looping = (Rc<Subscription>, Receiver<FeedEvent>, tokio::time::Interval, crate::changes::ChangeFeed);

impl Subscription {
    /// A subscription; `options` are the `where` and `fields` read by [`options`].
    pub(crate) fn new(
        state: Data<RestState>,
        model: ModelHandle,
        request: HttpRequest,
        caller: Caller,
        row_rule: Option<Where>,
        options: (Option<Where>, Option<Vec<String>>),
    ) -> Self {
        let methods = model.remote_methods();
        let named = |name: &str| methods.iter().find(|m| m.name == name).cloned();
        let (find_by_id, find, subscribe) = (named("findById"), named("find"), named("createChangeStream"));
        let (where_, fields) = options;
        let caller = RefCell::new(caller);
        let checked_once = std::cell::Cell::new(false);
        Self { state, model, request, caller, row_rule, where_, fields, find_by_id, find, subscribe, checked_once }
    }

    /// The streaming response: an opening comment (so that clients see the stream open), one
    /// `event: data` per change the subscriber may see, keep-alive comments, and a last event
    /// when the subscriber falls too far behind, its token is revoked or expires, it may no
    /// longer subscribe, or the server shuts down.
    pub(crate) fn respond(self) -> HttpResponse {
        let feed = self.state.changes.clone();
        let receiver = feed.subscribe();
        let tick = tokio::time::interval_at(tokio::time::Instant::now() + self.state.keep_alive, self.state.keep_alive);
        let first = futures_util::stream::once(async { Ok::<_, Error>(Bytes::from_static(b": change stream\n\n")) });
        let state: Option<Looping> = Some((Rc::new(self), receiver, tick, feed));
        let events = futures_util::stream::unfold(state, |state| async move {
            let (sub, mut receiver, mut tick, feed) = state?;
            // Once subscribed, the caller is checked again: a logout between the request's
            // authentication and the subscription would otherwise go unheard.
            if !sub.checked_once.replace(true)
                && sub.caller.borrow().is_authenticated()
                && let Some(last) = sub.check_caller().await
            {
                return Some((Ok(last), None));
            }
            loop {
                let expiry = sub.expiry();
                tokio::select! {
                    received = receiver.recv() => match received {
                        Ok(FeedEvent::Change(change)) => {
                            if sub.may_change_the_caller(&change)
                                && let Some(last) = sub.check_caller().await
                            {
                                return Some((Ok(last), None));
                            }
                            if let Some(frame) = sub.frame(&change).await {
                                return Some((Ok(frame), Some((sub, receiver, tick, feed))));
                            }
                        }
                        Ok(FeedEvent::MayHaveMissed) => {
                            if let Some(last) = sub.check_caller().await {
                                return Some((Ok(last), None));
                            }
                        }
                        Err(RecvError::Lagged(missed)) => {
                            let message = format!("The subscriber fell {missed} changes behind; the stream is closed. Reconnect to resume.");
                            return Some((Ok(error_event(503, "SUBSCRIBER_TOO_SLOW", &message)), None));
                        }
                        Err(RecvError::Closed) => return Some((Ok(end()), None)),
                    },
                    _ = tick.tick() => {
                        // Now and then the caller is checked again, in case the change that
                        // revoked its token never came (the broker lost it).
                        if sub.caller.borrow().is_authenticated()
                            && let Some(last) = sub.check_caller().await
                        {
                            return Some((Ok(last), None));
                        }
                        return Some((Ok(Bytes::from_static(b": keep-alive\n\n")), Some((sub, receiver, tick, feed))));
                    }
                    () = sleep_until(expiry) => {
                        let last = match sub.check_caller().await {
                            Some(last) => last,
                            // Still valid by the authenticator, yet past its expiry: never loop.
                            None if sub.expiry().is_some_and(|t| t <= std::time::SystemTime::now()) => {
                                error_event(401, "INVALID_TOKEN", "The access token the stream was opened with has expired; the stream is closed.")
                            }
                            None => continue,
                        };
                        return Some((Ok(last), None));
                    }
                    () = feed.closed() => return Some((Ok(end()), None)),
                }
            }
        });
        use futures_util::StreamExt;
        HttpResponse::Ok()
            .content_type("text/event-stream")
            .insert_header(("Cache-Control", "no-cache"))
            // Compression would hold events back until a block fills; proxies must not buffer.
            .insert_header(("Content-Encoding", "identity"))
            .insert_header(("X-Accel-Buffering", "no"))
            .streaming(first.chain(events))
    }

    /// When the caller's token expires, if it does.
    fn expiry(&self) -> Option<std::time::SystemTime> {
        self.caller.borrow().expires_at
    }

    /// Whether `change` may revoke the caller's token or a role it holds: a change, other than
    /// a create, of a model whose changes every process must acknowledge (tokens, roles,
    /// role mappings).
    fn may_change_the_caller(&self, change: &ModelChange) -> bool {
        let caller = self.caller.borrow();
        caller.is_authenticated()
            && crate::changes::revokes(change)
            && self.state.registry.get(&change.model).is_some_and(|m| m.definition().settings.confirm_changes)
            && self.state.authenticator.as_ref().is_some_and(|a| a.affects(change, &self.request, &caller))
    }

    /// Authenticates the subscription's request again and checks that the caller may still
    /// subscribe: `None` when it may (the stream goes on as the caller is now), else the last
    /// event (401 for a token revoked or expired, 401/403 for a caller no longer allowed).
    async fn check_caller(&self) -> Option<Bytes> {
        let state: &RestState = &self.state;
        let was = self.caller.borrow().clone();
        let now = match &state.authenticator {
            Some(auth) => auth.authenticate(&self.request, state).await,
            None => return None,
        };
        let now = match now {
            Ok(now) if now.principals == was.principals => now,
            Ok(_) => {
                let message = "The access token the stream was opened with is no longer valid; the stream is closed.";
                return Some(error_event(401, "INVALID_TOKEN", message));
            }
            Err(e) => return Some(failure_event(&e)),
        };
        let def = self.model.definition();
        if let Some(method) = &self.subscribe
            && let Err(e) = access::authorize(state, &now, def, method, None).await
        {
            return Some(failure_event(&e));
        }
        *self.caller.borrow_mut() = now;
        None
    }

    /// The frame for `change`, or `None` when this subscriber may not see it or did not ask.
    async fn frame(&self, change: &ModelChange) -> Option<Bytes> {
        let def = self.model.definition();
        if !change.is_for(def) {
            return None;
        }
        let state: &RestState = &self.state;
        let mut data = change.data.clone();
        if change.reload {
            // The broker could not carry the data: read the instance as it is now (a remove's
            // rows and an updateAll's data cannot be read again).
            let id = change.target.as_ref()?;
            if change.kind != ChangeKind::Remove && !change.partial {
                data = crate::store::find_rows_by_id(&state.pool(), def, id).await.ok()?;
                data.as_ref()?;
            }
        }
        // Reading the instance (or, without an id, finding) must be allowed, as for a read.
        let read = if change.target.is_some() { &self.find_by_id } else { &self.find };
        let caller = self.caller.borrow().clone();
        if let Err(e) = access::authorize(state, &caller, def, read.as_ref()?, change.target.as_ref()).await {
            if e.status().is_server_error() {
                tracing::warn!(target: "persisted_model::changes", error = %e, "a change was not sent: the check failed");
            }
            return None;
        }
        // The rows the change is about, when known: the instance saved, or the rows removed.
        let rows: Option<Vec<&Instance>> = match change.kind {
            ChangeKind::Remove => change.removed.as_ref().map(|r| r.iter().collect()),
            _ if change.partial => None,
            _ => data.as_ref().map(|d| vec![d]),
        };
        if let Some(rule) = &self.row_rule {
            // Rows this subscriber cannot read, or cannot know, are not shown.
            let rows = rows.as_ref()?;
            if rows.is_empty() || !rows.iter().all(|r| matches(rule, def, r)) {
                return None;
            }
        }
        if let Some(where_) = &self.where_ {
            // As LoopBack: the where applies to the event's data (an updateAll's is partial);
            // a remove is matched by the rows it removed.
            let subject: Vec<&Instance> = match change.kind {
                ChangeKind::Remove => rows.clone().unwrap_or_default(),
                _ => data.iter().collect(),
            };
            if subject.is_empty() || !subject.iter().any(|r| matches(where_, def, r)) {
                return None;
            }
        }
        let shown = match data {
            Some(d) if change.kind != ChangeKind::Remove => Some(self.present(d, change.partial).await?),
            _ => None,
        };
        let event = change.event(shown);
        Some(Bytes::from(format!("event: data\ndata: {event}\n\n")))
    }

    /// The instance as a read by this subscriber shows it: the `loaded` hook, hidden
    /// properties and `fields`.
    async fn present(&self, data: Instance, partial: bool) -> Option<Instance> {
        if partial {
            let def = self.model.definition();
            let fields = self.fields.as_ref();
            return Some(
                data.into_iter()
                    .filter(|(k, _)| def.property(k).is_some_and(|p| !p.hidden) && fields.is_none_or(|f| f.contains(k)))
                    .collect(),
            );
        }
        let store = Store::new(&self.state, self.state.pool(), &self.model, "createChangeStream", Some(&self.request));
        let filter = Filter { fields: self.fields.clone(), ..Filter::default() };
        store.present(data, &filter).await.ok()
    }
}

fn end() -> Bytes {
    Bytes::from_static(b"event: end\ndata: null\n\n")
}

/// The event that ends a stream on an error: LoopBack's error shape, with the status.
fn error_event(status: u16, code: &str, message: &str) -> Bytes {
    let body = json!({ "name": "Error", "status": status, "statusCode": status, "code": code, "message": message });
    Bytes::from(format!("event: error\ndata: {body}\n\n"))
}

/// The event that ends a stream on `error`, as a response would have rendered it.
fn failure_event(error: &Error) -> Bytes {
    let mut body = error.to_json();
    if let Some(map) = body.as_object_mut() {
        map.insert("status".into(), Value::from(error.status().as_u16()));
    }
    Bytes::from(format!("event: error\ndata: {body}\n\n"))
}

/// Resolves at `at` (never without one).
async fn sleep_until(at: Option<std::time::SystemTime>) {
    match at {
        Some(at) => {
            let left = at.duration_since(std::time::SystemTime::now()).unwrap_or_default();
            tokio::time::sleep(left).await;
        }
        None => std::future::pending().await,
    }
}
