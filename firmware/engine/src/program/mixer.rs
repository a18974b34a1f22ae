//! `fourcastmix`: the engine's program mixer as a GStreamer element (a `VideoAggregator`),
//! registered in-process like `fourcastscale`. It takes each input at whatever size it
//! comes and paints the current scene with [`crate::compose`]: every tile scaled straight
//! into the program frame.
//!
//! The scene (which input goes in which tile) is one value swapped under a lock and read
//! once per output frame, so a layout change lands whole on one frame: no frame shows half
//! of the old layout and half of the new, nothing is renegotiated, nothing restarts. A
//! fade paints both scenes and blends them for its length.

use std::sync::{Mutex, MutexGuard, Once};
use std::time::{Duration, Instant};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::prelude::*;
use gst_video::prelude::*;
use gst_video::subclass::prelude::*;

use crate::compose::{Area, Layer, Painter, blend};
use crate::layout::{Placement, Rect};
use crate::program::graphics::{Graphic, Picture};
use crate::scale::{Plane, PlaneMut};

pub const NAME: &str = "fourcastmix";

glib::wrapper! {
    pub struct FourcastMix(ObjectSubclass<imp::FourcastMix>)
        @extends gst_video::VideoAggregator, gst_base::Aggregator, gst::Element, gst::Object;
}

/// Registers the element with this process's GStreamer registry (once).
pub fn register() -> Result<(), glib::BoolError> {
    static ONCE: Once = Once::new();
    let mut result = Ok(());
    ONCE.call_once(|| {
        result = gst::Element::register(None, NAME, gst::Rank::NONE, FourcastMix::static_type());
    });
    result
}

/// What a scene change did: which one it was and how long until a frame showed it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Switch {
    pub generation: u64,
    /// From the command to the first program frame painted with the new scene.
    pub latency: Option<Duration>,
}

impl FourcastMix {
    /// Shows `tiles` (sink pad `sink_N` is input N) from the next frame on, cutting or, with
    /// `fade_frames` > 0, fading from what is shown now. Returns the change's generation.
    pub fn set_scene(&self, tiles: Vec<Placement>, fade_frames: u32) -> u64 {
        let mut tiles = tiles;
        tiles.sort_by_key(|t| t.z);
        let mut st = self.imp().lock();
        let from = std::mem::replace(&mut st.scene, tiles);
        st.fade = (fade_frames > 0).then_some(Fade {
            from,
            frames: fade_frames,
            done: 0,
        });
        st.generation += 1;
        st.commanded = Some(Instant::now());
        st.generation
    }

    /// What each input's tile shows while the input sends nothing.
    pub(crate) fn set_slates(&self, slates: Vec<Slate>) {
        self.imp().lock().slates = slates;
    }

    /// Replaces the graphics painted over the program (bottom first). Each keeps its
    /// place on screen if a graphic of that name was already there.
    pub fn set_graphics(&self, graphics: Vec<Overlay>) {
        let mut st = self.imp().lock();
        let mut next = graphics;
        for g in &mut next {
            if let Some(old) = st.graphics.iter().find(|o| o.name == g.name) {
                g.level = old.level;
            }
        }
        st.graphics = next;
    }

    /// Shows or hides the named graphic (fading over its frames); false if there is none.
    pub fn show_graphic(&self, name: &str, visible: bool) -> bool {
        let mut st = self.imp().lock();
        match st.graphics.iter_mut().find(|o| o.name == name) {
            Some(o) => {
                o.visible = visible;
                true
            }
            None => false,
        }
    }

    /// The last scene change and, once it reached a frame, how long that took.
    pub fn last_switch(&self) -> Switch {
        let st = self.imp().lock();
        Switch {
            generation: st.generation,
            latency: st.latency,
        }
    }
}

/// Asks an input's feed whether it has ended (a file played once); the mixer does not need
/// to know what a feed is.
pub(crate) type HasEnded = Box<dyn Fn() -> bool + Send + Sync>;

/// What an input's tile shows without pictures: "no signal", or "ended" once its feed
/// says it has (a file played once).
pub(crate) struct Slate {
    pub input: usize,
    pub no_signal: Picture,
    pub ended: Option<(Picture, HasEnded)>,
}

impl Slate {
    fn picture(&self) -> &Picture {
        match &self.ended {
            Some((p, has_ended)) if has_ended() => p,
            _ => &self.no_signal,
        }
    }
}

/// A graphic over the program and how it shows.
pub struct Overlay {
    pub name: String,
    pub graphic: Graphic,
    pub visible: bool,
    /// Frames a show or hide fades over (0: at once).
    pub fade_frames: u32,
    /// How much shows now, 0–255.
    pub level: u8,
}

