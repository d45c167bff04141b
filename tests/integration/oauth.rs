//! Sign-in with Facebook and Twitter/X through stand-in providers on loopback
//! (`support::oauth_provider`), driven the way a browser does it: follow each redirect by hand,
//! carry the cookie the chat server sets, and read where it lands (`/#oauth_token=…`).

use std::collections::HashMap;

use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{json, Value};

use crate::support::app::{spawn_app_with, TestApp, TestUser};
use crate::support::oauth_provider::{Account, Kind, OAuthProvider};

/// A browser: no automatic redirects, one cookie jar entry for the chat server's `chat_oauth`.
struct Browser {
    client: reqwest::Client,
    app: String,
    cookie: Option<String>,
}

/// Where a sign-in ended in the web client: the fragment of `/#…`.
#[derive(Debug, PartialEq, Eq)]
enum Landing {
    Token(String),
    Linked(String),
    Error(String),
}

impl Browser {
    fn new(app: &TestApp) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            client,
            app: app.http.clone(),
            cookie: None,
        }
    }

    /// GET `url` (absolute, or a path on the chat server), sending and keeping the chat server's
    /// cookie.
    async fn get(&mut self, url: &str) -> reqwest::Response {
        let url = if url.starts_with('/') {
            format!("{}{url}", self.app)
        } else {
            url.to_owned()
        };
        let mut req = self.client.get(&url);
        if url.starts_with(&self.app) {
            if let Some(c) = &self.cookie {
                req = req.header("Cookie", format!("chat_oauth={c}"));
            }
        }
        let r = req.send().await.unwrap();
        self.keep_cookie(&r);
        r
    }

    fn keep_cookie(&mut self, r: &reqwest::Response) {
        for v in r.headers().get_all("set-cookie") {
            let v = v.to_str().unwrap();
            if let Some(rest) = v.strip_prefix("chat_oauth=") {
                assert!(
                    v.contains("HttpOnly") && v.contains("SameSite=Lax"),
                    "cookie flags: {v}"
                );
                self.cookie = Some(rest.split(';').next().unwrap().to_owned());
            }
        }
    }

    /// Follows `start` (a chat server URL that redirects to the provider, or the provider's URL
    /// itself) through the provider's consent; returns the callback URL it sends the browser
    /// back to, not yet visited.
    async fn authorize(&mut self, start: &str) -> String {
        let mut url = start.to_owned();
        if url.starts_with('/') || url.starts_with(&self.app) {
            let r = self.get(&url).await;
            assert_eq!(r.status(), 302, "start: {}", r.text().await.unwrap());
            url = location(&r);
        }
        let r = self.get(&url).await;
        assert_eq!(
            r.status(),
            302,
            "the provider refused the authorization: {}",
            r.text().await.unwrap()
        );
        let back = location(&r);
        assert!(back.starts_with(&self.app), "sent back to {back}");
        back
    }

    /// Visits the callback and reads where the chat server lands the browser.
    async fn land(&mut self, callback: &str) -> Landing {
        let r = self.get(callback).await;
        assert_eq!(r.status(), 302);
        landing(&location(&r))
    }

    /// The whole sign-in from the start URL.
    async fn sign_in(&mut self, provider: &str) -> Landing {
        let back = self
            .authorize(&format!("/api/auth/oauth/{provider}/start"))
            .await;
        self.land(&back).await
    }
}

fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned()
}

fn landing(location: &str) -> Landing {
    let frag = location
        .strip_prefix("/#")
        .unwrap_or_else(|| panic!("not a web client landing: {location}"));
    let url = oauth2::url::Url::parse(&format!("http://x/?{frag}")).unwrap();
    let (k, v) = url.query_pairs().next().unwrap();
    match k.as_ref() {
        "oauth_token" => Landing::Token(v.into_owned()),
        "oauth_linked" => Landing::Linked(v.into_owned()),
        "oauth_error" => Landing::Error(v.into_owned()),
        other => panic!("unknown landing {other}"),
    }
}

fn token_of(l: Landing) -> String {
    match l {
        Landing::Token(t) => t,
        other => panic!("not signed in: {other:?}"),
    }
}

fn error_of(l: Landing) -> String {
    match l {
        Landing::Error(e) => e,
        other => panic!("expected an error, got {other:?}"),
    }
}

