//! The pictures the mixer paints over inputs and the program: slates for inputs without a
//! signal, the logo and the lower third.
//!
//! Each is rendered once, when the config asks for it, by a short GStreamer pipeline (Pango
//! text through `textoverlay`, PNGs through `pngdec`), never per frame: per frame the mixer
//! only blends ([`paint`]).

use gst::prelude::*;
use gst_video::prelude::*;

use crate::make;
use crate::scale::{Plane, PlaneMut};

/// A tight I420 picture.
#[derive(Debug, Clone, PartialEq)]
pub struct Picture {
    pub width: usize,
    pub height: usize,
    pub data: Vec<u8>,
}

impl Picture {
    pub fn plane(&self, p: usize) -> Plane<'_> {
        let (w, h) = (self.width, self.height);
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        let (start, width, height) = match p {
            0 => (0, w, h),
            1 => (w * h, cw, ch),
            _ => (w * h + cw * ch, cw, ch),
        };
        Plane {
            data: &self.data[start..start + width * height],
            width,
            height,
            stride: width,
        }
    }
}

/// A picture with per-pixel alpha (AYUV, 4 bytes a pixel) at a place on the program.
#[derive(Debug, Clone, PartialEq)]
pub struct Graphic {
    pub x: usize,
    pub y: usize,
    pub width: usize,
    pub height: usize,
    pub ayuv: Vec<u8>,
}

/// Size of a slate; the mixer scales it into whatever tile the input has.
pub const SLATE_SIZE: (u32, u32) = (640, 360);

/// "CAM 2 — no signal" on dark grey.
pub fn slate(label: &str, what: &str) -> Result<Picture, String> {
    let (w, h) = SLATE_SIZE;
    let markup = format!(
        "<b>{}</b>\n<span size='70%'>{}</span>",
        glib::markup_escape_text(label),
        glib::markup_escape_text(what)
    );
    let sample = text_card(
        w,
        h,
        (0x26, 0x26, 0x2a),
        &markup,
        "Sans 30",
        "center",
        "center",
    )?;
    let map = sample_bytes(&sample)?;
    Ok(Picture {
        width: w as usize,
        height: h as usize,
        data: map,
    })
}

/// The logo PNG scaled to `width` (height from its aspect ratio), with its alpha times
/// `opacity`. A file that is not a PNG is an error naming it.
pub fn logo(l: &fourcast_config::Logo) -> Result<Graphic, String> {
    let shown = l.path.display();
    let src = make("filesrc", "logo-file").map_err(|e| e.to_string())?;
    src.set_property("location", l.path.to_string_lossy().as_ref());
    let dec = make("pngdec", "logo-decode").map_err(|e| e.to_string())?;
    let conv = make("videoconvert", "logo-convert").map_err(|e| e.to_string())?;
    let scale = make("videoscale", "logo-scale").map_err(|e| e.to_string())?;
    let caps = make("capsfilter", "logo-caps").map_err(|e| e.to_string())?;
    caps.set_property(
        "caps",
        gst_video::VideoCapsBuilder::new()
            .format(gst_video::VideoFormat::Ayuv)
            .width((l.width & !1) as i32)
            .pixel_aspect_ratio(gst::Fraction::new(1, 1))
            .build(),
    );
    let sample = one_frame(vec![src, dec, conv, scale, caps])
        .map_err(|e| format!("{shown}: not a PNG image that can be decoded ({e})"))?;
    let (width, height) = sample_size(&sample)?;
    let mut ayuv = sample_bytes(&sample)?;
    let opacity = (l.opacity.clamp(0.0, 1.0) * 255.0).round() as u32;
    for px in ayuv.chunks_exact_mut(4) {
        px[0] = (u32::from(px[0]) * opacity / 255) as u8;
    }
    Ok(Graphic {
        x: (l.x & !1) as usize,
        y: (l.y & !1) as usize,
        width,
        height,
        ayuv,
    })
}