impl Overlay {
    /// One frame on: `level` moves towards shown or hidden.
    fn step(&mut self) {
        let target = if self.visible { 255 } else { 0 };
        let step = (255 / self.fade_frames.max(1)).max(1) as u8;
        self.level = if self.level < target {
            self.level.saturating_add(step).min(target)
        } else {
            self.level.saturating_sub(step).max(target)
        };
    }
}

struct Fade {
    from: Vec<Placement>,
    frames: u32,
    done: u32,
}

#[derive(Default)]
struct State {
    scene: Vec<Placement>,
    fade: Option<Fade>,
    painter: Painter,
    /// The outgoing scene during a fade, as three tight planes.
    under: Vec<u8>,
    generation: u64,
    commanded: Option<Instant>,
    latency: Option<Duration>,
    slates: Vec<Slate>,
    graphics: Vec<Overlay>,
}

/// Black, per plane of I420.
const BLACK: [u8; 3] = [16, 128, 128];

mod imp {
    use super::*;

    #[derive(Default)]
    pub struct FourcastMix {
        state: Mutex<State>,
    }

    impl FourcastMix {
        pub(super) fn lock(&self) -> MutexGuard<'_, State> {
            self.state.lock().unwrap_or_else(|p| p.into_inner())
        }
    }

    #[glib::object_subclass]
    impl ObjectSubclass for FourcastMix {
        const NAME: &'static str = "FourcastMix";
        type Type = super::FourcastMix;
        type ParentType = gst_video::VideoAggregator;
    }

    impl ObjectImpl for FourcastMix {}
    impl GstObjectImpl for FourcastMix {}

    impl ElementImpl for FourcastMix {
        fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
            static META: std::sync::OnceLock<gst::subclass::ElementMetadata> =
                std::sync::OnceLock::new();
            Some(META.get_or_init(|| {
                gst::subclass::ElementMetadata::new(
                    "Fourcast mixer",
                    "Filter/Editor/Video/Compositor",
                    "Paints the program scene: every input scaled straight into its tile",
                    "Fourcast",
                )
            }))
        }

        fn pad_templates() -> &'static [gst::PadTemplate] {
            static TEMPLATES: std::sync::OnceLock<Vec<gst::PadTemplate>> =
                std::sync::OnceLock::new();
            TEMPLATES.get_or_init(|| {
                let caps = gst_video::VideoCapsBuilder::new()
                    .format(gst_video::VideoFormat::I420)
                    .build();
                let src = gst::PadTemplate::with_gtype(
                    "src",
                    gst::PadDirection::Src,
                    gst::PadPresence::Always,
                    &caps,
                    gst_base::AggregatorPad::static_type(),
                );
                let sink = gst::PadTemplate::with_gtype(
                    "sink_%u",
                    gst::PadDirection::Sink,
                    gst::PadPresence::Request,
                    &caps,
                    gst_video::VideoAggregatorPad::static_type(),
                );
                [src, sink].into_iter().filter_map(Result::ok).collect()
            })
        }
    }

    impl AggregatorImpl for FourcastMix {
        /// Any I420 picture, any size and rate: the mixer scales every input itself (the
        /// base class would offer only the output's size).
        fn sink_query(
            &self,
            aggregator_pad: &gst_base::AggregatorPad,
            query: &mut gst::QueryRef,
        ) -> bool {
            match query.view_mut() {
                gst::QueryViewMut::Caps(q) => {
                    let any = any_i420();
                    let caps = match q.filter() {
                        Some(f) => f.intersect_with_mode(&any, gst::CapsIntersectMode::First),
                        None => any,
                    };
                    q.set_result(&caps);
                    true
                }
                gst::QueryViewMut::AcceptCaps(q) => {
                    let ok = q.caps().can_intersect(&any_i420());
                    q.set_result(ok);
                    true
                }
                _ => self.parent_sink_query(aggregator_pad, query),
            }
        }
    }

    fn any_i420() -> gst::Caps {
        gst_video::VideoCapsBuilder::new()
            .format(gst_video::VideoFormat::I420)
            .build()
    }

    impl VideoAggregatorImpl for FourcastMix {
        fn aggregate_frames(
            &self,
            token: &gst_video::subclass::AggregateFramesToken,
            outbuf: &mut gst::BufferRef,
        ) -> Result<gst::FlowSuccess, gst::FlowError> {
            let obj = self.obj();
            let info = obj.video_info().ok_or(gst::FlowError::NotNegotiated)?;
            let pads: Vec<(usize, gst_video::VideoAggregatorPad)> = obj
                .sink_pads()
                .into_iter()
                .filter_map(|p| {
                    let n = p.name().strip_prefix("sink_")?.parse().ok()?;
                    Some((n, p.downcast().ok()?))
                })
                .collect();
            let frames: Vec<(usize, gst_video::VideoFrameRef<&gst::BufferRef>)> = pads
                .iter()
                .filter_map(|(n, p)| Some((*n, p.prepared_frame(token)?)))
                .collect();

            let mut frame = gst_video::VideoFrameRef::from_buffer_ref_writable(outbuf, &info)
                .map_err(|_| gst::FlowError::Error)?;
            let mut guard = self.lock();
            let st = &mut *guard;
            for p in 0..frame.n_planes() {
                let (width, height) = plane_size(&info, p);
                let stride = frame.plane_stride()[p as usize] as usize;
                let data = frame.plane_data_mut(p).map_err(|_| gst::FlowError::Error)?;
                let layers = layers_of(&st.scene, &frames, &st.slates, &info, p);
                let mut canvas = PlaneMut {
                    data,
                    width,
                    height,
                    stride,
                };
                st.painter.paint(&mut canvas, &layers, BLACK[p as usize]);
                if let Some(fade) = &st.fade {
                    // The outgoing scene, faded out over the incoming one.
                    let offset = plane_offset(&info, p);
                    st.under.resize(offset + width * height, 0);
                    let under = &mut st.under[offset..offset + width * height];
                    let mut old = PlaneMut {
                        data: under,
                        width,
                        height,
                        stride: width,
                    };
                    let from = layers_of(&fade.from, &frames, &st.slates, &info, p);
                    st.painter.paint(&mut old, &from, BLACK[p as usize]);
                    let left = fade.frames.saturating_sub(fade.done);
                    let alpha = (255 * left / fade.frames.max(1)).min(255) as u8;
                    let over = Plane {
                        data: &st.under[offset..offset + width * height],
                        width,
                        height,
                        stride: width,
                    };
                    blend(&mut canvas, over, alpha);
                }
                for o in &st.graphics {
                    crate::program::graphics::paint(&mut canvas, p as usize, &o.graphic, o.level);
                }
            }
            for o in &mut st.graphics {
                o.step();
            }
            if let Some(fade) = &mut st.fade {
                fade.done += 1;
                if fade.done >= fade.frames {
                    st.fade = None;
                }
            }
            if let Some(at) = st.commanded.take() {
                st.latency = Some(at.elapsed());
            }
            Ok(gst::FlowSuccess::Ok)
        }
    }

    /// The tiles of `scene` in plane `p`: each input's frame, or its slate while it has
    /// none (the pads drop a frame that is not renewed in time: `SLATE_AFTER`).
    fn layers_of<'a>(
        scene: &[Placement],
        frames: &'a [(usize, gst_video::VideoFrameRef<&gst::BufferRef>)],
        slates: &'a [Slate],
        info: &gst_video::VideoInfo,
        p: u32,
    ) -> Vec<Layer<'a>> {
        scene
            .iter()
            .map(|t| Layer {
                key: t.input,
                source: frames
                    .iter()
                    .find(|(n, _)| *n == t.input)
                    .and_then(|(_, f)| source_plane(f, p))
                    .or_else(|| {
                        slates
                            .iter()
                            .find(|s| s.input == t.input)
                            .map(|s| s.picture().plane(p as usize))
                    }),
                area: plane_area(t.rect, info, p),
                alpha: 255,
                fill: BLACK[p as usize],
            })
            .collect()
    }

    fn source_plane<'a>(
        frame: &'a gst_video::VideoFrameRef<&gst::BufferRef>,
        p: u32,
    ) -> Option<Plane<'a>> {
        if frame.format() != gst_video::VideoFormat::I420 || p >= frame.n_planes() {
            return None;
        }
        Some(Plane {
            data: frame.plane_data(p).ok()?,
            width: frame.comp_width(p) as usize,
            height: frame.comp_height(p) as usize,
            stride: frame.plane_stride()[p as usize] as usize,
        })
    }
}

fn plane_size(info: &gst_video::VideoInfo, p: u32) -> (usize, usize) {
    (
        info.comp_width(p as u8) as usize,
        info.comp_height(p as u8) as usize,
    )
}

/// Where plane `p` starts in a tight three-plane buffer of the program's size.
fn plane_offset(info: &gst_video::VideoInfo, p: u32) -> usize {
    (0..p)
        .map(|q| {
            let (w, h) = plane_size(info, q);
            w * h
        })
        .sum()
}

/// A program rectangle in plane `p`'s pixels.
fn plane_area(rect: Rect, info: &gst_video::VideoInfo, p: u32) -> Area {
    let (pw, ph) = plane_size(info, p);
    let (w, h) = (info.width().max(1) as usize, info.height().max(1) as usize);
    let sx = |v: u32| v as usize * pw / w;
    let sy = |v: u32| v as usize * ph / h;
    let (x0, y0) = (sx(rect.x), sy(rect.y));
    let (x1, y1) = (sx(rect.x + rect.width), sy(rect.y + rect.height));
    Area {
        x: x0,
        y: y0,
        width: x1.saturating_sub(x0),
        height: y1.saturating_sub(y0),
    }
}
