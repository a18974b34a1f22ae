//! A real MQTT 5 broker for the fleet tests: Debian's `mosquitto` on loopback with TLS,
//! client certificates (the certificate's CN is the MQTT user) and a per-device ACL; a
//! test CA made with rcgen; and the `fourcast-fleet` tool and `mosquitto_pub`/`_sub` as
//! the fleet manager's side.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

use crate::peers::{Peer, require};

/// The tenant every fleet test uses.
pub const TENANT: &str = "acme";

/// A certificate authority for one test, and the files it issues.
pub struct Pki {
    pub dir: PathBuf,
    ca: Certificate,
    ca_key: KeyPair,
}

/// A certificate and its key on disk (the key 0600).
#[derive(Debug, Clone)]
pub struct Identity {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Pki {
    pub fn new(dir: &Path, name: &str) -> Pki {
        std::fs::create_dir_all(dir).expect("pki dir");
        let ca_key = KeyPair::generate().expect("CA key");
        let mut p = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name.push(DnType::CommonName, name);
        p.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = p.self_signed(&ca_key).expect("CA certificate");
        std::fs::write(dir.join(format!("{name}.crt")), ca.pem()).expect("CA file");
        Pki {
            dir: dir.to_path_buf(),
            ca,
            ca_key,
        }
    }

    /// The CA's certificate file.
    pub fn ca_file(&self) -> PathBuf {
        let name = self
            .ca
            .params()
            .distinguished_name
            .get(&DnType::CommonName)
            .map(|v| match v {
                rcgen::DnValue::Utf8String(s) => s.clone(),
                other => format!("{other:?}"),
            })
            .unwrap_or_default();
        self.dir.join(format!("{name}.crt"))
    }

    /// A certificate for `cn` (a client) or for the broker on 127.0.0.1 (`server`).
    pub fn issue(&self, cn: &str, server: bool) -> Identity {
        if server {
            self.issue_for(cn, &["localhost", "127.0.0.1"])
        } else {
            self.make(cn, &[], false)
        }
    }

    /// A server certificate for `cn` naming `hosts` (names or addresses).
    pub fn issue_for(&self, cn: &str, hosts: &[&str]) -> Identity {
        self.make(cn, hosts, true)
    }

    fn make(&self, cn: &str, hosts: &[&str], server: bool) -> Identity {
        use std::os::unix::fs::PermissionsExt;
        let key = KeyPair::generate().expect("key");
        let names: Vec<String> = hosts.iter().map(|h| h.to_string()).collect();
        let mut p = CertificateParams::new(names).expect("params");
        p.distinguished_name.push(DnType::CommonName, cn);
        p.extended_key_usages = vec![if server {
            ExtendedKeyUsagePurpose::ServerAuth
        } else {
            ExtendedKeyUsagePurpose::ClientAuth
        }];
        let cert = p
            .signed_by(&key, &self.ca, &self.ca_key)
            .expect("certificate");
        let id = Identity {
            cert: self.dir.join(format!("{cn}.crt")),
            key: self.dir.join(format!("{cn}.key")),
        };
        std::fs::write(&id.cert, cert.pem()).expect("cert file");
        std::fs::write(&id.key, key.serialize_pem()).expect("key file");
        std::fs::set_permissions(&id.key, std::fs::Permissions::from_mode(0o600)).expect("0600");
        id
    }
}

/// mosquitto with one TLS listener on loopback; killed when dropped.
pub struct Mosquitto {
    pub peer: Option<Peer>,
    pub port: u16,
    pub dir: PathBuf,
    pub ca: PathBuf,
    /// The fleet manager's identity (CN `fleet-tool`: the whole tenant).
    pub tool: Identity,
}

impl Mosquitto {
    /// Starts a broker whose CA is `pki`'s; boxes may use only `fourcast/v1/acme/<CN>/#`
    /// and the fleet tools' response topics.
    pub fn start(dir: &Path, pki: &Pki) -> Mosquitto {
        Mosquitto::start_on(dir, pki, crate::free_port(), &["localhost", "127.0.0.1"])
    }

    /// Like [`Mosquitto::start`], on `port`, its certificate valid for `hosts` (a VM
    /// reaches this machine's loopback as 10.0.2.2).
    pub fn start_on(dir: &Path, pki: &Pki, port: u16, hosts: &[&str]) -> Mosquitto {
        let server = pki.issue_for("broker", hosts);
        let tool = pki.issue("fleet-tool", false);
        let mut m = Mosquitto {
            peer: None,
            port,
            dir: dir.to_path_buf(),
            ca: pki.ca_file(),
            tool,
        };
        let acl = format!(
            "user fleet-tool\ntopic readwrite fourcast/v1/{TENANT}/#\n\n\
             pattern readwrite fourcast/v1/{TENANT}/%u/#\n\
             pattern write fourcast/v1/{TENANT}/_fleet/+/responses\n"
        );
        std::fs::write(dir.join("acl"), acl).expect("acl");
        let conf = format!(
            "user root\nper_listener_settings false\npersistence false\nallow_anonymous false\n\
             log_dest file {dir}/mosquitto.log\nlog_type error\nlog_type warning\nlog_type notice\nlog_type information\n\
             connection_messages true\nacl_file {dir}/acl\n\
             listener {port} 127.0.0.1\ncafile {ca}\ncertfile {cert}\nkeyfile {key}\n\
             require_certificate true\nuse_identity_as_username true\n",
            dir = dir.display(),
            port = m.port,
            ca = m.ca.display(),
            cert = server.cert.display(),
            key = server.key.display(),
        );
        std::fs::write(dir.join("mosquitto.conf"), conf).expect("mosquitto.conf");
        m.resume();
        m
    }

