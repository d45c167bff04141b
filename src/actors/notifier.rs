//! The Notifier: pushes to people who are away. A Room tells it, for each new message, which
//! members have no live session there (never the sender); it gathers each conversation's
//! messages for `push.coalesce_ms` and then sends each of those members one push carrying the
//! count, to every device they registered (Web Push, FCM), as their push settings allow: push
//! off or the conversation muted means none, preview off means a generic text, and a message
//! they have read meanwhile on another device means none.
//!
//! Delivery runs in spawned tasks (reqwest, timeouts, back-off honouring `Retry-After`), never in
//! the actor's handlers; at most `push.concurrency` requests are in flight. A subscription the
//! service reports gone is deleted. With an SMS gateway configured, recipients of one-to-one
//! messages who opted in get a text when a message is still unread `push.sms.fallback_after_secs`
//! later (only at a number they verified), users can invite a phone number, and verification
//! codes are texted. Every text counts against daily caps per user and per number kept in shared
//! storage (`Store::count_today`: Redis, else SQL), so several nodes count together; what others
//! wrote (names, messages) goes into a text on one line and cut short (`sms::one_line`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use entities::push_subscription;
use tokio::sync::Semaphore;

use crate::config::Settings;
use crate::error::ChatError;
use crate::ids::{MessageId, RoomId, UserId};
use crate::metrics::{self, ChannelCounters};
use crate::push::fcm::FcmClient;
use crate::push::sms::{masked, one_line, SmsGateway};
use crate::push::webpush::{VapidKeys, WebPushClient, WebPushTarget};
use crate::push::{
    try_http_client, webpush_http_client, with_retries, Notification, Outcome, PushError,
    RetryPolicy,
};
use crate::store::push::{PushKind, PushPrefs};
use crate::store::Store;

/// Longest message text shown in a push, in characters.
const PREVIEW_CHARS: usize = 200;
/// Longest message text in a fallback text, in characters.
const SMS_BODY_CHARS: usize = 120;
/// Longest sender name in a text, in characters.
const SMS_NAME_CHARS: usize = 40;
/// Messages queued for the Notifier before Rooms drop pushes rather than wait.
pub const MAILBOX: usize = 4096;

/// A message was committed in `room`; `users` are the members with no live session there.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct NotifyAway {
    pub room: RoomId,
    /// A one-to-one room (titles name the sender; the SMS fallback applies).
    pub dm: bool,
    pub message: MessageId,
    pub seq: i64,
    pub from: UserId,
    pub body: String,
    pub ts: i64,
    pub users: Vec<UserId>,
    /// Members the message mentions (pushed to even in a muted conversation, unless they turned
    /// mention pushes off).
    pub mentions: Vec<UserId>,
}

/// Text an invitation to `phone` (E.164) from `from`; refused when SMS is off (`Unavailable`) or
/// a daily cap is reached (`RateLimited`).
#[derive(Message, Debug)]
#[rtype(result = "Result<(), ChatError>")]
pub struct SendInvite {
    pub from: UserId,
    pub from_name: String,
    pub phone: String,
}

/// Text `text` (a verification code) to `phone` (E.164) for `user`; refused like [`SendInvite`].
#[derive(Message, Debug)]
#[rtype(result = "Result<(), ChatError>")]
pub struct SendCode {
    pub user: UserId,
    pub phone: String,
    pub text: String,
}

/// The daily caps on texts (`push.sms.*_per_day`).
#[derive(Clone, Copy, Debug)]
struct SmsCaps {
    invites_per_user: u32,
    per_user: u32,
    per_number: u32,
}

/// The last message of a burst.
#[derive(Debug)]
struct Latest {
    message: MessageId,
    seq: i64,
    from: UserId,
    body: String,
    ts: i64,
}

/// One conversation's messages within a window: per away member, how many and the last one.
#[derive(Default)]
struct Burst {
    dm: bool,
    users: HashMap<UserId, (u32, Arc<Latest>)>,
    /// Per member, the first seq of the window (the SMS fallback checks it is still unread).
    first_seq: HashMap<UserId, i64>,
    /// Members mentioned by a message of the window.
    mentioned: std::collections::HashSet<UserId>,
}

impl Burst {
    fn add(&mut self, user: UserId, latest: &Arc<Latest>) {
        self.first_seq.entry(user.clone()).or_insert(latest.seq);
        let e = self.users.entry(user).or_insert((0, latest.clone()));
        e.0 += 1;
        e.1 = latest.clone();
    }
}

/// What is done when a conversation's window closes.
#[derive(Clone, Copy, Debug)]
enum Due {
    /// Push the burst (after `push.coalesce_ms`).
    Push,
    /// Text what is still unread (after `push.sms.fallback_after_secs`).
    SmsFallback,
}

