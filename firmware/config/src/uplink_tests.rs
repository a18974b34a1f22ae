//! Uplink sections: good documents parse, bad ones name the field, secrets stay hidden.

use super::*;

fn with_outputs(outputs: &str) -> Result<Config, ConfigErrors> {
    let base = default_for_board("virtual").unwrap().to_toml();
    Config::from_toml(&format!("{base}\n{outputs}"))
}

const GOOD: &str = r##"
[[outputs.srt]]
name = "origin"
mode = "caller"
host = "origin.example.net"
port = 9000
latency_ms = 400
passphrase = "correct horse battery"
key_length = 32
streamid = "#!::r=live/venue1,m=publish"
rung = "720p"
adaptive = true
min_kbps = 800
max_kbps = 4000

[[outputs.srt]]
name = "pull"
mode = "listener"
port = 9001
rung = "480p"

[[outputs.rtmp]]
name = "youtube"
url = "rtmp://a.rtmp.youtube.com/live2"
key = "abcd-efgh-ijkl-mnop"
rung = "720p"
"##;

#[test]
fn a_full_uplink_section_parses() {
    let c = with_outputs(GOOD).unwrap();
    assert_eq!(c.outputs.srt.len(), 2);
    let o = &c.outputs.srt[0];
    assert_eq!(
        o.end,
        SrtEnd::Caller {
            host: "origin.example.net".into(),
            port: o.end.port()
        }
    );
    assert_eq!(
        c.outputs.srt[1].end,
        SrtEnd::Listener {
            bind: ANY_ADDRESS.into(),
            port: c.outputs.srt[1].end.port()
        },
        "a listener binds every address unless told"
    );
    assert_eq!(
        o.passphrase.as_ref().unwrap().expose(),
        "correct horse battery"
    );
    assert_eq!(srt_adaptive_range(&c, o), (800, 4000));
    assert_eq!(c.outputs.srt[1].latency_ms, DEFAULT_SRT_LATENCY_MS);
    assert!(c.outputs.rtmp[0].enabled);
}

#[test]
fn secrets_never_show_in_toml_or_debug() {
    let c = with_outputs(GOOD).unwrap();
    let text = c.to_toml();
    let debug = format!("{c:?}");
    for secret in ["correct horse battery", "abcd-efgh-ijkl-mnop"] {
        assert!(!text.contains(secret), "{text}");
        assert!(!debug.contains(secret));
    }
    assert!(text.contains("passphrase = \"***\""), "{text}");
    assert_eq!(c.secret_values().len(), 2);
}

#[test]
fn a_sealed_secret_round_trips_and_a_redacted_one_reads_back_as_such() {
    let mut c = with_outputs(GOOD).unwrap();
    for s in c.secrets_mut() {
        *s.secret = Secret::new(format!("{SEALED_PREFIX}{}", s.owner));
    }
    let back = Config::from_toml(&c.to_toml()).unwrap();
    assert_eq!(back, c);
    assert!(back.secret_values().is_empty());
    let paths: Vec<String> = c.secrets_mut().into_iter().map(|s| s.path).collect();
    assert_eq!(
        paths,
        ["outputs.srt[0].passphrase", "outputs.rtmp[0].key"].map(String::from)
    );
}

fn errors(outputs: &str) -> Vec<FieldError> {
    with_outputs(outputs)
        .map(|_| Vec::new())
        .unwrap_or_else(|e| e.0)
}

fn srt(fields: &str) -> String {
    format!("[[outputs.srt]]\nname = \"o\"\nrung = \"720p\"\n{fields}\n")
}

fn rtmp(fields: &str) -> String {
    format!("[[outputs.rtmp]]\nname = \"r\"\nrung = \"720p\"\n{fields}\n")
}