/// Replaces one query parameter of `url`.
fn with_param(url: &str, name: &str, value: &str) -> String {
    let mut u = oauth2::url::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = u
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == name {
                value.to_owned()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    u.query_pairs_mut().clear().extend_pairs(pairs);
    u.to_string()
}

fn param(url: &str, name: &str) -> String {
    let u = oauth2::url::Url::parse(url).unwrap();
    let q: HashMap<_, _> = u.query_pairs().into_owned().collect();
    q.get(name).cloned().unwrap_or_default()
}

/// The server with the given stand-in providers configured and registered.
async fn app_with(providers: &[&OAuthProvider]) -> TestApp {
    let app = spawn_app_with(|s| providers.iter().for_each(|p| p.configure(s))).await;
    for p in providers {
        p.register(&app.http);
    }
    app
}

/// A user from a token (as the web client holds it after landing).
async fn user_with_token(app: &TestApp, token: &str) -> (TestUser, Value) {
    let r = app
        .client
        .get(format!("{}/api/me", app.http))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let me: Value = r.json().await.unwrap();
    let user = TestUser {
        id: me["user"]["id"].as_str().unwrap().to_owned(),
        username: me["user"]["username"].as_str().unwrap().to_owned(),
        token: token.to_owned(),
        http: app.http.clone(),
        ws: app.ws_url(),
        client: app.client.clone(),
    };
    (user, me["user"].clone())
}

async fn user_count(app: &TestApp) -> u64 {
    entities::user::Entity::find()
        .count(&app.state.store.db)
        .await
        .unwrap()
}

async fn links(user: &TestUser) -> Value {
    let r = user.get("/api/auth/oauth/links").await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

#[actix_web::test]
async fn oauth_providers_lists_only_configured_ones() {
    let none = spawn_app_with(|_| {}).await;
    let r: Value = none
        .client
        .get(format!("{}/api/auth/oauth/providers", none.http))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r, json!({"providers": []}));
    // An unconfigured provider is not offered: the browser lands on an error, an API caller gets 404.
    let mut browser = Browser::new(&none);
    let r = browser.get("/api/auth/oauth/facebook/start").await;
    assert!(error_of(landing(&location(&r))).contains("provider not found"));
    let r = none
        .client
        .get(format!("{}/api/auth/oauth/twitter/start", none.http))
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "not_found"
    );
    none.quiesce().await;

    let fb = OAuthProvider::start(Kind::Facebook);
    let app = app_with(&[&fb]).await;
    let r: Value = app
        .client
        .get(format!("{}/api/auth/oauth/providers", app.http))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        r,
        json!({"providers": [{"name": "facebook", "start_url": "/api/auth/oauth/facebook/start"}]})
    );
    app.quiesce().await;
}