/// The push services, shared by the delivery tasks.
struct Channels {
    webpush: WebPushClient,
    fcm: Option<FcmClient>,
    sms: Option<SmsGateway>,
    sms_caps: SmsCaps,
    retry: RetryPolicy,
    permits: Semaphore,
}

/// See the module doc.
pub struct Notifier {
    store: Store,
    channels: Arc<Channels>,
    coalesce: Duration,
    sms_after: Duration,
    bursts: HashMap<RoomId, Burst>,
    sms_waits: HashMap<RoomId, Burst>,
    invite_text: String,
    invite_url: String,
}

impl Notifier {
    /// Sets up the clients (reading the FCM key file if one is configured).
    pub fn new(store: Store, settings: &Settings, vapid: VapidKeys) -> Result<Self, PushError> {
        let push = &settings.push;
        let http = try_http_client(push)?;
        let fcm = match push.fcm.service_account_file.trim() {
            "" => None,
            file => Some(FcmClient::from_file(
                std::path::Path::new(file),
                &push.fcm.base_url,
                push.ttl_secs,
                http.clone(),
            )?),
        };
        let channels = Channels {
            webpush: WebPushClient::new(webpush_http_client(push)?, vapid, push),
            fcm,
            sms: SmsGateway::new(&push.sms, http),
            sms_caps: SmsCaps {
                invites_per_user: push.sms.invites_per_day,
                per_user: push.sms.texts_per_user_per_day,
                per_number: push.sms.texts_per_number_per_day,
            },
            retry: RetryPolicy::from_settings(push),
            permits: Semaphore::new(push.concurrency.max(1)),
        };
        Ok(Self {
            store,
            channels: Arc::new(channels),
            coalesce: Duration::from_millis(push.coalesce_ms.max(1)),
            sms_after: Duration::from_secs(push.sms.fallback_after_secs),
            bursts: HashMap::new(),
            sms_waits: HashMap::new(),
            invite_text: push.sms.invite_text.clone(),
            invite_url: push.sms.invite_url.clone(),
        })
    }

    fn waiting(&mut self, due: Due) -> &mut HashMap<RoomId, Burst> {
        match due {
            Due::Push => &mut self.bursts,
            Due::SmsFallback => &mut self.sms_waits,
        }
    }

    /// Adds `msg` to its conversation's open window of kind `due`, opening one if there is none.
    fn add_to_window(
        &mut self,
        due: Due,
        msg: &NotifyAway,
        latest: &Arc<Latest>,
        ctx: &mut Context<Self>,
    ) {
        let after = match due {
            Due::Push => self.coalesce,
            Due::SmsFallback => self.sms_after,
        };
        let burst = self
            .waiting(due)
            .entry(msg.room.clone())
            .or_insert_with(|| {
                let room = msg.room.clone();
                ctx.run_later(after, move |act, _| act.window_closed(room, due));
                Burst {
                    dm: msg.dm,
                    ..Burst::default()
                }
            });
        for user in &msg.users {
            burst.add(user.clone(), latest);
            if msg.mentions.contains(user) {
                burst.mentioned.insert(user.clone());
            }
        }
    }

    fn window_closed(&mut self, room: RoomId, due: Due) {
        let Some(burst) = self.waiting(due).remove(&room) else {
            return;
        };
        let (store, channels) = (self.store.clone(), self.channels.clone());
        actix::spawn(async move {
            let done = match due {
                Due::Push => push_burst(&store, &channels, &room, burst).await,
                Due::SmsFallback => text_unread(&store, &channels, &room, burst).await,
            };
            if let Err(e) = done {
                tracing::warn!(room = %room, ?due, error = %e, "notifications not sent: store unavailable");
            }
        });
    }
}

impl Actor for Notifier {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(MAILBOX);
    }
}

impl Handler<NotifyAway> for Notifier {
    type Result = ();

    fn handle(&mut self, msg: NotifyAway, ctx: &mut Context<Self>) {
        let latest = Arc::new(Latest {
            message: msg.message.clone(),
            seq: msg.seq,
            from: msg.from.clone(),
            body: msg.body.clone(),
            ts: msg.ts,
        });
        self.add_to_window(Due::Push, &msg, &latest, ctx);
        if msg.dm && self.channels.sms.is_some() {
            self.add_to_window(Due::SmsFallback, &msg, &latest, ctx);
        }
    }
}

impl Handler<SendInvite> for Notifier {
    type Result = ResponseFuture<Result<(), ChatError>>;

