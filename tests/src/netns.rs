//! A network namespace joined to the host by a veth pair, with `tc` caps either way: the
//! far side of a venue's link (receivers, update servers) for tests that shape it.

use std::process::Command;

use crate::peers::require;

/// A namespace joined to this one by a veth pair; removed when dropped.
pub struct Netns {
    pub name: String,
    pub host_if: String,
    pub peer_if: String,
    pub host_ip: String,
    pub peer_ip: String,
}

fn run(args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Netns {
    pub fn create() -> Netns {
        require("ip", "iproute2");
        require("tc", "iproute2");
        let id = std::process::id() % 10_000;
        let subnet = 1 + std::process::id() % 250;
        let peer_if = format!("fcp{id}");
        let ns = Netns {
            name: format!("fc-rx-{id}"),
            host_if: format!("fch{id}"),
            peer_if: peer_if.clone(),
            host_ip: format!("10.213.{subnet}.1"),
            peer_ip: format!("10.213.{subnet}.2"),
        };
        let _ = Command::new("ip").args(["netns", "del", &ns.name]).output();
        run(&["ip", "netns", "add", &ns.name]);
        run(&[
            "ip",
            "link",
            "add",
            &ns.host_if,
            "type",
            "veth",
            "peer",
            "name",
            &peer_if,
        ]);
        run(&["ip", "link", "set", &peer_if, "netns", &ns.name]);
        run(&[
            "ip",
            "addr",
            "add",
            &format!("{}/30", ns.host_ip),
            "dev",
            &ns.host_if,
        ]);
        run(&["ip", "link", "set", &ns.host_if, "up"]);
        let inside = |args: &[&str]| {
            let mut full = vec!["ip", "netns", "exec", &ns.name];
            full.extend_from_slice(args);
            run(&full);
        };
        inside(&[
            "ip",
            "addr",
            "add",
            &format!("{}/30", ns.peer_ip),
            "dev",
            &peer_if,
        ]);
        inside(&["ip", "link", "set", &peer_if, "up"]);
        inside(&["ip", "link", "set", "lo", "up"]);
        ns
    }

    /// Caps what the box sends towards the namespace.
    pub fn cap(&self, rate: &str) {
        run(&[
            "tc",
            "qdisc",
            "replace",
            "dev",
            &self.host_if,
            "root",
            "tbf",
            "rate",
            rate,
            "burst",
            "32kbit",
            "latency",
            "300ms",
        ]);
    }

    pub fn uncap(&self) {
        run(&["tc", "qdisc", "del", "dev", &self.host_if, "root"]);
    }

    /// A command run inside the namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_if])
            .output();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}