#[actix_web::test]
async fn oauth_sign_up_through_facebook_then_sign_in_again_to_the_same_account() {
    let fb = OAuthProvider::start(Kind::Facebook);
    let app = app_with(&[&fb]).await;
    let ann = Account::new("1001", "Ann Lee", None);
    fb.sign_in_as(&ann);

    // The start redirects to the provider with the app's client id, state and redirect URI.
    let mut browser = Browser::new(&app);
    let r = browser.get("/api/auth/oauth/facebook/start").await;
    assert_eq!(r.status(), 302);
    let authorize = location(&r);
    assert!(authorize.starts_with(&format!("{}/authorize", fb.base)));
    assert_eq!(param(&authorize, "client_id"), fb.client_id);
    assert_eq!(
        param(&authorize, "redirect_uri"),
        format!("{}/api/auth/oauth/facebook/callback", app.http)
    );
    assert!(!param(&authorize, "state").is_empty());
    let back = browser.authorize(&authorize).await;
    let token = token_of(browser.land(&back).await);

    // Signed in to a new account named after the Facebook profile, with no password.
    let (user, me) = user_with_token(&app, &token).await;
    assert_eq!(me["display_name"], "Ann Lee");
    assert_eq!(me["username"], "ann.lee");
    let l = links(&user).await;
    assert_eq!(l["has_password"], false);
    assert_eq!(l["links"].as_array().unwrap().len(), 1);
    assert_eq!(l["links"][0]["provider"], "facebook");
    assert_eq!(l["links"][0]["name"], "Ann Lee");
    assert_eq!(l["links"][0]["avatar_url"], "https://pics.example/1001.jpg");
    let r = app
        .client
        .post(format!("{}/api/auth/login", app.http))
        .json(&json!({"username": "ann.lee", "password": ""}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        401,
        "an account made by a provider sign-in has no password"
    );
    // The token is a real session: the WebSocket accepts it.
    let ws = user.connect().await;
    assert_eq!(ws.hello["user"]["id"], json!(user.id));
    ws.close().await;

    // Another browser, same Facebook account: the same chat account, a new token. Asking for
    // JSON gets {token, user} like a password login.
    let mut other = Browser::new(&app);
    let back = other.authorize("/api/auth/oauth/facebook/start").await;
    let mut req = other.client.get(&back).header("Accept", "application/json");
    req = req.header(
        "Cookie",
        format!("chat_oauth={}", other.cookie.clone().unwrap()),
    );
    let r = req.send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["user"]["id"], json!(user.id));
    assert_ne!(body["token"], json!(token));
    assert_eq!(user_count(&app).await, 1);

    // Someone else with the same name gets a username of their own, and can change it later.
    fb.sign_in_as(&Account::new("1002", "Ann Lee", None));
    let token2 = token_of(Browser::new(&app).sign_in("facebook").await);
    let (second, me2) = user_with_token(&app, &token2).await;
    assert_ne!(second.id, user.id);
    let name2 = me2["username"].as_str().unwrap();
    assert!(
        name2.starts_with("ann.lee") && name2 != "ann.lee",
        "{name2}"
    );
    let r = second
        .client
        .patch(format!("{}/api/me", app.http))
        .bearer_auth(&token2)
        .json(&json!({"username": "Annie_L"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap()["user"]["username"],
        "annie_l"
    );
    let r = second
        .client
        .patch(format!("{}/api/me", app.http))
        .bearer_auth(&token2)
        .json(&json!({"username": "ann.lee"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409, "taken by the first Ann");
    app.quiesce().await;
}

#[actix_web::test]
async fn oauth_twitter_sign_in_uses_pkce_and_the_handle() {
    let tw = OAuthProvider::start(Kind::Twitter);
    let app = app_with(&[&tw]).await;
    tw.sign_in_as(&Account::new("7788", "Bo Brown", Some("BoBrown_")));
    let mut browser = Browser::new(&app);
    let r = browser.get("/api/auth/oauth/twitter/start").await;
    let authorize = location(&r);
    assert_eq!(param(&authorize, "code_challenge_method"), "S256");
    let back = browser.authorize(&authorize).await;
    let token = token_of(browser.land(&back).await);
    let (user, me) = user_with_token(&app, &token).await;
    assert_eq!(me["username"], "bobrown_");
    assert_eq!(me["display_name"], "Bo Brown");
    let l = links(&user).await;
    assert_eq!(l["links"][0]["provider"], "twitter");
    assert_eq!(l["links"][0]["username"], "BoBrown_");
    assert!(
        tw.refusals().is_empty(),
        "the provider refused: {:?}",
        tw.refusals()
    );
    app.quiesce().await;
}

#[actix_web::test]
async fn oauth_link_to_an_existing_account_then_sign_in_with_it() {
    let fb = OAuthProvider::start(Kind::Facebook);
    let app = app_with(&[&fb]).await;
    let carol = app.register("carol").await;
    fb.sign_in_as(&Account::new("2001", "Carol Facebook", None));

    // The web client asks for a link URL (its fetch keeps the cookie) and navigates there.
    let mut browser = Browser::new(&app);
    let r = carol.post("/api/auth/oauth/facebook/link", json!({})).await;
    assert_eq!(r.status(), 200);
    browser.keep_cookie(&r);
    let url = r.json::<Value>().await.unwrap()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let back = browser.authorize(&url).await;
    assert_eq!(
        browser.land(&back).await,
        Landing::Linked("facebook".into())
    );
    let l = links(&carol).await;
    assert_eq!(l["has_password"], true);
    assert_eq!(l["links"][0]["provider"], "facebook");
    assert_eq!(l["links"][0]["name"], "Carol Facebook");
    assert!(l["links"][0]["linked_at"].as_i64().unwrap() > 0);

    // Linking a second Facebook account is refused until the first is unlinked.
    let r = carol.post("/api/auth/oauth/facebook/link", json!({})).await;
    assert_eq!(r.status(), 409);

    // Signing in with that Facebook account now opens Carol's account; no new account appears.
    let before = user_count(&app).await;
    let token = token_of(Browser::new(&app).sign_in("facebook").await);
    let (same, _) = user_with_token(&app, &token).await;
    assert_eq!(same.id, carol.id);
    assert_eq!(user_count(&app).await, before);
    app.quiesce().await;
}

#[actix_web::test]
async fn an_account_without_a_password_is_deleted_by_typing_its_username() {
    let fb = OAuthProvider::start(Kind::Facebook);
    let app = app_with(&[&fb]).await;
    fb.sign_in_as(&Account::new("1002", "Cy Dee", None));
    let mut browser = Browser::new(&app);
    let start = browser.get("/api/auth/oauth/facebook/start").await;
    let back = browser.authorize(&location(&start)).await;
    let token = token_of(browser.land(&back).await);
    let (user, me) = user_with_token(&app, &token).await;
    assert_eq!(links(&user).await["has_password"], false);
    assert_eq!(me["username"], "cy.dee");

    let delete = |body: Value| {
        app.client
            .delete(format!("{}/api/me", app.http))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    // No password to give: an empty one, none, or someone else's name do not delete it.
    for wrong in [
        json!({"password": ""}),
        json!({}),
        json!({"username": "ann"}),
    ] {
        let r = delete(wrong.clone()).await.unwrap();
        assert_eq!(r.status(), 403, "{wrong}");
        assert_eq!(user.get("/api/me").await.status(), 200, "{wrong}");
    }
    // Its own username (any case) does.
    let r = delete(json!({"username": " Cy.Dee "})).await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(user.get("/api/me").await.status(), 401);
    app.quiesce().await;
}

#[actix_web::test]
async fn oauth_link_refuses_a_provider_account_linked_to_someone_else() {
    let fb = OAuthProvider::start(Kind::Facebook);
    let app = app_with(&[&fb]).await;
    let dan = Account::new("3001", "Dan", None);
    fb.sign_in_as(&dan);
    let dans_token = token_of(Browser::new(&app).sign_in("facebook").await);
    let (dan_user, _) = user_with_token(&app, &dans_token).await;

    // Erin tries to link Dan's Facebook account to hers.
    let erin = app.register("erin").await;
    let mut browser = Browser::new(&app);
    let r = erin.post("/api/auth/oauth/facebook/link", json!({})).await;
    browser.keep_cookie(&r);
    let url = r.json::<Value>().await.unwrap()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let back = browser.authorize(&url).await;
    let msg = error_of(browser.land(&back).await);
    assert!(msg.contains("already linked to another account"), "{msg}");
    assert_eq!(links(&erin).await["links"], json!([]));
    // Dan's link is untouched: he still signs in to his own account.
    let again = token_of(Browser::new(&app).sign_in("facebook").await);
    assert_eq!(user_with_token(&app, &again).await.0.id, dan_user.id);
    app.quiesce().await;
}

#[actix_web::test]
async fn oauth_rejects_a_tampered_replayed_or_foreign_state() {
    let fb = OAuthProvider::start(Kind::Facebook);
    let app = app_with(&[&fb]).await;
    fb.sign_in_as(&Account::new("4001", "Fay", None));

    // A state the server never issued.
    let mut browser = Browser::new(&app);
    let back = browser.authorize("/api/auth/oauth/facebook/start").await;
    let tampered = with_param(&back, "state", &format!("{}x", param(&back, "state")));
    let msg = error_of(browser.land(&tampered).await);
    assert!(msg.contains("start again"), "{msg}");
    // As JSON: 400 invalid.
    let r = browser
        .client
        .get(&tampered)
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "invalid");
    assert_eq!(user_count(&app).await, 0, "no account from a bad state");

    // The right state in another browser (without the cookie) is refused, and is used up.
    let mut thief = Browser::new(&app);
    let msg = error_of(thief.land(&back).await);
    assert!(msg.contains("another browser"), "{msg}");
    let msg = error_of(browser.land(&back).await);
    assert!(msg.contains("already used"), "{msg}");
    assert_eq!(user_count(&app).await, 0);

    // A good sign-in works once; replaying its callback is refused.
    let back = browser.authorize("/api/auth/oauth/facebook/start").await;
    token_of(browser.land(&back).await);
    let msg = error_of(browser.land(&back).await);
    assert!(msg.contains("already used"), "{msg}");
    assert_eq!(user_count(&app).await, 1);
    app.quiesce().await;
}

#[actix_web::test]
async fn oauth_rejects_a_reused_code_and_a_failed_exchange() {
    let fb = OAuthProvider::start(Kind::Facebook);
    let app = app_with(&[&fb]).await;
    fb.sign_in_as(&Account::new("5001", "Gus", None));
    let mut browser = Browser::new(&app);
    let first = browser.authorize("/api/auth/oauth/facebook/start").await;
    token_of(browser.land(&first).await);

    // A fresh, valid state carrying the code already exchanged: the provider refuses it.
    let fresh = browser.authorize("/api/auth/oauth/facebook/start").await;
    let reused = with_param(&fresh, "code", &param(&first, "code"));
    let msg = error_of(browser.land(&reused).await);
    assert!(
        msg.contains("did not accept") && msg.contains("invalid_grant"),
        "{msg}"
    );
    assert!(fb
        .refusals()
        .iter()
        .any(|r| r.contains("code already used")));

    // The provider says the person denied access.
    fb.deny_next();
    let msg = error_of(browser.sign_in("facebook").await);
    assert!(
        msg.contains("did not grant access") && msg.contains("access_denied"),
        "{msg}"
    );
    assert_eq!(user_count(&app).await, 1);
    app.quiesce().await;

    // A server with the wrong client secret: the exchange fails, nobody is signed up.
    let app = spawn_app_with(|s| {
        fb.configure(s);
        s.oauth.facebook.client_secret = chat_server::config::Secret::new("wrong");
    })
    .await;
    fb.register(&app.http);
    fb.sign_in_as(&Account::new("5002", "Hal", None));
    let mut browser = Browser::new(&app);
    let back = browser.authorize("/api/auth/oauth/facebook/start").await;
    let mut req = browser
        .client
        .get(&back)
        .header("Accept", "application/json");
    req = req.header(
        "Cookie",
        format!("chat_oauth={}", browser.cookie.clone().unwrap()),
    );
    let r = req.send().await.unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("invalid_client"),
        "{body}"
    );
    assert_eq!(user_count(&app).await, 0);
    app.quiesce().await;
}

#[actix_web::test]
async fn oauth_unlink_keeps_a_way_to_sign_in() {
    let fb = OAuthProvider::start(Kind::Facebook);
    let tw = OAuthProvider::start(Kind::Twitter);
    let app = app_with(&[&fb, &tw]).await;
    fb.sign_in_as(&Account::new("6001", "Ida", None));
    tw.sign_in_as(&Account::new("6002", "Ida", Some("ida")));
    let token = token_of(Browser::new(&app).sign_in("facebook").await);
    let (ida, _) = user_with_token(&app, &token).await;

    // The only way in: refused.
    let r = ida.delete("/api/auth/oauth/links/facebook").await;
    assert_eq!(r.status(), 409);
    assert!(r.json::<Value>().await.unwrap()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("only way to sign in"));

    // With Twitter linked too, Facebook can go; then Twitter is the last way in.
    let mut browser = Browser::new(&app);
    let r = ida.post("/api/auth/oauth/twitter/link", json!({})).await;
    browser.keep_cookie(&r);
    let url = r.json::<Value>().await.unwrap()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let back = browser.authorize(&url).await;
    assert_eq!(browser.land(&back).await, Landing::Linked("twitter".into()));
    assert_eq!(
        ida.delete("/api/auth/oauth/links/facebook").await.status(),
        204
    );
    assert_eq!(
        ida.delete("/api/auth/oauth/links/facebook").await.status(),
        404
    );
    assert_eq!(
        ida.delete("/api/auth/oauth/links/twitter").await.status(),
        409
    );

    // A first password (no old one needed) makes the last link removable.
    let r = ida
        .post(
            "/api/me/password",
            json!({"new_password": "a brand new password"}),
        )
        .await;
    assert_eq!(r.status(), 204);
    assert_eq!(
        ida.delete("/api/auth/oauth/links/twitter").await.status(),
        204
    );
    let l = links(&ida).await;
    assert_eq!(l, json!({"links": [], "has_password": true}));
    let r = app
        .client
        .post(format!("{}/api/auth/login", app.http))
        .json(&json!({"username": ida.username, "password": "a brand new password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Once set, changing the password needs the old one again.
    let r = ida
        .post(
            "/api/me/password",
            json!({"new_password": "another new password"}),
        )
        .await;
    assert_eq!(r.status(), 403);
    // Facebook unlinked: signing in with it makes a new account.
    let again = token_of(Browser::new(&app).sign_in("facebook").await);
    assert_ne!(user_with_token(&app, &again).await.0.id, ida.id);
    app.quiesce().await;
}

#[actix_web::test]
async fn oauth_account_deletion_removes_its_links() {
    let fb = OAuthProvider::start(Kind::Facebook);
    let app = app_with(&[&fb]).await;
    fb.sign_in_as(&Account::new("8001", "Jo", None));
    let token = token_of(Browser::new(&app).sign_in("facebook").await);
    let (jo, _) = user_with_token(&app, &token).await;
    assert_eq!(
        jo.post(
            "/api/me/password",
            json!({"new_password": "password for deleting"})
        )
        .await
        .status(),
        204
    );
    let r = jo
        .client
        .delete(format!("{}/api/me", app.http))
        .bearer_auth(&token)
        .json(&json!({"password": "password for deleting"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    // The Facebook account is free again: signing in with it makes a fresh account.
    let again = token_of(Browser::new(&app).sign_in("facebook").await);
    let (fresh, me) = user_with_token(&app, &again).await;
    assert_ne!(fresh.id, jo.id);
    assert_eq!(me["deleted"], false);
    app.quiesce().await;
}

#[actix_web::test]
async fn oauth_first_account_is_not_admin_and_a_banned_account_cannot_sign_in() {
    let fb = OAuthProvider::start(Kind::Facebook);
    let app = app_with(&[&fb]).await;
    // The very first account, made by a provider sign-in, is not an admin (neither is a first
    // registration): the bootstrap code makes it one.
    fb.sign_in_as(&Account::new("2001", "Root Admin", None));
    let token = token_of(Browser::new(&app).sign_in("facebook").await);
    let (admin, me) = user_with_token(&app, &token).await;
    assert_eq!(me["is_admin"], false);
    let r = admin
        .post(
            "/api/admin/bootstrap",
            json!({"code": app.bootstrap_code()}),
        )
        .await;
    assert_eq!(r.status(), 200);

    // The second is not; once banned, signing in through the provider is refused.
    fb.sign_in_as(&Account::new("2002", "Eve Ban", None));
    let token = token_of(Browser::new(&app).sign_in("facebook").await);
    let (eve, me) = user_with_token(&app, &token).await;
    assert_eq!(me["is_admin"], false);
    let r = admin
        .post(&format!("/api/admin/users/{}/ban", eve.id), json!({}))
        .await;
    assert!(r.status().is_success(), "ban: {}", r.status());
    let err = error_of(Browser::new(&app).sign_in("facebook").await);
    assert!(err.contains("banned"), "{err}");
    assert_eq!(user_count(&app).await, 2, "no new account for a banned one");
    app.quiesce().await;
}

#[actix_web::test]
async fn oauth_hands_the_pages_own_value_back_beside_the_token() {
    let fb = OAuthProvider::start(Kind::Facebook);
    let app = app_with(&[&fb]).await;
    fb.sign_in_as(&Account::new("4001", "Nora Nonce", None));
    let mut b = Browser::new(&app);
    let nonce = "PageValue_0123456789-abc";
    let back = b
        .authorize(&format!("/api/auth/oauth/facebook/start?nonce={nonce}"))
        .await;
    let state = param(&back, "state");
    let (random, carried) = state.split_once('.').unwrap();
    assert_eq!(carried, nonce, "the value rides in the state");

    // Another value put in its place does not match the stored state: refused.
    let forged = with_param(&back, "state", &format!("{random}.OtherValue_0123456789"));
    let err = error_of(b.land(&forged).await);
    assert!(err.contains("start again"), "{err}");

    // A fresh start with the value lands with the token and the value beside it.
    let back = b
        .authorize(&format!("/api/auth/oauth/facebook/start?nonce={nonce}"))
        .await;
    let r = b.get(&back).await;
    assert_eq!(r.status(), 302);
    let to = location(&r);
    let frag =
        oauth2::url::Url::parse(&format!("http://x/?{}", to.strip_prefix("/#").unwrap())).unwrap();
    let got: HashMap<_, _> = frag.query_pairs().into_owned().collect();
    assert!(
        got.get("oauth_token").is_some_and(|t| !t.is_empty()),
        "{to}"
    );
    assert_eq!(
        got.get("oauth_nonce").map(String::as_str),
        Some(nonce),
        "{to}"
    );

    // A value that is not 16 to 64 base64url characters is refused at the start.
    let r = b.get("/api/auth/oauth/facebook/start?nonce=short").await;
    assert_eq!(r.status(), 302);
    assert!(
        location(&r).starts_with("/#oauth_error="),
        "{}",
        location(&r)
    );
    app.quiesce().await;
}