    fn handle(&mut self, msg: SendInvite, _ctx: &mut Context<Self>) -> Self::Result {
        let text = self
            .invite_text
            .replace("{name}", &one_line(&msg.from_name, SMS_NAME_CHARS))
            .replace("{url}", &self.invite_url);
        let caps = self.channels.sms_caps;
        let counters = vec![
            (format!("sms:invite:{}", msg.from), caps.invites_per_user),
            (format!("sms:user:{}", msg.from), caps.per_user),
            (format!("sms:to:{}", msg.phone), caps.per_number),
        ];
        let what = "texting an invitation";
        Box::pin(text_capped(
            self.store.clone(),
            self.channels.clone(),
            counters,
            msg.from,
            msg.phone,
            text,
            what,
        ))
    }
}

impl Handler<SendCode> for Notifier {
    type Result = ResponseFuture<Result<(), ChatError>>;

    fn handle(&mut self, msg: SendCode, _ctx: &mut Context<Self>) -> Self::Result {
        let caps = self.channels.sms_caps;
        let counters = vec![
            (format!("sms:user:{}", msg.user), caps.per_user),
            (format!("sms:to:{}", msg.phone), caps.per_number),
        ];
        let what = "texting a verification code";
        Box::pin(text_capped(
            self.store.clone(),
            self.channels.clone(),
            counters,
            msg.user,
            msg.phone,
            msg.text,
            what,
        ))
    }
}

/// Counts one text against each of `counters` (today's counter name, cap) and, within every
/// cap, sends it in the background. `Unavailable` without a gateway, `RateLimited` beyond a cap.
async fn text_capped(
    store: Store,
    channels: Arc<Channels>,
    counters: Vec<(String, u32)>,
    user: UserId,
    phone: String,
    text: String,
    what: &'static str,
) -> Result<(), ChatError> {
    if channels.sms.is_none() {
        return Err(ChatError::Unavailable(
            "SMS is not configured on this server".into(),
        ));
    }
    if !store.within_daily_caps(&counters).await? {
        tracing::info!(user = %user, to = %masked(&phone), what, "daily text cap reached");
        return Err(ChatError::RateLimited);
    }
    actix::spawn(async move {
        tracing::info!(user = %user, to = %masked(&phone), what);
        send_sms(&channels, &phone, &text).await;
    });
    Ok(())
}

/// Sends one burst's pushes: looks up who still wants one, renders it for each, and delivers to
/// each of their devices.
async fn push_burst(
    store: &Store,
    channels: &Channels,
    room: &RoomId,
    burst: Burst,
) -> Result<(), crate::store::StoreError> {
    let users: Vec<UserId> = burst.users.keys().cloned().collect();
    let wanted: Vec<(UserId, PushPrefs)> = store
        .push_prefs_many(room, &users)
        .await?
        .into_iter()
        .filter(|(user, prefs, read)| {
            prefs.enabled
                && (!prefs.muted || (prefs.mention_pushes && burst.mentioned.contains(user)))
                && burst
                    .users
                    .get(user)
                    .is_some_and(|(_, last)| *read < last.seq)
        })
        .map(|(user, prefs, _)| (user, prefs))
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let ids: Vec<UserId> = wanted.iter().map(|(u, _)| u.clone()).collect();
    let mut subs: HashMap<String, Vec<push_subscription::Model>> = HashMap::new();
    for s in store.subscriptions_of_users(&ids).await? {
        subs.entry(s.user_id.clone()).or_default().push(s);
    }
    let group_name = if burst.dm {
        None
    } else {
        store.room_name(room).await?
    };
    let mut names: HashMap<UserId, String> = HashMap::new();
    let mut deliveries = Vec::new();
    for (user, prefs) in wanted {
        let (Some(devices), Some((count, last))) = (subs.remove(&user.0), burst.users.get(&user))
        else {
            continue;
        };
        if !names.contains_key(&last.from) {
            let name = store
                .user_by_id(&last.from)
                .await?
                .map(|u| u.display_name)
                .unwrap_or_default();
            names.insert(last.from.clone(), name);
        }
        let sender = names
            .get(&last.from)
            .map(String::as_str)
            .unwrap_or_default();
        let n = Arc::new(render(
            room,
            group_name.as_deref(),
            sender,
            last,
            *count,
            prefs.preview,
        ));
        for device in devices {
            deliveries.push(deliver(store, channels, device, n.clone()));
        }
    }
    futures_util::future::join_all(deliveries).await;
    Ok(())
}

