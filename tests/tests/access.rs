//! Who may use the control API: first-boot setup, sessions with CSRF, login throttling,
//! API tokens, and what stays open (HLS, metrics on loopback).

use std::time::Duration;

use fourcast_e2e::{Daemon, Response, http_request, http_send};

fn json(r: &Response) -> serde_json::Value {
    serde_json::from_slice(&r.body).unwrap_or(serde_json::Value::Null)
}

fn session_cookie(r: &Response) -> String {
    r.header("set-cookie")
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_string()
}

#[test]
fn every_control_route_needs_a_token_or_a_session() {
    let d = Daemon::start(None);
    for (method, path) in [
        ("GET", "/api/v1/status"),
        ("GET", "/api/v1/events"),
        ("GET", "/api/v1/config"),
        ("GET", "/api/v1/recordings"),
        ("POST", "/api/v1/recording/start"),
        ("POST", "/api/v1/recording/stop"),
        ("DELETE", "/api/v1/recordings/1"),
        ("GET", "/api/v1/recordings/1/file"),
        ("GET", "/api/v1/tokens"),
        ("POST", "/api/v1/tokens"),
        ("DELETE", "/api/v1/tokens/e2e"),
        ("GET", "/api/v1/no-such-route"),
    ] {
        let r = http_request(d.port, method, path, &[]).unwrap();
        assert_eq!(r.status, 401, "{method} {path}: {}", r.text());
        assert!(json(&r)["error"]["message"].is_string(), "{method} {path}");
        let r = http_request(
            d.port,
            method,
            path,
            &[("Authorization", "Bearer fc_wrong")],
        )
        .unwrap();
        assert_eq!(r.status, 401, "{method} {path} with a wrong token");
    }
    // Nothing started recording while refused.
    assert!(d.status()["recording"].is_null(), "{}", d.status());
    // The API's description is open, and describes the guarded routes.
    let doc = http_request(d.port, "GET", "/api/v1/openapi.json", &[]).unwrap();
    assert_eq!(doc.status, 200);
    let doc = json(&doc);
    assert!(doc["paths"]["/api/v1/status"]["get"].is_object(), "{doc}");
    // Outputs stay open: the HLS origin, the page. Metrics need a token, even from the
    // box itself (any local process could read them otherwise).
    assert_eq!(http_request(d.port, "GET", "/", &[]).unwrap().status, 200);
    assert_eq!(
        http_request(d.port, "GET", "/metrics", &[]).unwrap().status,
        401
    );
    assert_eq!(d.get("/metrics").status, 200, "with the token");
    let mut d = d;
    d.wait_until("HLS", Duration::from_secs(30), |d| {
        http_request(d.port, "GET", "/hls/master.m3u8", &[]).is_ok_and(|r| r.status == 200)
    });
}