/// The lower third: a band across the lower part of the program, title over subtitle.
pub fn lower_third(
    l: &fourcast_config::LowerThird,
    program_width: u32,
    program_height: u32,
) -> Result<Graphic, String> {
    let size = if l.size == 0 {
        (program_height / 18).max(8)
    } else {
        l.size
    };
    let lines = if l.subtitle.is_empty() { 1.0 } else { 1.9 };
    let height = (((f64::from(size) * (lines * 1.25 + 0.8)) as u32 + 1) & !1).min(program_height);
    let width = ((program_width * 7 / 10) + 1) & !1;
    let bg = fourcast_config::parse_color(&l.background).unwrap_or((0x14, 0x28, 0x5a));
    let fg = &l.text_color;
    let mut markup = format!(
        "<span foreground='{fg}' size='{}'><b>{}</b></span>",
        size * 1024 * 3 / 4,
        glib::markup_escape_text(&l.title)
    );
    if !l.subtitle.is_empty() {
        markup.push_str(&format!(
            "\n<span foreground='{fg}' size='{}'>{}</span>",
            size * 1024 * 3 / 4 * 7 / 10,
            glib::markup_escape_text(&l.subtitle)
        ));
    }
    let sample = text_card(width, height, bg, &markup, "Sans", "left", "center")?;
    let i420 = sample_bytes(&sample)?;
    let band = (l.background_opacity.clamp(0.0, 1.0) * 255.0).round() as u8;
    let bg_y = luma(bg);
    let text_y = fourcast_config::parse_color(fg).map(luma).unwrap_or(235);
    let ayuv = with_alpha(&i420, width as usize, height as usize, band, bg_y, text_y);
    // Left, a twentieth of the width in; its bottom an eighth of the height up.
    let x = (program_width / 20) & !1;
    let y = program_height.saturating_sub(height + program_height / 8) & !1;
    Ok(Graphic {
        x: x as usize,
        y: y as usize,
        width: width as usize,
        height: height as usize,
        ayuv,
    })
}

/// BT.601 limited-range luma of an sRGB colour.
fn luma((r, g, b): (u8, u8, u8)) -> u8 {
    (16.0 + 0.257 * f64::from(r) + 0.504 * f64::from(g) + 0.098 * f64::from(b)).round() as u8
}

/// An I420 card as AYUV: the band is `band` opaque, text fully, its anti-aliased edges in
/// between (how far each pixel's luma went from the band's towards the text's).
fn with_alpha(i420: &[u8], w: usize, h: usize, band: u8, bg_y: u8, text_y: u8) -> Vec<u8> {
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let (u, v) = (&i420[w * h..w * h + cw * ch], &i420[w * h + cw * ch..]);
    let span = i32::from(text_y) - i32::from(bg_y);
    let mut out = Vec::with_capacity(w * h * 4);
    for y in 0..h {
        for x in 0..w {
            let luma = i420[y * w + x];
            let cover = if span == 0 {
                0
            } else {
                ((i32::from(luma) - i32::from(bg_y)) * 255 / span).clamp(0, 255)
            };
            let a = i32::from(band) + (255 - i32::from(band)) * cover / 255;
            let c = (y / 2) * cw + x / 2;
            out.extend_from_slice(&[a as u8, luma, u[c], v[c]]);
        }
    }
    let _ = ch;
    out
}

/// Blends `g` times `level` (0–255) onto plane `p` of an I420 program frame. Parts of `g`
/// outside the canvas are not painted.
pub fn paint(canvas: &mut PlaneMut, p: usize, g: &Graphic, level: u8) {
    if level == 0 {
        return;
    }
    let sub = usize::from(p > 0);
    let (x0, y0) = (g.x >> sub, g.y >> sub);
    if x0 >= canvas.width || y0 >= canvas.height {
        return;
    }
    let cols = (g.width >> sub).min(canvas.width - x0);
    let rows = (g.height >> sub).min(canvas.height - y0);
    let level = u32::from(level);
    let channel = 1 + p.min(2);
    for row in 0..rows {
        let start = (y0 + row) * canvas.stride + x0;
        let line = &mut canvas.data[start..start + cols];
        let src_start = (row << sub) * g.width * 4;
        let src = &g.ayuv[src_start..src_start + g.width * 4];
        for (dst, px) in line.iter_mut().zip(src.chunks_exact(4).step_by(1 << sub)) {
            let a = div255(u32::from(px[0]) * level);
            if a == 0 {
                continue;
            }
            let over = u32::from(px[channel]);
            *dst = if a == 255 {
                over as u8
            } else {
                div255(over * a + u32::from(*dst) * (255 - a)) as u8
            };
        }
    }
}

/// `x / 255`, rounded, for `x` up to 255 × 255.
fn div255(x: u32) -> u32 {
    let x = x + 128;
    (x + (x >> 8)) >> 8
}

/// A solid card of `width`×`height` in `color` with Pango `markup` on it, as I420.
fn text_card(
    width: u32,
    height: u32,
    (r, g, b): (u8, u8, u8),
    markup: &str,
    font: &str,
    halign: &str,
    valign: &str,
) -> Result<gst::Sample, String> {
    let src = make("videotestsrc", "card").map_err(|e| e.to_string())?;
    src.set_property("num-buffers", 1i32);
    src.set_property_from_str("pattern", "solid-color");
    let argb = 0xff00_0000 | (u32::from(r) << 16) | (u32::from(g) << 8) | u32::from(b);
    src.set_property("foreground-color", argb);
    let caps = make("capsfilter", "card-caps").map_err(|e| e.to_string())?;
    caps.set_property(
        "caps",
        gst_video::VideoCapsBuilder::new()
            .format(gst_video::VideoFormat::I420)
            .width(width as i32)
            .height(height as i32)
            .framerate(gst::Fraction::new(1, 1))
            .build(),
    );
    let text = make("textoverlay", "card-text").map_err(|e| e.to_string())?;
    text.set_property("text", markup);
    text.set_property("font-desc", font);
    text.set_property("auto-resize", false);
    text.set_property("draw-shadow", false);
    text.set_property_from_str("halignment", halign);
    text.set_property_from_str("valignment", valign);
    text.set_property_from_str("line-alignment", halign);
    text.set_property("xpad", (width / 30).max(4) as i32);
    one_frame(vec![src, caps, text])
}

