//! Optional HTTPS: the box serves UI, API and HLS over TLS with a per-device self-signed
//! certificate (verified here against the certificate file, not skipped), sessions opened
//! over HTTPS get a `Secure` cookie, the key file is private, and the certificate survives a
//! restart.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::Duration;

use fourcast_e2e::{Daemon, default_config, free_port};

fn curl(cert: &std::path::Path, args: &[&str]) -> (bool, String) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "--cacert"])
        .arg(cert)
        .args(args)
        .output()
        .expect("curl runs");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn sha256_of_pem(cert: &std::path::Path) -> String {
    let script = "import ssl,hashlib,sys; d=ssl.PEM_cert_to_DER_cert(open(sys.argv[1]).read()); \
                  print(':'.join('%02X'%b for b in hashlib.sha256(d).digest()))";
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(cert)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn https_serves_everything_with_a_per_device_certificate_and_secure_cookies() {
    let port = free_port();
    let d = Daemon::start(Some(&default_config(|c| {
        c.http.https_listen = Some(format!("127.0.0.1:{port}"));
    })));
    let tls = d.data.0.join("data/tls");
    let (cert, key) = (tls.join("cert.pem"), tls.join("key.pem"));
    let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the private key is private");
    let base = format!("https://127.0.0.1:{port}");

    // Verified against the box's own certificate (no -k): it names 127.0.0.1.
    let (ok, text) = curl(&cert, &[&format!("{base}/api/v1/setup")]);
    assert!(ok && text.contains("needed"), "{text}");
    let (ok, text) = curl(&cert, &[&format!("{base}/")]);
    assert!(ok && text.contains("Fourcast"), "{text}");
    // Not trusted by a client without it.
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", &format!("{base}/")])
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "a self-signed certificate is not publicly trusted"
    );

    // Sign-in over HTTPS: the cookie is Secure; over plain HTTP it cannot be.
    let body = format!(r#"{{"password":"{}"}}"#, d.password);
    let (ok, text) = curl(
        &cert,
        &[
            "-D",
            "-",
            "-H",
            "Content-Type: application/json",
            "-d",
            &body,
            &format!("{base}/api/v1/login"),
        ],
    );
    assert!(ok, "{text}");
    let cookie = text
        .lines()
        .find(|l| l.to_lowercase().starts_with("set-cookie:"))
        .unwrap_or("");
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Strict")
            && cookie.contains("Secure"),
        "{cookie}"
    );
    let plain = fourcast_e2e::http_send(
        d.port,
        "POST",
        "/api/v1/login",
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
    .unwrap();
    assert_eq!(plain.status, 200);
    assert!(!plain.header("set-cookie").unwrap().contains("Secure"));

    // The API with a token, and the device info's fingerprint is the certificate's.
    let auth = format!("Authorization: Bearer {}", d.token);
    let (ok, text) = curl(&cert, &["-H", &auth, &format!("{base}/api/v1/device")]);
    assert!(ok, "{text}");
    let device: serde_json::Value = serde_json::from_str(&text).unwrap();
    let fingerprint = sha256_of_pem(&cert);
    assert_eq!(fingerprint.len(), 95, "{fingerprint}");
    assert_eq!(device["https"]["fingerprint"], fingerprint.as_str());

    // The same certificate after a restart.
    d.signal(libc::SIGTERM);
    let d = Daemon::restart(d);
    let (ok, text) = curl(
        &cert,
        &[
            "-H",
            &format!("Authorization: Bearer {}", d.token),
            &format!("{base}/api/v1/device"),
        ],
    );
    assert!(ok, "{text}");
    let device: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(device["https"]["fingerprint"], fingerprint.as_str());

    // Plain HTTP sent to HTTPS when asked: the UI and the API move, HLS stays on both.
    let base_revision = d.json("/api/v1/config")["revision"].clone();
    let patch = serde_json::json!({
        "base_revision": base_revision,
        "patch": { "http": { "redirect_to_https": true } }
    });
    let r = d.send(
        "PATCH",
        "/api/v1/config",
        &[("Content-Type", "application/json")],
        patch.to_string().as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let moved = fourcast_e2e::http_request(d.port, "GET", "/api/v1/device?x=1", &[]).unwrap();
    assert_eq!(moved.status, 308);
    assert_eq!(
        moved.header("location"),
        Some(format!("https://127.0.0.1:{port}/api/v1/device?x=1").as_str())
    );
    let mut d = d;
    d.wait_until("HLS over plain HTTP", Duration::from_secs(30), |d| {
        fourcast_e2e::http_request(d.port, "GET", "/hls/master.m3u8", &[])
            .is_ok_and(|r| r.status == 200)
    });
    let (ok, text) = curl(&cert, &[&format!("{base}/")]);
    assert!(ok && text.contains("Fourcast"), "{text}");
}
