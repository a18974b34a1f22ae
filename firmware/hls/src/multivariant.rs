use std::fmt::Write;

/// One rung as the multivariant playlist lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    /// Media playlist URI relative to the multivariant playlist.
    pub uri: String,
    /// Peak segment bit rate, bits/s.
    pub bandwidth: u64,
    /// Average segment bit rate, bits/s.
    pub average_bandwidth: u64,
    /// RFC 6381 codecs (`avc1.64001f,mp4a.40.2`).
    pub codecs: String,
    pub width: u32,
    pub height: u32,
    pub frame_rate: f64,
}

/// The multivariant ("master") playlist text, variants in the order given.
pub fn render_multivariant(variants: &[Variant]) -> String {
    let mut s = String::from("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    for v in variants {
        let _ = write!(
            s,
            "#EXT-X-STREAM-INF:BANDWIDTH={},AVERAGE-BANDWIDTH={},CODECS=\"{}\",RESOLUTION={}x{},FRAME-RATE={:.3}\n{}\n",
            v.bandwidth, v.average_bandwidth, v.codecs, v.width, v.height, v.frame_rate, v.uri
        );
    }
    s
}

/// RFC 6381 `avc1.PPCCLL` from the profile and level names GStreamer's `h264parse` puts in
/// caps. Players (hls.js, Safari) use it to decide whether they can play a variant before
/// fetching it, so the level must be the stream's real one, not a guess.
pub fn avc1_codec(profile: &str, level: &str) -> Option<String> {
    let (profile_idc, constraints) = match profile {
        "constrained-baseline" => (66, 0xe0),
        "baseline" => (66, 0x00),
        "main" => (77, 0x40),
        "extended" => (88, 0x00),
        "high" | "progressive-high" => (100, 0x00),
        "constrained-high" => (100, 0x0c),
        "high-10" => (110, 0x00),
        "high-4:2:2" => (122, 0x00),
        "high-4:4:4" => (244, 0x00),
        _ => return None,
    };
    let level_idc: u32 = match level {
        "1b" => 11,
        l => {
            let (major, minor) = l.split_once('.').unwrap_or((l, "0"));
            major.parse::<u32>().ok()? * 10 + minor.parse::<u32>().ok()?
        }
    };
    Some(format!(
        "avc1.{profile_idc:02x}{constraints:02x}{level_idc:02x}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codec_strings_carry_profile_and_level() {
        assert_eq!(avc1_codec("high", "3.1").as_deref(), Some("avc1.64001f"));
        assert_eq!(avc1_codec("high", "4").as_deref(), Some("avc1.640028"));
        assert_eq!(avc1_codec("main", "3").as_deref(), Some("avc1.4d401e"));
        assert_eq!(
            avc1_codec("constrained-baseline", "2.1").as_deref(),
            Some("avc1.42e015")
        );
        assert_eq!(avc1_codec("mystery", "3.1"), None);
        assert_eq!(avc1_codec("high", "x"), None);
    }

    #[test]
    fn renders_every_attribute_and_parses_back() {
        let text = render_multivariant(&[Variant {
            uri: "720p/index.m3u8".into(),
            bandwidth: 3_100_000,
            average_bandwidth: 2_900_000,
            codecs: "avc1.64001f,mp4a.40.2".into(),
            width: 1280,
            height: 720,
            frame_rate: 30.0,
        }]);
        assert_eq!(
            text,
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n\
             #EXT-X-STREAM-INF:BANDWIDTH=3100000,AVERAGE-BANDWIDTH=2900000,\
             CODECS=\"avc1.64001f,mp4a.40.2\",RESOLUTION=1280x720,FRAME-RATE=30.000\n\
             720p/index.m3u8\n"
        );
        let Ok(m3u8_rs::Playlist::MasterPlaylist(m)) = m3u8_rs::parse_playlist_res(text.as_bytes())
        else {
            panic!("not a multivariant playlist")
        };
        let v = &m.variants[0];
        assert_eq!(v.bandwidth, 3_100_000);
        assert_eq!(v.average_bandwidth, Some(2_900_000));
        assert_eq!(v.codecs.as_deref(), Some("avc1.64001f,mp4a.40.2"));
    }
}