/// Runs `elements` (linked in order) to an appsink and takes the first frame.
fn one_frame(elements: Vec<gst::Element>) -> Result<gst::Sample, String> {
    let pipeline = gst::Pipeline::new();
    let sink = gst_app::AppSink::builder().sync(false).build();
    let build = || -> Result<(), glib::BoolError> {
        pipeline.add_many(&elements)?;
        pipeline.add(sink.upcast_ref::<gst::Element>())?;
        gst::Element::link_many(&elements)?;
        if let Some(last) = elements.last() {
            last.link(&sink)?;
        }
        Ok(())
    };
    build().map_err(|e| e.to_string())?;
    let _ = pipeline.set_state(gst::State::Paused);
    let sample = sink.try_pull_preroll(gst::ClockTime::from_seconds(5));
    let error = pipeline.bus().and_then(|bus| {
        bus.pop_filtered(&[gst::MessageType::Error])
            .and_then(|m| match m.view() {
                gst::MessageView::Error(e) => Some(e.error().to_string()),
                _ => None,
            })
    });
    let _ = pipeline.set_state(gst::State::Null);
    match (sample, error) {
        (Some(s), None) => Ok(s),
        (_, Some(e)) => Err(e),
        (None, None) => Err("no picture came out".into()),
    }
}

fn sample_size(sample: &gst::Sample) -> Result<(usize, usize), String> {
    let caps = sample.caps().ok_or("no caps")?;
    let info = gst_video::VideoInfo::from_caps(caps).map_err(|e| e.to_string())?;
    Ok((info.width() as usize, info.height() as usize))
}

/// The frame's bytes, tight (strides removed).
fn sample_bytes(sample: &gst::Sample) -> Result<Vec<u8>, String> {
    let caps = sample.caps().ok_or("no caps")?;
    let info = gst_video::VideoInfo::from_caps(caps).map_err(|e| e.to_string())?;
    let buffer = sample.buffer().ok_or("no buffer")?;
    let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, &info)
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for p in 0..frame.n_planes() {
        let comp = p as u8;
        let bytes_per_px = if info.format() == gst_video::VideoFormat::Ayuv {
            4
        } else {
            1
        };
        let w = info.comp_width(comp) as usize * bytes_per_px;
        let h = info.comp_height(comp) as usize;
        let stride = frame.plane_stride()[p as usize] as usize;
        let data = frame.plane_data(p).map_err(|e| e.to_string())?;
        for row in 0..h {
            out.extend_from_slice(&data[row * stride..row * stride + w]);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `g` painted at `level` on a 5×2 black luma plane.
    fn painted(g: &Graphic, level: u8) -> Vec<u8> {
        let mut data = vec![16u8; 10];
        let mut c = PlaneMut {
            data: &mut data,
            width: 5,
            height: 2,
            stride: 5,
        };
        paint(&mut c, 0, g, level);
        data
    }

    #[test]
    fn paint_blends_by_alpha_and_level_and_stays_inside() {
        // A 4×2 graphic at (2, 0): left half opaque white, right half transparent.
        let mut ayuv = Vec::new();
        for _ in 0..2 {
            ayuv.extend_from_slice(&[255, 235, 128, 128, 255, 235, 128, 128]);
            ayuv.extend_from_slice(&[0, 235, 128, 128, 0, 235, 128, 128]);
        }
        let g = Graphic {
            x: 2,
            y: 0,
            width: 4,
            height: 2,
            ayuv,
        };
        let data = painted(&g, 255);
        assert_eq!(&data[..5], &[16, 16, 235, 235, 16]);
        let data = painted(&g, 128);
        assert_eq!(
            data[2],
            ((235 * 128 + 16 * 127) as f64 / 255.0).round() as u8
        );
        assert_eq!(data[0], 16);
    }

    #[test]
    fn div255_rounds_like_division() {
        for x in 0..=255 * 255 {
            assert_eq!(div255(x), (f64::from(x) / 255.0).round() as u32, "{x}");
        }
    }

    #[test]
    fn text_edges_get_partial_alpha() {
        // 2×2 card: band luma 40, one text pixel at 235, one half-way.
        let i420 = [40, 235, 137, 40, 128, 128];
        let a = with_alpha(&i420, 2, 2, 100, 40, 235);
        assert_eq!(a[0], 100);
        assert_eq!(a[4], 255);
        assert!(a[8] > 100 && a[8] < 255);
    }
}
