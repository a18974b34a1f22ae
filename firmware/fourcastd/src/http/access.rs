//! Who may use the control API (ETSI EN 303 645 / UK PSTI): no default password — the first
//! visit sets the admin password (`POST /api/v1/setup`, once); passwords are hashed with
//! argon2; a login opens a session (cookie `HttpOnly; SameSite=Strict`) whose CSRF token
//! must come back in `X-CSRF-Token` on every state-changing request; failed logins are
//! throttled with backoff (and an event); API tokens (`Authorization: Bearer`) serve
//! automation and are stored only as SHA-256. Every `/api/v1/*` route needs one of the two,
//! except setup and login. `/metrics` needs an API token from anywhere, loopback included;
//! the HLS origin is an output, open.
//!
//! The policy (throttle, sessions, CSRF) is the pure `fourcast-auth` crate; this module
//! is the thin HTTP and storage layer around it.

use crate::http::hashing::Hashing;
use crate::http::reply::blocking;
use crate::http::setup_code;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use argon2::password_hash::rand_core::{OsRng, RngCore};
use axum::extract::{ConnectInfo, Path as UrlPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Json, Response};
use base64::Engine as _;
use fourcast_auth::{LoginThrottle, Sessions, Verdict, csrf_ok};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::controller::{Controller, Event};

pub(crate) const SESSION_COOKIE: &str = "fourcast_session";
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";
/// The shortest admin password accepted.
pub(crate) const MIN_PASSWORD: usize = 10;
const ADMIN: &str = "admin";
const TOKEN_PREFIX: &str = "token:";
/// Routes anyone may call: how else would one sign in?
const OPEN: &[&str] = &[
    "/api/v1/setup",
    "/api/v1/login",
    "/api/v1/logout",
    "/api/v1/openapi.json",
];

pub(crate) struct Access {
    controller: Controller,
    state: Mutex<State_>,
    /// Where password hashes are computed: two at a time, a bounded queue.
    hashing: Hashing,
}

struct State_ {
    /// The admin password's PHC string, once set.
    admin: Option<String>,
    /// API token name → SHA-256 (hex).
    tokens: HashMap<String, String>,
    sessions: Sessions,
    throttle: LoginThrottle,
    /// Until setup: the code it asks for (see [`crate::http::setup_code`]).
    setup_code: Option<String>,
}

impl Access {
    pub(crate) fn load(controller: Controller) -> anyhow::Result<Arc<Access>> {
        let admin = controller.credential(ADMIN)?;
        let tokens = controller
            .credentials(TOKEN_PREFIX)?
            .into_iter()
            .map(|(k, v)| (k[TOKEN_PREFIX.len()..].to_string(), v))
            .collect();
        let data_dir = controller.running().config.storage.data_dir.clone();
        let setup_code = match admin {
            Some(_) => {
                setup_code::forget(&data_dir);
                None
            }
            None => {
                let code = setup_code::make();
                if let Err(e) = setup_code::keep(&data_dir, &code) {
                    tracing::warn!("cannot keep the setup code in the data dir: {e}");
                }
                tracing::warn!(
                    "no admin password yet: open the web page (or POST /api/v1/setup) with the setup code {code}"
                );
                Some(code)
            }
        };
        Ok(Arc::new(Access {
            controller,
            state: Mutex::new(State_ {
                admin,
                tokens,
                sessions: Sessions::new(64),
                throttle: LoginThrottle::new(1024),
                setup_code,
            }),
            hashing: Hashing::start(),
        }))
    }

    /// The code first-boot setup asks for, until the admin password is set.
    pub(crate) fn setup_code(&self) -> Option<String> {
        self.lock().setup_code.clone()
    }

