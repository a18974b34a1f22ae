//! Firmware versions (`MAJOR.MINOR.PATCH[-PRE]`), and the downgrade rule RAUC 1.8 does not
//! enforce itself (it has no `min-bundle-version`): the agent reads the bundle's manifest
//! and refuses an older version unless the job allows it.

use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub numbers: [u64; 3],
    /// A pre-release (`1.2.0-rc1`) sorts before its release.
    pub pre: Option<String>,
}

impl Version {
    pub fn parse(text: &str) -> Result<Version, String> {
        let t = text.trim().trim_start_matches('v');
        let (core, pre) = match t.split_once('-') {
            Some((c, p)) if !p.is_empty() => (c, Some(p.to_string())),
            Some(_) => return Err(format!("version {text:?}: empty pre-release")),
            None => (t, None),
        };
        let parts: Vec<&str> = core.split('.').collect();
        if parts.len() != 3 {
            return Err(format!("version {text:?}: use MAJOR.MINOR.PATCH"));
        }
        let mut numbers = [0u64; 3];
        for (n, p) in numbers.iter_mut().zip(parts) {
            *n = p
                .parse()
                .map_err(|_| format!("version {text:?}: {p:?} is not a number"))?;
        }
        Ok(Version { numbers, pre })
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Version) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Version) -> Ordering {
        self.numbers
            .cmp(&other.numbers)
            .then_with(|| match (&self.pre, &other.pre) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(a), Some(b)) => a.cmp(b),
            })
    }
}

/// Whether a bundle of `offered` may replace `running`: newer always; the same or older
/// only when the job allows a downgrade (reinstalling the same version is a downgrade's
/// cousin: it changes nothing a fleet manager asked for).
pub fn may_install(running: &str, offered: &str, allow_downgrade: bool) -> Result<(), String> {
    let (r, o) = (Version::parse(running)?, Version::parse(offered)?);
    if o > r || allow_downgrade {
        Ok(())
    } else {
        Err(format!(
            "the bundle is version {offered}, not newer than the running {running}: a downgrade needs the job to allow it"
        ))
    }
}

/// The firmware's version from an os-release file (`VERSION_ID=…`, quotes allowed): what
/// the image a box booted says it is. Stops at a NUL, as a raw slot holds the file padded.
pub fn from_os_release(text: &str) -> Option<String> {
    let text = text.split('\0').next().unwrap_or_default();
    text.lines().find_map(|l| {
        let v = l.trim().strip_prefix("VERSION_ID=")?;
        let v = v.trim_matches(|c| c == '"' || c == '\'');
        (!v.is_empty()).then(|| v.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_booted_images_version_from_os_release() {
        let text = "NAME=\"Fourcast\"\nVERSION_ID=\"0.2.0\"\nID=fourcast\n";
        assert_eq!(from_os_release(text).as_deref(), Some("0.2.0"));
        assert_eq!(
            from_os_release("VERSION_ID=0.3.0\n\0\0VERSION_ID=9.9.9").as_deref(),
            Some("0.3.0")
        );
        assert_eq!(from_os_release("ID=debian\n"), None);
    }

    #[test]
    fn versions_order_with_pre_releases_first() {
        let v = |t| Version::parse(t).unwrap();
        assert!(v("0.2.0") > v("0.1.9"));
        assert!(v("1.10.0") > v("1.9.3"), "numbers, not text");
        assert!(v("1.2.0") > v("1.2.0-rc2"));
        assert!(v("1.2.0-rc2") > v("1.2.0-rc1"));
        assert_eq!(v("v1.2.3"), v("1.2.3"));
        for bad in ["1.2", "1.2.x", "", "1.2.3-", "a.b.c"] {
            assert!(Version::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn downgrades_and_reinstalls_need_the_jobs_leave() {
        assert!(may_install("0.1.0", "0.2.0", false).is_ok());
        let e = may_install("0.2.0", "0.1.0", false).unwrap_err();
        assert!(e.contains("downgrade"), "{e}");
        assert!(may_install("0.2.0", "0.2.0", false).is_err());
        assert!(may_install("0.2.0", "0.1.0", true).is_ok());
        assert!(
            may_install("0.2.0", "garbage", true).is_err(),
            "a bad version is never installed"
        );
    }
}
