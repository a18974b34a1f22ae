//! Property tests of request parsing: whatever bytes or JSON arrive, every request body
//! type, the config merge patch and the header parsers answer with a value or a clear
//! error, never a panic.

use proptest::prelude::*;
use serde_json::Value;

use crate::http::access::{PasswordBody, TokenBody, parse};
use crate::http::config::{Patch, Replace, Rollback, merge_patch};
use crate::http::device::Confirm;
use crate::http::program::Take;

/// Any JSON value, nested a few levels, with the field names the API uses mixed in so that
/// the parsers get past their first field often.
fn json_value() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("scene".to_string()),
        Just("layout".to_string()),
        Just("inputs".to_string()),
        Just("pip".to_string()),
        Just("transition".to_string()),
        Just("duration_ms".to_string()),
        Just("base_revision".to_string()),
        Just("patch".to_string()),
        Just("config".to_string()),
        Just("toml".to_string()),
        Just("program".to_string()),
        Just("ladder".to_string()),
        Just("rungs".to_string()),
        Just("outputs".to_string()),
        Just("password".to_string()),
        Just("confirm".to_string()),
        Just("master_gain_db".to_string()),
        "[a-z_]{1,8}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop_oneof![
            Just("grid".to_string()),
            Just("fade".to_string()),
            Just("cam1".to_string()),
            Just("***".to_string()),
            ".{0,12}",
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Every request body type the API parses.
fn parse_all(body: &[u8]) {
    let _ = parse::<Take>(body);
    let _ = parse::<Replace>(body);
    let _ = parse::<Patch>(body);
    let _ = parse::<Rollback>(body);
    let _ = parse::<Confirm>(body);
    let _ = parse::<PasswordBody>(body);
    let _ = parse::<TokenBody>(body);
    let _ = parse::<fourcast_engine::audio_mix::MixChange>(body);
}

fn default_config() -> Value {
    let c = fourcast_config::default_for_board(fourcast_board::DEFAULT_BOARD).unwrap();
    serde_json::to_value(c).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn any_bytes_are_parsed_or_refused(body in prop::collection::vec(any::<u8>(), 0..256)) {
        parse_all(&body);
    }

    #[test]
    fn any_json_is_parsed_or_refused_with_a_field_path(v in json_value()) {
        let body = serde_json::to_vec(&v).unwrap();
        parse_all(&body);
        // A refusal is a 400 whose body names the problem.
        if let Err(r) = parse::<Take>(&body) {
            prop_assert_eq!(r.status(), axum::http::StatusCode::BAD_REQUEST);
        }
    }

    #[test]
    fn any_merge_patch_gives_a_config_or_field_errors(patch in json_value()) {
        let mut doc = default_config();
        let patch = serde_json::json!({ "program": patch.clone(), "ladder": patch });
        merge_patch(&mut doc, &patch);
        if let Ok(config) = crate::http::config::config_of(doc) {
            // Whatever parsed also validates without panicking, and round-trips.
            let _ = config.validate();
            let again = crate::http::config::config_of(serde_json::to_value(&config).unwrap());
            prop_assert_eq!(again.ok(), Some(config));
        }
    }

    #[test]
    fn a_merge_patch_applied_twice_is_applied_once(doc in json_value(), patch in json_value()) {
        let mut once = doc.clone();
        merge_patch(&mut once, &patch);
        let mut twice = once.clone();
        merge_patch(&mut twice, &patch);
        prop_assert_eq!(&once, &twice);
        let mut same = once.clone();
        merge_patch(&mut same, &serde_json::json!({}));
        if once.is_object() {
            prop_assert_eq!(same, once);
        }
    }

    #[test]
    fn any_header_text_is_read_without_panicking(text in ".{0,64}") {
        if let Ok(v) = axum::http::HeaderValue::from_str(&text) {
            let mut h = axum::http::HeaderMap::new();
            h.insert(axum::http::header::COOKIE, v.clone());
            h.insert(axum::http::header::AUTHORIZATION, v);
            let _ = crate::http::access::cookie(&h, crate::http::access::SESSION_COOKIE);
            let _ = crate::http::access::bearer(&h);
        }
    }
}