/// The notification `user` sees for `count` messages ending with `last`.
fn render(
    room: &RoomId,
    group: Option<&str>,
    sender: &str,
    last: &Latest,
    count: u32,
    preview: bool,
) -> Notification {
    let (title, body) = if preview {
        let text = truncate(&last.body, PREVIEW_CHARS);
        let base = group
            .map(str::to_owned)
            .unwrap_or_else(|| sender.to_owned());
        let body = if group.is_some() {
            format!("{sender}: {text}")
        } else {
            text
        };
        let title = if count > 1 {
            format!("{base} ({count} new messages)")
        } else {
            base
        };
        (title, body)
    } else if count > 1 {
        (
            format!("{count} new messages"),
            format!("You have {count} new messages"),
        )
    } else {
        (
            "New message".to_owned(),
            "You have a new message".to_owned(),
        )
    };
    Notification {
        title,
        body,
        room: room.clone(),
        message: last.message.clone(),
        seq: last.seq,
        count,
        ts: last.ts,
    }
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

/// Delivers `n` to one device with retries, and settles the outcome: counted, and the
/// subscription deleted if the service says it is gone.
async fn deliver(
    store: &Store,
    channels: &Channels,
    device: push_subscription::Model,
    n: Arc<Notification>,
) {
    let (counters, outcome) = match device.kind {
        PushKind::WebPush => {
            let target = WebPushTarget {
                endpoint: device.endpoint.clone(),
                p256dh: device.p256dh.clone().unwrap_or_default(),
                auth: device.auth.clone().unwrap_or_default(),
            };
            let payload = n.to_json();
            // The room id is the topic, so a service holding an undelivered push replaces it.
            let topic = Some(n.room.as_str()).filter(|t| {
                t.len() <= 32
                    && t.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            });
            let outcome = with_retries(&channels.retry, "webpush", || async {
                let _permit = channels.permits.acquire().await;
                channels.webpush.send(&target, &payload, topic).await
            })
            .await;
            (&metrics::PUSH_WEBPUSH, outcome)
        }
        PushKind::Fcm => {
            let Some(fcm) = &channels.fcm else {
                tracing::debug!(subscription = %device.id, "FCM token kept, but FCM is not configured");
                return;
            };
            let outcome = with_retries(&channels.retry, "fcm", || async {
                let _permit = channels.permits.acquire().await;
                fcm.send(&device.endpoint, &n).await
            })
            .await;
            (&metrics::PUSH_FCM, outcome)
        }
    };
    settle(counters, &outcome, device.kind.as_str());
    if outcome == Outcome::Gone {
        tracing::info!(user = %device.user_id, subscription = %device.id, kind = %device.kind, "push service says the subscription is gone; deleting it");
        if let Err(e) = store.prune_subscription(&device.id).await {
            tracing::warn!(subscription = %device.id, error = %e, "could not delete a gone subscription");
        }
    }
}

/// Counts an outcome and logs a failure.
fn settle(counters: &ChannelCounters, outcome: &Outcome, channel: &str) {
    match outcome {
        Outcome::Delivered => metrics::inc(&counters.sent),
        Outcome::Gone => metrics::inc(&counters.pruned),
        Outcome::Failed(reason) | Outcome::Retry { reason, .. } => {
            metrics::inc(&counters.failed);
            tracing::warn!(channel, %reason, "push not delivered");
        }
    }
}

async fn send_sms(channels: &Channels, to: &str, text: &str) {
    let Some(sms) = &channels.sms else { return };
    let outcome = with_retries(&channels.retry, "sms", || async {
        let _permit = channels.permits.acquire().await;
        sms.send(to, text).await
    })
    .await;
    settle(&metrics::PUSH_SMS, &outcome, "sms");
}

/// The SMS fallback: texts recipients who opted in, at a number they verified, and have not read
/// the first message of the window by now, within the daily caps.
async fn text_unread(
    store: &Store,
    channels: &Channels,
    room: &RoomId,
    burst: Burst,
) -> Result<(), crate::store::StoreError> {
    let users: Vec<UserId> = burst.users.keys().cloned().collect();
    for (user, prefs, read) in store.push_prefs_many(room, &users).await? {
        let (Some(phone), Some(first), Some((count, last))) = (
            prefs.sms_phone.as_deref(),
            burst.first_seq.get(&user),
            burst.users.get(&user),
        ) else {
            continue;
        };
        if !prefs.sms_fallback || prefs.muted || read >= *first {
            continue;
        }
        let text = if prefs.preview {
            let sender = store
                .user_by_id(&last.from)
                .await?
                .map(|u| u.display_name)
                .unwrap_or_default();
            let more = if *count > 1 {
                format!(" (+{} more)", count - 1)
            } else {
                String::new()
            };
            format!(
                "{}: {}{more}",
                one_line(&sender, SMS_NAME_CHARS),
                one_line(&last.body, SMS_BODY_CHARS)
            )
        } else {
            "You have unread messages".to_owned()
        };
        let caps = channels.sms_caps;
        let counters = [
            (format!("sms:user:{user}"), caps.per_user),
            (format!("sms:to:{phone}"), caps.per_number),
        ];
        if !store.within_daily_caps(&counters).await? {
            tracing::info!(user = %user, to = %masked(phone), "daily text cap reached; unread message not texted");
            continue;
        }
        tracing::info!(user = %user, to = %masked(phone), "texting an unread one-to-one message");
        send_sms(channels, phone, &text).await;
    }
    Ok(())
}