#[test]
#[allow(clippy::too_many_lines)] // a table of cases
fn every_bad_uplink_names_its_field() {
    let caller = "mode = \"caller\"\nhost = \"127.0.0.1\"\nport = 9000";
    let rtmp_ok = "url = \"rtmp://127.0.0.1/live\"\nkey = \"k\"";
    let cases: Vec<(String, &str, &str)> = vec![
        (
            srt(&format!(
                "{caller}\nkey_length = 20\npassphrase = \"0123456789\""
            )),
            "outputs.srt[0].key_length",
            "16, 24 or 32",
        ),
        (
            srt(&format!("{caller}\nlatency_ms = 0")),
            "outputs.srt[0].latency_ms",
            "out of range",
        ),
        (
            srt(&format!("{caller}\nlatency_ms = 10001")),
            "outputs.srt[0].latency_ms",
            "out of range",
        ),
        (
            srt(&format!("{caller}\npassphrase = \"short\"")),
            "outputs.srt[0].passphrase",
            "10–79",
        ),
        (
            srt(&format!("{caller}\nkey_length = 16")),
            "outputs.srt[0].key_length",
            "needs a passphrase",
        ),
        (
            srt("mode = \"caller\"\nport = 9000"),
            "outputs.srt[0].host",
            "needs the host",
        ),
        (
            srt("mode = \"caller\"\nhost = \"bad host\"\nport = 9000"),
            "outputs.srt[0].host",
            "not a host",
        ),
        (
            srt("mode = \"listener\"\nhost = \"x\"\nport = 9000"),
            "outputs.srt[0].host",
            "no host to call",
        ),
        (
            srt("mode = \"listener\"\nbind = \"any\"\nport = 9000"),
            "outputs.srt[0].bind",
            "not a local IP",
        ),
        (
            srt("mode = \"caller\"\nhost = \"h\"\nport = 0"),
            "outputs.srt[0].port",
            "not a port",
        ),
        (
            srt("mode = \"rendezvous\"\nport = 1"),
            "outputs.srt[0].mode",
            "unknown variant",
        ),
        (
            srt(&format!(
                "{caller}\nadaptive = true\nmin_kbps = 5000\nmax_kbps = 4000"
            )),
            "outputs.srt[0].min_kbps",
            "below max_kbps",
        ),
        (
            srt(&format!("{caller}\nmax_kbps = 4000")),
            "outputs.srt[0].max_kbps",
            "adaptive = true",
        ),
        (
            srt(&format!("{caller}\nurl = \"x\"")),
            "outputs.srt[0].url",
            "unknown field",
        ),
        (
            format!("[[outputs.srt]]\nname = \"o\"\nrung = \"4k\"\n{caller}"),
            "outputs.srt[0].rung",
            "no rung \"4k\"",
        ),
        (
            rtmp("url = \"youtube.com/live\"\nkey = \"k\""),
            "outputs.rtmp[0].url",
            "not a URL",
        ),
        (
            rtmp("url = \"http://host/live\"\nkey = \"k\""),
            "outputs.rtmp[0].url",
            "unknown scheme",
        ),
        (
            rtmp("url = \"rtmp://host\"\nkey = \"k\""),
            "outputs.rtmp[0].url",
            "application",
        ),
        (
            rtmp("url = \"rtmp://host/live\"\nkey = \"\""),
            "outputs.rtmp[0].key",
            "empty",
        ),
        (
            rtmp("url = \"rtmp://host/live\"\nkey = \"has space\""),
            "outputs.rtmp[0].key",
            "no spaces",
        ),
        (
            rtmp("url = \"rtmp://host/live\""),
            "outputs.rtmp[0]",
            "missing field `key`",
        ),
        (
            format!("{}{}", srt(caller), rtmp(rtmp_ok)).replace("name = \"r\"", "name = \"o\""),
            "outputs.rtmp[0].name",
            "another destination",
        ),
    ];
    for (doc, path, why) in cases {
        let errs = errors(&doc);
        assert!(
            errs.iter()
                .any(|e| e.path == path && e.message.contains(why)),
            "expected {path}: …{why}… for\n{doc}\ngot {errs:?}"
        );
    }
}

#[test]
fn a_bad_key_is_never_echoed_in_its_error() {
    let errs = errors(&rtmp("url = \"rtmp://host/live\"\nkey = \"sekrit value\""));
    assert!(!errs.is_empty());
    assert!(
        errs.iter().all(|e| !e.message.contains("sekrit")),
        "{errs:?}"
    );
    let errs = errors(&srt(
        "mode = \"caller\"\nhost = \"h\"\nport = 1\npassphrase = \"tiny\"",
    ));
    assert!(errs.iter().all(|e| !e.message.contains("tiny")), "{errs:?}");
}
