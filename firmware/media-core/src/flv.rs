//! FLV framing (pure): what RTMP carries is FLV tag bodies; the RTMP ingest hands the
//! engine a FLV stream built from them.

pub const AUDIO: u8 = 8;
pub const VIDEO: u8 = 9;

/// The file header for a stream with audio and video, and the first (zero) back-pointer.
pub fn header() -> [u8; 13] {
    [b'F', b'L', b'V', 1, 0x05, 0, 0, 0, 9, 0, 0, 0, 0]
}

/// Appends one tag and its back-pointer to `out`.
pub fn tag(out: &mut Vec<u8>, tag_type: u8, timestamp_ms: u32, data: &[u8]) {
    let size = data.len().min(0xff_ffff) as u32;
    out.push(tag_type);
    out.extend_from_slice(&size.to_be_bytes()[1..]);
    out.extend_from_slice(&(timestamp_ms & 0xff_ffff).to_be_bytes()[1..]);
    out.push((timestamp_ms >> 24) as u8);
    out.extend_from_slice(&[0, 0, 0]);
    out.extend_from_slice(&data[..size as usize]);
    out.extend_from_slice(&(11 + size).to_be_bytes());
}

/// An AVC sequence header or an AAC sequence header: the codec set-up.
pub fn is_setup(tag_type: u8, data: &[u8]) -> bool {
    match (tag_type, data) {
        (VIDEO, [first, 0, ..]) => first & 0x0f == 7,
        (AUDIO, [first, 0, ..]) => first >> 4 == 10,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_is_framed_with_size_time_and_back_pointer() {
        let mut out = Vec::new();
        tag(&mut out, VIDEO, 0x0123_4567, &[0x17, 1, 2]);
        assert_eq!(
            out,
            [
                9, 0, 0, 3, 0x23, 0x45, 0x67, 0x01, 0, 0, 0, 0x17, 1, 2, 0, 0, 0, 14
            ]
        );
    }

    #[test]
    fn setup_tags_are_recognised() {
        assert!(is_setup(VIDEO, &[0x17, 0, 0, 0, 0]));
        assert!(!is_setup(VIDEO, &[0x17, 1, 0, 0, 0]));
        assert!(is_setup(AUDIO, &[0xaf, 0, 0x12, 0x10]));
        assert!(!is_setup(AUDIO, &[0xaf, 1]));
        assert!(!is_setup(AUDIO, &[]));
    }
}
