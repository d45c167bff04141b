//! Accounts and rooms for a run against this chat server, created once over the HTTP API and
//! saved to a JSON file that every scenario reads. (For the socket.io peer and the ceiling only
//! the user names matter.)

use std::path::Path;

use anyhow::{bail, Context, Result};
use futures_util::{stream, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// One user with a token.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Account {
    pub id: String,
    pub name: String,
    pub token: String,
}

/// A dm between `users[a]` and `users[b]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Dm {
    pub room: String,
    pub a: usize,
    pub b: usize,
}

/// Everything the scenarios need.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Setup {
    /// Members of the fan-out room; pairs of them (0-1, 2-3, ...) share a dm.
    pub users: Vec<Account>,
    /// Users in no room, for idle connections (no presence traffic).
    pub idle: Vec<Account>,
    /// The fan-out group, all of `users` in it (`users[0]` owns it).
    pub fan_room: String,
    pub dms: Vec<Dm>,
}

impl Setup {
    pub fn load(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
        Ok(serde_json::from_str(&text)?)
    }

    /// A setup for servers that need only names (socket.io, ceiling).
    pub fn names_only(users: usize, idle: usize) -> Self {
        let acct = |prefix: &str, i: usize| Account {
            id: format!("{prefix}{i}"),
            name: format!("{prefix}{i}"),
            token: String::new(),
        };
        Self {
            users: (0..users).map(|i| acct("u", i)).collect(),
            idle: (0..idle).map(|i| acct("idle", i)).collect(),
            fan_room: "fan".into(),
            dms: (0..users / 2)
                .map(|i| Dm {
                    room: format!("dm{i}"),
                    a: 2 * i,
                    b: 2 * i + 1,
                })
                .collect(),
        }
    }
}

/// Registers `users` + `idle` accounts (or logs in when they exist), makes the fan-out room with
/// every user in it and one dm per pair. Argon2 is slow on purpose, so at most `parallel`
/// requests run at once.
pub async fn create(
    base: &str,
    tag: &str,
    users: usize,
    idle: usize,
    parallel: usize,
) -> Result<Setup> {
    if !base.starts_with("http://127.") && !base.starts_with("http://localhost") {
        bail!("refusing a non-loopback server {base}");
    }
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(parallel)
        .build()?;
    let names: Vec<String> = (0..users)
        .map(|i| format!("b{tag}u{i}"))
        .chain((0..idle).map(|i| format!("b{tag}idle{i}")))
        .collect();
    let accounts: Vec<Account> = stream::iter(names)
        .map(|name| account(&http, base, name))
        .buffered(parallel.max(1))
        .try_collect()
        .await?;
    let (users_v, idle_v) = accounts.split_at(users);
    let (users_v, idle_v) = (users_v.to_vec(), idle_v.to_vec());

    let Some(owner) = users_v.first() else {
        bail!("at least one user is needed")
    };
    let members: Vec<&str> = users_v[1..].iter().map(|u| u.id.as_str()).collect();
    let room = post(
        &http,
        base,
        &owner.token,
        "/api/rooms",
        json!({ "name": format!("bench fan-out {tag}"), "members": members }),
    )
    .await?;
    let fan_room = room["room"]["id"].as_str().context("room id")?.to_owned();

    let pairs: Vec<(usize, usize)> = (0..users / 2).map(|i| (2 * i, 2 * i + 1)).collect();
    let dms: Vec<Dm> = stream::iter(pairs)
        .map(|(a, b)| {
            let (http, users_v) = (&http, &users_v);
            async move {
                let r = post(
                    http,
                    base,
                    &users_v[a].token,
                    "/api/dms",
                    json!({ "user": users_v[b].id }),
                )
                .await?;
                let room = r["room"]["id"].as_str().context("dm id")?.to_owned();
                Ok::<_, anyhow::Error>(Dm { room, a, b })
            }
        })
        .buffered(parallel.max(1) * 2)
        .try_collect()
        .await?;
    Ok(Setup {
        users: users_v,
        idle: idle_v,
        fan_room,
        dms,
    })
}

async fn account(http: &reqwest::Client, base: &str, name: String) -> Result<Account> {
    let creds = json!({ "username": name, "password": "bench password 1" });
    let res = http
        .post(format!("{base}/api/auth/register"))
        .json(&creds)
        .send()
        .await?;
    let res = if res.status() == reqwest::StatusCode::CONFLICT {
        http.post(format!("{base}/api/auth/login"))
            .json(&creds)
            .send()
            .await?
    } else {
        res
    };
    if !res.status().is_success() {
        bail!(
            "register/login {name}: {} {}",
            res.status(),
            res.text().await.unwrap_or_default()
        );
    }
    let v: Value = res.json().await?;
    Ok(Account {
        id: v["user"]["id"].as_str().context("user id")?.to_owned(),
        name,
        token: v["token"].as_str().context("token")?.to_owned(),
    })
}

async fn post(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    path: &str,
    body: Value,
) -> Result<Value> {
    let res = http
        .post(format!("{base}{path}"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await?;
    if !res.status().is_success() {
        bail!(
            "POST {path}: {} {}",
            res.status(),
            res.text().await.unwrap_or_default()
        );
    }
    Ok(res.json().await?)
}