    /// Runs a password hash or check on the hashing threads; 503 when they are busy.
    async fn argon2<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Response> {
        self.hashing.run(work).await.map_err(|_| {
            let mut r = field_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "password",
                "too many password checks at once: try again in a few seconds",
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            r
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State_> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn token_ok(&self, token: &str) -> bool {
        let hash = sha256_hex(token);
        self.lock().tokens.values().any(|h| constant_eq(h, &hash))
    }

    /// The live session the cookie names, its idle clock restarted.
    fn session(&self, id: &str) -> Option<fourcast_auth::Session> {
        self.lock().sessions.touch(id, Instant::now()).cloned()
    }

    /// Opens a session; returns (cookie id, csrf token).
    fn open_session(&self) -> (String, String) {
        let (id, csrf) = (random_token(), random_token());
        self.lock()
            .sessions
            .open(id.clone(), ADMIN, csrf.clone(), Instant::now());
        (id, csrf)
    }
}

/// The guard in front of every route.
pub(crate) async fn guard(State(access): State<Arc<Access>>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let bearer = bearer(req.headers());
    if path == "/metrics" {
        // From anywhere, the box's own other processes included: a scraper has a token.
        if bearer.is_some_and(|t| access.token_ok(t)) {
            return next.run(req).await;
        }
        return denied(
            StatusCode::UNAUTHORIZED,
            "metrics need an API token (Authorization: Bearer …)",
        );
    }
    if !path.starts_with("/api/v1/") || OPEN.contains(&path.as_str()) {
        return next.run(req).await;
    }
    if let Some(t) = bearer {
        return if access.token_ok(t) {
            next.run(req).await
        } else {
            denied(StatusCode::UNAUTHORIZED, "unknown API token")
        };
    }
    let Some(id) = cookie(req.headers(), SESSION_COOKIE) else {
        return denied(
            StatusCode::UNAUTHORIZED,
            "sign in first (POST /api/v1/login)",
        );
    };
    let Some(session) = access.session(&id) else {
        return denied(StatusCode::UNAUTHORIZED, "session expired: sign in again");
    };
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let sent = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok());
    if !safe && !csrf_ok(&session, sent) {
        return denied(StatusCode::FORBIDDEN, "missing or wrong X-CSRF-Token");
    }
    next.run(req).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PasswordBody {
    password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetupBody {
    password: String,
    /// The one-time setup code the box printed on its console (and shows on its panel).
    #[serde(default)]
    code: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TokenBody {
    name: String,
}

/// `GET /api/v1/setup`: whether the admin password is still to be set, and where the
/// setup code it needs can be read.
pub(crate) async fn setup_state(State(a): State<Arc<Access>>) -> Json<serde_json::Value> {
    let needed = a.lock().admin.is_none();
    Json(serde_json::json!({
        "needed": needed,
        "code_shown": "on the box's console and front panel, and in <data_dir>/setup-code",
    }))
}

/// `POST /api/v1/setup`: sets the admin password, once, and signs in.
pub(crate) async fn setup(
    State(a): State<Arc<Access>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    https: Option<axum::Extension<crate::http::tls::Https>>,
    body: axum::body::Bytes,
) -> Response {
    let body: SetupBody = match parse(&body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    if let Some(refusal) = check_setup_code(&a, peer.ip(), &body.code) {
        return refusal;
    }
    if body.password.chars().count() < MIN_PASSWORD {
        return field_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "password",
            format!("at least {MIN_PASSWORD} characters"),
        );
    }
    if a.lock().admin.is_some() {
        return field_error(
            StatusCode::CONFLICT,
            "password",
            "the admin password is already set",
        );
    }
    let access = a.clone();
    let stored = a
        .argon2(move || -> anyhow::Result<Option<String>> {
            let phc = hash_password(&body.password)?;
            let written = access.controller.credential_put(ADMIN, &phc, true)?;
            Ok(written.then_some(phc))
        })
        .await;
    match stored {
        Ok(Ok(Some(phc))) => {
            {
                let mut state = a.lock();
                state.admin = Some(phc);
                state.setup_code = None;
                state.throttle.succeeded(peer.ip());
            }
            setup_code::forget(&a.controller.running().config.storage.data_dir);
            a.controller.emit(Event::AdminPasswordSet);
            signed_in(&a, StatusCode::CREATED, https.is_some())
        }
        Ok(Ok(None)) => field_error(
            StatusCode::CONFLICT,
            "password",
            "the admin password is already set",
        ),
        Ok(Err(e)) => {
            tracing::error!("setup: {e:#}");
            field_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "",
                "could not store the password",
            )
        }
        Err(busy) => busy,
    }
}

/// Refuses setup without the right code; a wrong code counts as a failed login.
fn check_setup_code(a: &Access, ip: IpAddr, typed: &str) -> Option<Response> {
    let Some(code) = a.setup_code() else {
        return Some(field_error(
            StatusCode::CONFLICT,
            "password",
            "the admin password is already set",
        ));
    };
    if let Verdict::Wait(wait) = a.lock().throttle.attempt(ip, Instant::now()) {
        return Some(throttled(a, ip, wait.as_secs().max(1)));
    }
    if constant_eq(&setup_code::normalise(typed), &setup_code::normalise(&code)) {
        return None;
    }
    let message = if typed.is_empty() {
        "the setup code is missing: it is printed on the box's console and front panel"
    } else {
        "wrong setup code: it is printed on the box's console and front panel"
    };
    Some(field_error(StatusCode::FORBIDDEN, "code", message))
}

/// `POST /api/v1/login`.
pub(crate) async fn login(
    State(a): State<Arc<Access>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    https: Option<axum::Extension<crate::http::tls::Https>>,
    body: axum::body::Bytes,
) -> Response {
    let source = peer.ip();
    let body: PasswordBody = match parse(&body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let Some(phc) = a.lock().admin.clone() else {
        return field_error(
            StatusCode::CONFLICT,
            "",
            "set the admin password first (setup)",
        );
    };
    // Counted as a failure from here until it proves right: a burst of parallel guesses
    // gets no further than the free attempts.
    if let Verdict::Wait(wait) = a.lock().throttle.attempt(source, Instant::now()) {
        return throttled(&a, source, wait.as_secs().max(1));
    }
    let ok = match a
        .argon2(move || verify_password(&body.password, &phc))
        .await
    {
        Ok(ok) => ok,
        Err(r) => return r,
    };
    if ok {
        a.lock().throttle.succeeded(source);
        return signed_in(&a, StatusCode::OK, https.is_some());
    }
    if let Some(wait) = a.lock().throttle.wait(source, Instant::now()) {
        return wrong_then_throttled(&a, source, wait.as_secs().max(1));
    }
    field_error(StatusCode::UNAUTHORIZED, "password", "wrong password")
}

/// A checked, wrong password that set off the wait: 429 saying both.
fn wrong_then_throttled(a: &Access, source: IpAddr, retry_after_s: u64) -> Response {
    let mut r = throttled(a, source, retry_after_s);
    let message = format!("wrong password; too many failed logins: try again in {retry_after_s} s");
    *r.body_mut() = axum::body::Body::from(
        serde_json::json!({ "error": { "path": "password", "message": message } }).to_string(),
    );
    r
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PasswordChange {
    current: String,
    new: String,
}

/// `POST /api/v1/password`: changes the admin password, given the current one (a stolen
/// session alone cannot lock the owner out). Every session is closed and the caller gets a
/// new one; API tokens stay (revoke them apart).
pub(crate) async fn password_change(
    State(a): State<Arc<Access>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    https: Option<axum::Extension<crate::http::tls::Https>>,
    body: axum::body::Bytes,
) -> Response {
    let body: PasswordChange = match parse(&body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    if body.new.chars().count() < MIN_PASSWORD {
        return field_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "new",
            format!("at least {MIN_PASSWORD} characters"),
        );
    }
    let Some(phc) = a.lock().admin.clone() else {
        return field_error(StatusCode::CONFLICT, "", "no admin password yet: use setup");
    };
    let source = peer.ip();
    if let Verdict::Wait(wait) = a.lock().throttle.attempt(source, Instant::now()) {
        return throttled(&a, source, wait.as_secs().max(1));
    }
    let access = a.clone();
    let changed = a
        .argon2(move || -> anyhow::Result<Option<String>> {
            if !verify_password(&body.current, &phc) {
                return Ok(None);
            }
            let new = hash_password(&body.new)?;
            access.controller.credential_put(ADMIN, &new, false)?;
            Ok(Some(new))
        })
        .await;
    match changed {
        Ok(Ok(Some(phc))) => {
            {
                let mut state = a.lock();
                state.admin = Some(phc);
                state.throttle.succeeded(source);
                state.sessions.close_all();
            }
            a.controller.emit(Event::AdminPasswordSet);
            signed_in(&a, StatusCode::OK, https.is_some())
        }
        Ok(Ok(None)) => match a.lock().throttle.wait(source, Instant::now()) {
            Some(wait) => throttled(&a, source, wait.as_secs().max(1)),
            None => field_error(StatusCode::FORBIDDEN, "current", "wrong password"),
        },
        Ok(Err(e)) => {
            tracing::error!("password change: {e:#}");
            field_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "",
                "could not store the password",
            )
        }
        Err(busy) => busy,
    }
}

/// `GET /api/v1/session`: the signed-in session's CSRF token again (a reloaded page has
/// lost it; the cookie alone is not enough to change anything).
pub(crate) async fn session(State(a): State<Arc<Access>>, headers: HeaderMap) -> Response {
    let csrf = cookie(&headers, SESSION_COOKIE)
        .and_then(|id| a.session(&id))
        .map(|s| s.csrf);
    Json(serde_json::json!({ "csrf": csrf })).into_response()
}

/// `POST /api/v1/logout`: ends the session named by the cookie (if any).
pub(crate) async fn logout(State(a): State<Arc<Access>>, headers: HeaderMap) -> Response {
    if let Some(id) = cookie(&headers, SESSION_COOKIE) {
        a.lock().sessions.close(&id);
    }
    let mut r = StatusCode::NO_CONTENT.into_response();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
    )) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

/// `GET /api/v1/tokens`: the names of the API tokens (never the tokens).
pub(crate) async fn tokens(State(a): State<Arc<Access>>) -> Json<serde_json::Value> {
    let mut names: Vec<String> = a.lock().tokens.keys().cloned().collect();
    names.sort();
    Json(serde_json::json!(
        names
            .iter()
            .map(|n| serde_json::json!({ "name": n }))
            .collect::<Vec<_>>()
    ))
}

/// `POST /api/v1/tokens`: a new API token, shown this once.
pub(crate) async fn token_create(
    State(a): State<Arc<Access>>,
    body: axum::body::Bytes,
) -> Response {
    let body: TokenBody = match parse(&body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let name = body.name.trim().to_string();
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if !valid {
        return field_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "name",
            "1–64 characters: letters, digits, - _ .",
        );
    }
    if a.lock().tokens.contains_key(&name) {
        return field_error(StatusCode::CONFLICT, "name", "a token of that name exists");
    }
    let token = format!("fc_{}", random_token());
    let hash = sha256_hex(&token);
    let (access, key, h) = (a.clone(), format!("{TOKEN_PREFIX}{name}"), hash.clone());
    let stored = blocking(move || access.controller.credential_put(&key, &h, true)).await;
    match stored {
        Ok(Ok(true)) => {
            a.lock().tokens.insert(name.clone(), hash);
            (
                StatusCode::CREATED,
                Json(serde_json::json!({ "name": name, "token": token })),
            )
                .into_response()
        }
        Ok(Ok(false)) => field_error(StatusCode::CONFLICT, "name", "a token of that name exists"),
        _ => field_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "",
            "could not store the token",
        ),
    }
}

/// `DELETE /api/v1/tokens/{name}`.
pub(crate) async fn token_delete(
    State(a): State<Arc<Access>>,
    UrlPath(name): UrlPath<String>,
) -> Response {
    if a.lock().tokens.remove(&name).is_none() {
        return field_error(
            StatusCode::NOT_FOUND,
            "name",
            format!("no token named {name:?}"),
        );
    }
    let (access, key) = (a.clone(), format!("{TOKEN_PREFIX}{name}"));
    let _ = blocking(move || access.controller.credential_delete(&key)).await;
    StatusCode::NO_CONTENT.into_response()
}

fn signed_in(a: &Access, status: StatusCode, https: bool) -> Response {
    let (id, csrf) = a.open_session();
    let mut r = (status, Json(serde_json::json!({ "csrf": csrf }))).into_response();
    // Over HTTPS the cookie is `Secure`: never sent back over plain HTTP.
    let secure = if https { "; Secure" } else { "" };
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict{secure}"
    )) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

fn throttled(a: &Access, source: IpAddr, retry_after_s: u64) -> Response {
    a.controller.emit(Event::LoginThrottled {
        source: source.to_string(),
        retry_after_s,
    });
    let mut r = field_error(
        StatusCode::TOO_MANY_REQUESTS,
        "password",
        format!("too many failed logins: try again in {retry_after_s} s"),
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_s));
    r
}

/// A JSON body, strictly: unknown fields and wrong types are a 400 naming the field.
pub(crate) fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Box<Response>> {
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        Box::new(field_error(
            StatusCode::BAD_REQUEST,
            &path,
            e.into_inner().to_string(),
        ))
    })
}

pub(crate) fn field_error(status: StatusCode, path: &str, message: impl Into<String>) -> Response {
    (
        status,
        Json(serde_json::json!({ "error": { "path": path, "message": message.into() } })),
    )
        .into_response()
}

fn denied(status: StatusCode, message: &str) -> Response {
    field_error(status, "", message)
}

pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

fn hash_password(password: &str) -> anyhow::Result<String> {
    crate::http::password::hash(password)
}

fn verify_password(password: &str, phc: &str) -> bool {
    crate::http::password::verify(password, phc)
}

/// 32 random bytes, base64url.
fn random_token() -> String {
    let mut b = [0u8; 32];
    OsRng.fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn constant_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_and_bearer_tokens_are_read_from_their_headers() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; fourcast_session=abc; b=2"),
        );
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer fc_xyz"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "nope"), None);
        assert_eq!(bearer(&h), Some("fc_xyz"));
    }

    #[test]
    fn tokens_are_random_and_stored_only_as_a_digest() {
        let (a, b) = (random_token(), random_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(sha256_hex("abc").len(), 64);
        assert!(constant_eq(&sha256_hex("abc"), &sha256_hex("abc")));
        assert!(!constant_eq(&sha256_hex("abc"), &sha256_hex("abd")));
    }
}
