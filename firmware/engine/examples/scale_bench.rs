//! Times the engine scaler on the standard workload's steps, per whole I420 frame.
//!
//! `cargo run --release -p fourcast-engine --example scale_bench [runs] [step name filter]`
//!
//! A benchmark, not a test: it prints figures and asserts nothing about speed.

use fourcast_engine::scale::{Plane, PlaneMut, PlaneScaler, Scratch};
use std::time::Instant;

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let steps = [
        ("1080p -> 960x540 (grid tile)", (1920, 1080), (960, 540)),
        ("1080p -> 720p", (1920, 1080), (1280, 720)),
        ("1080p -> 854x480", (1920, 1080), (854, 480)),
        ("720p -> 360p", (1280, 720), (640, 360)),
        ("720p -> 854x480 (live ladder)", (1280, 720), (854, 480)),
        ("1080p -> 360p", (1920, 1080), (640, 360)),
    ];
    let only = std::env::args().nth(2).unwrap_or_default();
    println!("{:32} {:>10}", "step", "ms/frame");
    for (name, src, dst) in steps.into_iter().filter(|(n, ..)| n.contains(&only)) {
        // A busy picture (a diagonal pattern), luma then both chroma planes.
        let planes = [(src, dst), (half(src), half(dst)), (half(src), half(dst))];
        let sources: Vec<Vec<u8>> = planes
            .iter()
            .map(|&((w, h), _)| {
                (0..w * h)
                    .map(|i| ((i % w) * 3 + (i / w) * 5) as u8)
                    .collect()
            })
            .collect();
        let mut outs: Vec<Vec<u8>> = planes.iter().map(|&(_, (w, h))| vec![0; w * h]).collect();
        let scalers: Vec<PlaneScaler> = planes
            .iter()
            .map(|&(s, d)| PlaneScaler::new(s, d))
            .collect();
        let mut scratch = Scratch::default();
        let mut once = || {
            for (k, &((sw, sh), (dw, dh))) in planes.iter().enumerate() {
                let plane = Plane {
                    data: &sources[k],
                    width: sw,
                    height: sh,
                    stride: sw,
                };
                let mut out = PlaneMut {
                    data: &mut outs[k],
                    width: dw,
                    height: dh,
                    stride: dw,
                };
                scalers[k].run(plane, &mut out, &mut scratch);
            }
        };
        for _ in 0..10 {
            once();
        }
        let t = Instant::now();
        for _ in 0..runs {
            once();
        }
        let ms = t.elapsed().as_secs_f64() * 1000.0 / runs as f64;
        println!("{name:32} {ms:10.3}");
    }
}

fn half((w, h): (usize, usize)) -> (usize, usize) {
    (w.div_ceil(2), h.div_ceil(2))
}
