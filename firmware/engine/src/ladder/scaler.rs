//! `fourcastscale`: the engine's I420 scaler as a GStreamer element, so the mixer and every
//! rung scale with [`crate::scale`] instead of the generic `videoscale`. It is registered
//! in-process (no plugin file to install) the first time a scaler is made.

use std::sync::{Mutex, Once};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::BaseTransformMode;
use gst_base::subclass::prelude::*;
use gst_video::prelude::*;
use gst_video::subclass::prelude::*;

use crate::scale::{Plane, PlaneMut, PlaneScaler, Scratch};

pub(crate) const NAME: &str = "fourcastscale";

glib::wrapper! {
    pub struct FourcastScale(ObjectSubclass<imp::FourcastScale>)
        @extends gst_video::VideoFilter, gst_base::BaseTransform, gst::Element, gst::Object;
}

/// Registers the element with this process's GStreamer registry (once).
pub(crate) fn register() -> Result<(), glib::BoolError> {
    static ONCE: Once = Once::new();
    let mut result = Ok(());
    ONCE.call_once(|| {
        result = gst::Element::register(None, NAME, gst::Rank::NONE, FourcastScale::static_type());
    });
    result
}

mod imp {
    use super::*;

    struct Planes {
        scalers: Vec<PlaneScaler>,
        scratch: Scratch,
    }

    #[derive(Default)]
    pub struct FourcastScale {
        planes: Mutex<Option<Planes>>,
    }

    #[glib::object_subclass]
    impl ObjectSubclass for FourcastScale {
        const NAME: &'static str = "FourcastScale";
        type Type = super::FourcastScale;
        type ParentType = gst_video::VideoFilter;
    }

    impl ObjectImpl for FourcastScale {}
    impl GstObjectImpl for FourcastScale {}

    impl ElementImpl for FourcastScale {
        fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
            static META: std::sync::OnceLock<gst::subclass::ElementMetadata> =
                std::sync::OnceLock::new();
            Some(META.get_or_init(|| {
                gst::subclass::ElementMetadata::new(
                    "Fourcast scaler",
                    "Filter/Converter/Video/Scaler",
                    "I420 box + bilinear scaler of the Fourcast engine",
                    "Fourcast",
                )
            }))
        }

        fn pad_templates() -> &'static [gst::PadTemplate] {
            static TEMPLATES: std::sync::OnceLock<Vec<gst::PadTemplate>> =
                std::sync::OnceLock::new();
            TEMPLATES.get_or_init(|| {
                let caps = any_size();
                [gst::PadDirection::Src, gst::PadDirection::Sink]
                    .into_iter()
                    .filter_map(|dir| {
                        let name = if dir == gst::PadDirection::Src {
                            "src"
                        } else {
                            "sink"
                        };
                        gst::PadTemplate::new(name, dir, gst::PadPresence::Always, &caps).ok()
                    })
                    .collect()
            })
        }
    }

    impl BaseTransformImpl for FourcastScale {
        const MODE: BaseTransformMode = BaseTransformMode::NeverInPlace;
        const PASSTHROUGH_ON_SAME_CAPS: bool = true;
        const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

        fn transform_caps(
            &self,
            _direction: gst::PadDirection,
            caps: &gst::Caps,
            filter: Option<&gst::Caps>,
        ) -> Option<gst::Caps> {
            // Same format and rate, any size (the same size first, for passthrough).
            let mut any = caps.clone();
            for s in any.make_mut().iter_mut() {
                s.set("width", gst::IntRange::new(1, i32::MAX));
                s.set("height", gst::IntRange::new(1, i32::MAX));
                s.remove_field("pixel-aspect-ratio");
            }
            let mut out = caps.clone();
            out.merge(any);
            Some(match filter {
                Some(f) => f.intersect_with_mode(&out, gst::CapsIntersectMode::First),
                None => out,
            })
        }

        fn fixate_caps(
            &self,
            _direction: gst::PadDirection,
            _caps: &gst::Caps,
            othercaps: gst::Caps,
        ) -> gst::Caps {
            let mut caps = othercaps;
            caps.truncate();
            if let Some(s) = caps.make_mut().structure_mut(0) {
                s.fixate_field_nearest_fraction("pixel-aspect-ratio", gst::Fraction::new(1, 1));
            }
            caps.fixate();
            caps
        }
    }

    impl VideoFilterImpl for FourcastScale {
        fn set_info(
            &self,
            _incaps: &gst::Caps,
            in_info: &gst_video::VideoInfo,
            _outcaps: &gst::Caps,
            out_info: &gst_video::VideoInfo,
        ) -> Result<(), gst::LoggableError> {
            let scalers = (0..in_info.n_planes())
                .map(|p| {
                    let c = p as u8;
                    let size = |i: &gst_video::VideoInfo| {
                        (i.comp_width(c) as usize, i.comp_height(c) as usize)
                    };
                    PlaneScaler::new(size(in_info), size(out_info))
                })
                .collect();
            *self.lock() = Some(Planes {
                scalers,
                scratch: Scratch::default(),
            });
            Ok(())
        }

        fn transform_frame(
            &self,
            inframe: &gst_video::VideoFrameRef<&gst::BufferRef>,
            outframe: &mut gst_video::VideoFrameRef<&mut gst::BufferRef>,
        ) -> Result<gst::FlowSuccess, gst::FlowError> {
            let mut planes = self.lock();
            let Some(planes) = planes.as_mut() else {
                return Err(gst::FlowError::NotNegotiated);
            };
            for (p, scaler) in planes.scalers.iter().enumerate() {
                let c = p as u32;
                let src = Plane {
                    data: inframe
                        .plane_data(p as u32)
                        .map_err(|_| gst::FlowError::Error)?,
                    width: inframe.comp_width(c) as usize,
                    height: inframe.comp_height(c) as usize,
                    stride: inframe.plane_stride()[p] as usize,
                };
                let (width, height, stride) = (
                    outframe.comp_width(c) as usize,
                    outframe.comp_height(c) as usize,
                    outframe.plane_stride()[p] as usize,
                );
                let mut dst = PlaneMut {
                    data: outframe
                        .plane_data_mut(p as u32)
                        .map_err(|_| gst::FlowError::Error)?,
                    width,
                    height,
                    stride,
                };
                scaler.run(src, &mut dst, &mut planes.scratch);
            }
            Ok(gst::FlowSuccess::Ok)
        }
    }

    impl FourcastScale {
        fn lock(&self) -> std::sync::MutexGuard<'_, Option<Planes>> {
            self.planes.lock().unwrap_or_else(|p| p.into_inner())
        }
    }

    fn any_size() -> gst::Caps {
        gst_video::VideoCapsBuilder::new()
            .format(gst_video::VideoFormat::I420)
            .build()
    }
}