    /// (Re)starts the broker process on the same port and files.
    pub fn resume(&mut self) {
        require("mosquitto", "mosquitto");
        let mut cmd = Command::new("mosquitto");
        cmd.arg("-c").arg(self.dir.join("mosquitto.conf"));
        let peer = Peer::spawn(
            cmd,
            &self.dir.join("stdout"),
            &self.dir.join("mosquitto.out"),
            false,
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "mosquitto did not listen on {}: {}",
                self.port,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        self.peer = Some(peer);
    }

    /// Kills the broker (SIGKILL): every client loses it at once.
    pub fn kill(&mut self) {
        if let Some(mut p) = self.peer.take() {
            p.kill();
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("mosquitto.log")).unwrap_or_default()
    }

    pub fn url(&self) -> String {
        format!("mqtts://127.0.0.1:{}", self.port)
    }

    /// The `[fleet]` table for box `device` presenting `id` (telemetry every second, a
    /// 2-s Will Delay, tags `stage` and `venue-a`).
    pub fn fleet(&self, device: &str, id: &Identity) -> fourcast_config::Fleet {
        fourcast_config::Fleet {
            enabled: true,
            broker: self.url(),
            tenant: TENANT.into(),
            device_id: device.into(),
            cert: Some(id.cert.clone()),
            key: Some(id.key.clone()),
            ca: Some(self.ca.clone()),
            telemetry_s: 1,
            will_delay_s: 2,
            tags: vec!["stage".into(), "venue-a".into()],
            ..fourcast_config::Fleet::default()
        }
    }

    /// A request the tool would never send (`payload` as is), with a Response Topic; the
    /// box's answer on it, parsed (None after 10 s).
    pub fn raw_request(&self, topic: &str, payload: &[u8]) -> Option<serde_json::Value> {
        let responses = format!("fourcast/v1/{TENANT}/_fleet/raw/responses");
        let mut sub = self.client("mosquitto_sub");
        sub.args([
            "-i",
            "raw-responses",
            "-t",
            &responses,
            "-C",
            "1",
            "-W",
            "10",
        ])
        .stdout(std::process::Stdio::piped());
        let child = sub.spawn().expect("mosquitto_sub runs");
        std::thread::sleep(Duration::from_millis(400));
        let file = self.dir.join("raw-payload");
        std::fs::write(&file, payload).expect("payload file");
        self.raw_publish(
            topic,
            &file,
            &[("response-topic", &responses), ("correlation-data", "raw")],
        );
        let out = child.wait_with_output().expect("mosquitto_sub ends");
        serde_json::from_slice(String::from_utf8_lossy(&out.stdout).trim().as_bytes()).ok()
    }

    /// `mosquitto_pub` or `mosquitto_sub` speaking MQTT 5 to this broker as the fleet tool.
    fn client(&self, program: &str) -> Command {
        require(program, "mosquitto-clients");
        let mut cmd = Command::new(program);
        cmd.args([
            "-h",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "-V",
            "mqttv5",
        ])
        .arg("--cafile")
        .arg(&self.ca)
        .arg("--cert")
        .arg(&self.tool.cert)
        .arg("--key")
        .arg(&self.tool.key);
        cmd
    }

    /// `fourcast-fleet` as the fleet manager, not started (for one that runs on).
    pub fn tool_command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(fleet_tool());
        c.args(["--broker", &self.url(), "--tenant", TENANT])
            .arg("--ca")
            .arg(&self.ca)
            .arg("--cert")
            .arg(&self.tool.cert)
            .arg("--key")
            .arg(&self.tool.key)
            .args(args);
        c
    }

    /// Runs `fourcast-fleet` as the fleet manager.
    pub fn tool(&self, args: &[&str]) -> Output {
        self.tool_command(args)
            .output()
            .expect("fourcast-fleet runs")
    }

    /// `fourcast-fleet --json …`, parsed (its exit status is not judged here).
    pub fn tool_json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.tool(&all);
        let text = String::from_utf8_lossy(&out.stdout);
        serde_json::from_str(text.trim()).unwrap_or_else(|e| {
            panic!(
                "fourcast-fleet {args:?}: {e}\nstdout: {text}\nstderr: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
    }

    /// `mosquitto_pub` as the fleet tool, MQTT 5 (for payloads the tool would never send).
    pub fn raw_publish(&self, topic: &str, payload_file: &Path, properties: &[(&str, &str)]) {
        let mut cmd = self.client("mosquitto_pub");
        cmd.args(["-q", "1", "-i", "raw-pub", "-t", topic, "-f"])
            .arg(payload_file);
        for (name, value) in properties {
            cmd.args(["-D", "publish", name, value]);
        }
        let out = cmd.output().expect("mosquitto_pub runs");
        assert!(
            out.status.success(),
            "mosquitto_pub: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The retained message on `topic` (`mosquitto_sub`, up to 5 s), parsed.
    pub fn retained(&self, topic: &str) -> Option<serde_json::Value> {
        let out = self
            .client("mosquitto_sub")
            .args([
                "-i",
                "raw-sub",
                "-t",
                topic,
                "-C",
                "1",
                "-W",
                "5",
                "--retained-only",
            ])
            .output()
            .expect("mosquitto_sub runs");
        let text = String::from_utf8_lossy(&out.stdout);
        serde_json::from_str(text.trim()).ok()
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The fleet tool binary: the release build beside the daemon's.
pub fn fleet_tool() -> PathBuf {
    let bin = crate::fourcastd().with_file_name("fourcast-fleet");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build --release -p fourcast-fleet-tool` first (make test does)",
        bin.display()
    );
    bin
}