#[test]
fn setup_happens_once_and_a_session_needs_its_csrf_token() {
    // The harness already set the password and made a token: setup is closed now.
    let d = Daemon::start(None);
    let setup = http_request(d.port, "GET", "/api/v1/setup", &[]).unwrap();
    assert_eq!(json(&setup)["needed"], false);
    let again = http_send(
        d.port,
        "POST",
        "/api/v1/setup",
        &[],
        br#"{"password":"a different password"}"#,
    )
    .unwrap();
    assert_eq!(again.status, 409, "{}", again.text());

    let login =
        |body: &str| http_send(d.port, "POST", "/api/v1/login", &[], body.as_bytes()).unwrap();
    let bad = login(r#"{"password":"nope","admin":true}"#);
    assert_eq!(bad.status, 400, "unknown field: {}", bad.text());
    assert!(bad.text().contains("admin"), "{}", bad.text());
    let ok = login(&format!(r#"{{"password":"{}"}}"#, d.password));
    assert_eq!(ok.status, 200, "{}", ok.text());
    let set_cookie = ok.header("set-cookie").unwrap().to_string();
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"),
        "{set_cookie}"
    );
    let cookie = session_cookie(&ok);
    let csrf = json(&ok)["csrf"].as_str().unwrap().to_string();

    // Reading with the session works; changing needs the CSRF token.
    let r = http_request(d.port, "GET", "/api/v1/status", &[("Cookie", &cookie)]).unwrap();
    assert_eq!(r.status, 200);
    let make_token = |csrf: Option<&str>| {
        let mut headers = vec![("Cookie", cookie.as_str())];
        headers.extend(csrf.map(|c| ("X-CSRF-Token", c)));
        http_send(
            d.port,
            "POST",
            "/api/v1/tokens",
            &headers,
            br#"{"name":"ci"}"#,
        )
        .unwrap()
    };
    let r = make_token(None);
    assert_eq!(r.status, 403, "no CSRF header: {}", r.text());
    assert_eq!(make_token(Some("forged")).status, 403, "forged CSRF header");
    let r = make_token(Some(&csrf));
    assert_eq!(r.status, 201, "{}", r.text());
    let token = json(&r)["token"].as_str().unwrap().to_string();
    let status_with = |token: &str| {
        let bearer = format!("Bearer {token}");
        http_request(
            d.port,
            "GET",
            "/api/v1/status",
            &[("Authorization", &bearer)],
        )
        .unwrap()
        .status
    };
    assert_eq!(status_with(&token), 200);
    // Token names are listed, the tokens never are; a deleted token stops working.
    let list = d.get("/api/v1/tokens").text();
    assert!(list.contains("\"ci\"") && !list.contains(&token), "{list}");
    assert_eq!(d.request("DELETE", "/api/v1/tokens/ci", &[]).status, 204);
    assert_eq!(status_with(&token), 401);

    // Logging out ends the session.
    let out = http_request(d.port, "POST", "/api/v1/logout", &[("Cookie", &cookie)]).unwrap();
    assert_eq!(out.status, 204);
    let r = http_request(d.port, "GET", "/api/v1/status", &[("Cookie", &cookie)]).unwrap();
    assert_eq!(r.status, 401);

    // Neither the password nor a token is in the store in the clear.
    let store = std::fs::read(d.data.0.join("data/store.redb")).unwrap();
    for secret in [d.password.as_bytes(), token.as_bytes(), d.token.as_bytes()] {
        assert!(
            !store.windows(secret.len()).any(|w| w == secret),
            "a secret is in the store in the clear"
        );
    }
}

#[test]
fn wrong_passwords_are_throttled_with_an_event_and_bad_bodies_get_field_errors() {
    let d = Daemon::start(None);
    let attempt = |password: &str| {
        http_send(
            d.port,
            "POST",
            "/api/v1/login",
            &[],
            format!(r#"{{"password":"{password}"}}"#).as_bytes(),
        )
        .unwrap()
    };
    for _ in 0..3 {
        assert_eq!(attempt("wrong").status, 401);
    }
    let limited = attempt("wrong");
    assert_eq!(limited.status, 429, "{}", limited.text());
    assert!(limited.header("retry-after").is_some());
    // While throttled even the right password waits: guessing cannot race the clock.
    assert_eq!(attempt(&d.password).status, 429);
    // The recent-events list is filled by its own task: give it a moment.
    let mut events = d.events();
    for _ in 0..50 {
        if events.iter().any(|e| e["type"] == "login_throttled") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        events = d.events();
    }
    assert!(
        events.iter().any(|e| e["type"] == "login_throttled"),
        "{events:?}"
    );
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(attempt(&d.password).status, 200, "the wait is over");

    // Bad bodies: not JSON, wrong type, too short a password, too big a body.
    for body in [&b"{"[..], br#"{"password": 5}"#, br#"[]"#] {
        let r = http_send(d.port, "POST", "/api/v1/login", &[], body).unwrap();
        assert_eq!(r.status, 400, "{}", r.text());
        assert!(json(&r)["error"]["message"].is_string());
    }
    let big = vec![b'x'; 300 * 1024];
    let r = http_send(d.port, "POST", "/api/v1/login", &[], &big).unwrap();
    assert_eq!(r.status, 413);
    let r = d.send("POST", "/api/v1/tokens", &[], br#"{"name":"has space"}"#);
    assert_eq!(r.status, 422);
    assert_eq!(json(&r)["error"]["path"], "name");
    assert_eq!(d.status()["program"]["width"], 1280, "the box is still up");
}
