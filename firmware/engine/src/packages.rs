//! Which Debian 12 package ships each GStreamer element the engine can ask for, so that a
//! missing element is reported with the package that installs it. `make deps` installs every
//! package marked [`Source::Debian`]; the tests below hold this table, the engine's source and
//! the Makefile to each other.

/// Where an element comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A Debian 12 package that `make deps` installs on every machine.
    Debian(&'static str),
    /// A board's own stack (hardware encoders): present only on that board.
    Board(&'static str),
}

/// Every element the engine makes, and where it comes from. Keep it sorted by element.
pub const ELEMENTS: &[(&str, Source)] = &[
    ("aacparse", Source::Debian("gstreamer1.0-plugins-good")),
    ("alsasrc", Source::Debian("gstreamer1.0-alsa")),
    ("appsink", Source::Debian("gstreamer1.0-plugins-base")),
    ("appsrc", Source::Debian("gstreamer1.0-plugins-base")),
    ("audioconvert", Source::Debian("gstreamer1.0-plugins-base")),
    ("audiomixer", Source::Debian("gstreamer1.0-plugins-base")),
    ("audioresample", Source::Debian("gstreamer1.0-plugins-base")),
    ("audiotestsrc", Source::Debian("gstreamer1.0-plugins-base")),
    ("avenc_aac", Source::Debian("gstreamer1.0-libav")),
    ("capsfilter", Source::Debian("libgstreamer1.0-0")),
    ("clockoverlay", Source::Debian("gstreamer1.0-x")),
    ("decodebin", Source::Debian("gstreamer1.0-plugins-base")),
    (
        "fdkaacenc",
        Source::Board("gst-plugins-bad built with libfdk-aac (not in Debian main)"),
    ),
    ("filesrc", Source::Debian("libgstreamer1.0-0")),
    ("flvdemux", Source::Debian("gstreamer1.0-plugins-good")),
    ("flvmux", Source::Debian("gstreamer1.0-plugins-good")),
    ("h264parse", Source::Debian("gstreamer1.0-plugins-bad")),
    ("hlssink2", Source::Debian("gstreamer1.0-plugins-bad")),
    ("jpegdec", Source::Debian("gstreamer1.0-plugins-good")),
    ("jpegenc", Source::Debian("gstreamer1.0-plugins-good")),
    ("mp4mux", Source::Debian("gstreamer1.0-plugins-good")),
    ("mpegtsmux", Source::Debian("gstreamer1.0-plugins-bad")),
    (
        "mpph264enc",
        Source::Board("Rockchip MPP (gstreamer-rockchip)"),
    ),
    (
        "mppjpegdec",
        Source::Board("Rockchip MPP (gstreamer-rockchip)"),
    ),
    (
        "nvjpegdec",
        Source::Board("NVIDIA JetPack (nvidia-l4t-gstreamer)"),
    ),
    (
        "nvv4l2h264enc",
        Source::Board("NVIDIA JetPack (nvidia-l4t-gstreamer)"),
    ),
    ("pngdec", Source::Debian("gstreamer1.0-plugins-good")),
    ("queue", Source::Debian("libgstreamer1.0-0")),
    ("rtmp2sink", Source::Debian("gstreamer1.0-plugins-bad")),
    ("srtsink", Source::Debian("gstreamer1.0-plugins-bad")),
    ("srtsrc", Source::Debian("gstreamer1.0-plugins-bad")),
    ("tee", Source::Debian("libgstreamer1.0-0")),
    ("textoverlay", Source::Debian("gstreamer1.0-x")),
    (
        "timecodestamper",
        Source::Debian("gstreamer1.0-plugins-bad"),
    ),
    ("timeoverlay", Source::Debian("gstreamer1.0-x")),
    (
        "v4l2h264enc",
        Source::Board("gstreamer1.0-plugins-good, with a V4L2 M2M encoder device"),
    ),
    ("v4l2src", Source::Debian("gstreamer1.0-plugins-good")),
    (
        "vaapih264enc",
        Source::Board("gstreamer1.0-vaapi, with a VA-API device"),
    ),
    (
        "vaapijpegdec",
        Source::Board("gstreamer1.0-vaapi, with a VA-API device"),
    ),
    (
        "vah264enc",
        Source::Board("gstreamer1.0-plugins-bad, with a VA-API device"),
    ),
    (
        "vajpegdec",
        Source::Board("gstreamer1.0-plugins-bad, with a VA-API device"),
    ),
    ("videoconvert", Source::Debian("gstreamer1.0-plugins-base")),
    ("videorate", Source::Debian("gstreamer1.0-plugins-base")),
    ("videoscale", Source::Debian("gstreamer1.0-plugins-base")),
    ("videotestsrc", Source::Debian("gstreamer1.0-plugins-base")),
    ("voaacenc", Source::Debian("gstreamer1.0-plugins-bad")),
    ("x264enc", Source::Debian("gstreamer1.0-plugins-ugly")),
];

/// Where `element` comes from, if the engine knows it.
pub fn source(element: &str) -> Option<Source> {
    ELEMENTS
        .iter()
        .find(|(name, _)| *name == element)
        .map(|(_, source)| *source)
}

/// The sentence that reports a missing element, naming what installs it.
pub fn missing(element: &str) -> String {
    match source(element) {
        Some(Source::Debian(package)) => format!(
            "GStreamer element \"{element}\" is not installed (Debian package {package}: `apt-get install {package}`, or `make deps`)"
        ),
        Some(Source::Board(from)) => {
            format!("GStreamer element \"{element}\" is not installed (it comes from {from})")
        }
        None => format!("GStreamer element \"{element}\" is not installed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gst::prelude::*;
    use std::path::{Path, PathBuf};

    fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("readable source dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    /// Every element the engine makes by name (`make` with a literal), and the encoders and
    /// JPEG decoders it may choose.
    fn asked_for() -> Vec<String> {
        let mut files = Vec::new();
        sources(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut files,
        );
        let mut names = Vec::new();
        for file in files {
            let text = std::fs::read_to_string(&file).expect("readable source");
            for (i, _) in text.match_indices("make(\"") {
                let rest = &text[i + 6..];
                let name = &rest[..rest.find('"').expect("closing quote")];
                if name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                {
                    names.push(name.to_string());
                }
            }
        }
        names.extend(
            crate::requirements::REQUIRED
                .iter()
                .map(|(e, _)| e.to_string()),
        );
        names.extend(
            crate::ladder::encoder::AAC_ENCODERS
                .iter()
                .map(|e| e.to_string()),
        );
        for board in fourcast_board::names() {
            let profile = fourcast_board::profile(board).expect("profile parses");
            names.extend(profile.encoders);
            names.extend(profile.jpeg_decoders);
        }
        // A camera's MJPEG is decoded in software where the board has no decoder.
        names.push(crate::inputs::capture::SOFTWARE_JPEG.to_string());
        names.sort();
        names.dedup();
        names
    }

    #[test]
    fn every_element_the_engine_makes_has_a_source() {
        let names = asked_for();
        assert!(
            names.len() > 20,
            "the scan found too few elements: {names:?}"
        );
        let unknown: Vec<_> = names.iter().filter(|n| source(n).is_none()).collect();
        assert!(
            unknown.is_empty(),
            "add these elements to packages::ELEMENTS: {unknown:?}"
        );
    }

    #[test]
    fn the_missing_element_error_names_the_package_for_every_element() {
        for (element, source) in ELEMENTS {
            let text = crate::EngineError::MissingElement(element.to_string()).to_string();
            assert!(text.contains(&format!("\"{element}\"")), "{text}");
            let from = match source {
                Source::Debian(p) => *p,
                Source::Board(b) => *b,
            };
            assert!(text.contains(from), "{element}: {text}");
        }
        assert!(
            ELEMENTS.windows(2).all(|w| w[0].0 < w[1].0),
            "keep ELEMENTS sorted"
        );
    }

    #[test]
    fn the_makefile_installs_every_debian_package() {
        let makefile =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Makefile"))
                .expect("the workspace Makefile");
        let words: Vec<&str> = makefile.split_whitespace().collect();
        for (element, source) in ELEMENTS {
            // libgstreamer1.0-0 is GStreamer itself: every plugin package depends on it.
            if let Source::Debian(package) = source
                && *package != "libgstreamer1.0-0"
            {
                assert!(
                    words.contains(package),
                    "{element} needs {package}, which the Makefile does not install"
                );
            }
        }
    }

    /// On this machine (Debian, after `make deps`): every Debian element is installed, and
    /// the package that owns its plugin file is the one the table names.
    #[test]
    fn every_debian_element_is_installed_from_the_named_package() {
        gst::init().expect("GStreamer starts");
        for (element, source) in ELEMENTS {
            let Source::Debian(package) = source else {
                continue;
            };
            let factory = gst::ElementFactory::find(element)
                .unwrap_or_else(|| panic!("{}", missing(element)));
            let plugin = factory.plugin().expect("a factory belongs to a plugin");
            let file = plugin
                .filename()
                .unwrap_or_else(|| panic!("{element}: its plugin has no file"));
            // Debian 12 merged /lib into /usr/lib; dpkg knows the /usr path.
            let file = match file.strip_prefix("/lib") {
                Ok(rest) => Path::new("/usr/lib").join(rest),
                Err(_) => file,
            };
            let out = std::process::Command::new("dpkg")
                .arg("-S")
                .arg(&file)
                .output()
                .expect("dpkg runs (these tests run on Debian 12)");
            let owner = String::from_utf8_lossy(&out.stdout);
            let owner = owner.split(':').next().unwrap_or("").trim();
            assert_eq!(owner, *package, "{element} ({})", file.display());
        }
    }
}
