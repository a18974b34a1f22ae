//! The virtual board's bootloader, played by the harness between two runs of QEMU: the
//! boot environment RAUC's custom backend (`hil/vm/bootenv.sh`) keeps on a small disk, and
//! the choice a U-Boot boot script makes from it. Each slot has a count of boots left; a
//! boot takes one; `Mark good` fills it again; a slot at 0 is skipped, so a firmware that
//! never gets marked good falls back to the other slot after `TRIES` boots.
//!
//! The text on the disk (one 512-byte sector, NUL-padded):
//! `order=B A\nA=3\nB=2\n`

pub(crate) const TRIES: u8 = 3;
pub(crate) const SECTOR: usize = 512;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BootEnv {
    /// The slots in the order tried (bootnames `A`, `B`).
    pub(crate) order: Vec<String>,
    pub(crate) left_a: u8,
    pub(crate) left_b: u8,
}

impl BootEnv {
    /// A board as flashed at the factory: A first, both slots with full counts.
    pub(crate) fn factory() -> BootEnv {
        BootEnv {
            order: vec!["A".into(), "B".into()],
            left_a: TRIES,
            left_b: TRIES,
        }
    }

    pub(crate) fn parse(sector: &[u8]) -> Result<BootEnv, String> {
        let text = String::from_utf8_lossy(sector);
        let text = text.trim_end_matches('\0');
        let mut env = BootEnv {
            order: Vec::new(),
            left_a: 0,
            left_b: 0,
        };
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let (key, value) = line
                .split_once('=')
                .ok_or_else(|| format!("boot environment: {line:?} is not key=value"))?;
            let count = || {
                value
                    .trim()
                    .parse::<u8>()
                    .map_err(|_| format!("boot environment: {key}={value:?} is not a count"))
            };
            match key.trim() {
                "order" => env.order = value.split_whitespace().map(String::from).collect(),
                "A" => env.left_a = count()?,
                "B" => env.left_b = count()?,
                other => return Err(format!("boot environment: unknown key {other:?}")),
            }
        }
        if env.order.is_empty() || env.order.iter().any(|s| s != "A" && s != "B") {
            return Err(format!(
                "boot environment: order {:?} names no slot",
                env.order
            ));
        }
        Ok(env)
    }

    pub(crate) fn to_sector(&self) -> Vec<u8> {
        let mut bytes = format!(
            "order={}\nA={}\nB={}\n",
            self.order.join(" "),
            self.left_a,
            self.left_b
        )
        .into_bytes();
        bytes.resize(SECTOR, 0);
        bytes
    }

    fn left(&mut self, slot: &str) -> &mut u8 {
        if slot == "A" {
            &mut self.left_a
        } else {
            &mut self.left_b
        }
    }

    /// One boot: the first slot in the order with boots left, its count taken down by one.
    /// When every slot is spent, the counts are filled again and the first slot boots (a
    /// box never stays dark).
    pub(crate) fn boot(&mut self) -> String {
        let order = self.order.clone();
        for slot in &order {
            let left = self.left(slot);
            if *left > 0 {
                *left -= 1;
                return slot.clone();
            }
        }
        self.left_a = TRIES;
        self.left_b = TRIES;
        let first = order[0].clone();
        *self.left(&first) -= 1;
        first
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_never_marked_good_falls_back_after_its_tries() {
        let mut env = BootEnv::parse(b"order=B A\nA=3\nB=3\n\0\0").unwrap();
        assert_eq!(env.boot(), "B");
        assert_eq!(env.boot(), "B");
        assert_eq!(env.boot(), "B");
        assert_eq!(env.boot(), "A");
        assert_eq!((env.left_a, env.left_b), (2, 0));
    }

    #[test]
    fn the_text_on_the_disk_round_trips_and_bad_text_is_named() {
        let env = BootEnv::factory();
        let sector = env.to_sector();
        assert_eq!(sector.len(), SECTOR);
        assert!(sector.starts_with(b"order=A B\nA=3\nB=3\n\0"));
        assert_eq!(BootEnv::parse(&sector).unwrap(), env);
        assert!(
            BootEnv::parse(b"order=C\n")
                .unwrap_err()
                .contains("names no slot")
        );
        assert!(
            BootEnv::parse(b"order=A\nA=x\n")
                .unwrap_err()
                .contains("A=\"x\"")
        );
        assert!(
            BootEnv::parse(b"order=A\nboot\n")
                .unwrap_err()
                .contains("key=value")
        );
    }

    #[test]
    fn when_every_slot_is_spent_the_counts_refill_and_the_first_boots() {
        let mut env = BootEnv::parse(b"order=A B\nA=0\nB=0\n").unwrap();
        assert_eq!(env.boot(), "A");
        assert_eq!((env.left_a, env.left_b), (TRIES - 1, TRIES));
    }
}
