//! The smallest change that takes the engine from one config to the next (pure).

use fourcast_config::Config;

/// What the engine must do to reach a new config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Rebuild the program pipeline (inputs, mixer). The ladder keeps running across it.
    pub program: bool,
    /// The configured shot changed: show it (on a running program, a cut).
    pub shot: bool,
    /// The configured gains changed: set them.
    pub mix: bool,
    /// The logo or lower third changed (their look, or whether they show): render and set
    /// them on the running program.
    pub overlays: bool,
    pub ladder: LadderChange,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LadderChange {
    Keep,
    /// Same rungs, new bitrates: set them on the running encoders.
    Bitrates(Vec<(String, u32)>),
    /// Encoders and HLS branches are rebuilt; inputs and mixer keep running.
    Rebuild,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        !self.program
            && !self.shot
            && !self.mix
            && !self.overlays
            && self.ladder == LadderChange::Keep
    }
}

/// What an input is, without its place on the audio mix.
fn source(i: &fourcast_config::Input) -> impl PartialEq + '_ {
    (&i.name, &i.label, &i.source)
}

/// How the clock is drawn: an element in the program, so a change rebuilds it (showing
/// or hiding it does not).
fn clock_look(c: &Config) -> Option<fourcast_config::Clock> {
    c.overlays.clock.clone().map(|mut k| {
        k.visible = true;
        k
    })
}

fn strip(i: &fourcast_config::Input) -> (&str, u64, bool) {
    (&i.name, i.gain_db.to_bits(), i.mute)
}

/// Plans the change from `old` (none: nothing running) to `new`.
pub fn plan(old: Option<&Config>, new: &Config) -> Plan {
    let Some(old) = old else {
        return Plan {
            program: true,
            shot: true,
            mix: true,
            overlays: true,
            ladder: LadderChange::Rebuild,
        };
    };
    // The program's output format is what the ladder is built for.
    let format_changed = old.program.width != new.program.width
        || old.program.height != new.program.height
        || old.program.fps != new.program.fps
        || old.audio.sample_rate != new.audio.sample_rate
        || old.audio.channels != new.audio.channels;
    // A new shot or new gains are set on the running program; only what it is made of
    // (its size, its inputs' sources) rebuilds it.
    let program = format_changed
        || old.board != new.board
        || clock_look(old) != clock_look(new)
        || old
            .inputs
            .iter()
            .map(source)
            .ne(new.inputs.iter().map(source));
    let shot = old.program.shot() != new.program.shot();
    let mix = old.audio.follow_video != new.audio.follow_video
        || old.audio.master_gain_db != new.audio.master_gain_db
        || old
            .inputs
            .iter()
            .map(strip)
            .ne(new.inputs.iter().map(strip));
    let ladder = if format_changed
        || old.ladder.encoder != new.ladder.encoder
        || old.ladder.x264_preset != new.ladder.x264_preset
        || old.outputs.hls != new.outputs.hls
        || old.audio.bitrate_kbps != new.audio.bitrate_kbps
        || old.ladder.rungs.len() != new.ladder.rungs.len()
    {
        LadderChange::Rebuild
    } else {
        let mut bitrates = Vec::new();
        let mut same_shape = true;
        for (a, b) in old.ladder.rungs.iter().zip(&new.ladder.rungs) {
            same_shape &= a.name == b.name && a.width == b.width && a.height == b.height;
            if a.bitrate_kbps != b.bitrate_kbps {
                bitrates.push((b.name.clone(), b.bitrate_kbps));
            }
        }
        match (same_shape, bitrates.is_empty()) {
            (false, _) => LadderChange::Rebuild,
            (true, true) => LadderChange::Keep,
            (true, false) => LadderChange::Bitrates(bitrates),
        }
    };
    let overlays = program || old.overlays != new.overlays;
    Plan {
        program,
        shot,
        mix,
        overlays,
        ladder,
    }
}

#[cfg(test)]
mod tests {
    use fourcast_config::{Pattern, default_for_board};

    use super::*;

    fn base() -> Config {
        default_for_board("virtual").unwrap()
    }

    #[test]
    fn first_start_builds_everything() {
        let p = plan(None, &base());
        assert!(p.program && p.ladder == LadderChange::Rebuild);
    }

    #[test]
    fn the_same_config_changes_nothing() {
        assert!(plan(Some(&base()), &base()).is_empty());
    }

    #[test]
    fn a_bitrate_change_touches_only_that_encoder() {
        let mut new = base();
        new.ladder.rungs[1].bitrate_kbps = 1000;
        let p = plan(Some(&base()), &new);
        assert!(!p.program);
        assert_eq!(
            p.ladder,
            LadderChange::Bitrates(vec![("480p".into(), 1000)])
        );
    }

    #[test]
    fn a_rung_resize_rebuilds_the_ladder_but_not_the_inputs() {
        let mut new = base();
        new.ladder.rungs[2].height = 352;
        let p = plan(Some(&base()), &new);
        assert_eq!((p.program, p.ladder), (false, LadderChange::Rebuild));
    }

    #[test]
    fn an_input_change_rebuilds_the_program_and_keeps_the_encoders() {
        let mut new = base();
        new.inputs[0] = fourcast_config::Input::test(&new.inputs[0].name, Pattern::Snow);
        let p = plan(Some(&base()), &new);
        assert_eq!((p.program, p.ladder), (true, LadderChange::Keep));
    }

    #[test]
    fn a_new_layout_or_gain_is_set_live_without_a_rebuild() {
        let mut new = base();
        new.program.layout = fourcast_config::Layout::Pip;
        let p = plan(Some(&base()), &new);
        assert!(p.shot && !p.mix && !p.program && p.ladder == LadderChange::Keep);
        let mut new = base();
        new.inputs[1].mute = true;
        new.audio.master_gain_db = -6.0;
        let p = plan(Some(&base()), &new);
        assert!(p.mix && !p.shot && !p.program && p.ladder == LadderChange::Keep);
    }

    #[test]
    fn overlays_are_set_live_except_a_new_clock_look() {
        let mut old = base();
        old.overlays.clock = Some(fourcast_config::Clock {
            mode: fourcast_config::ClockMode::Clock,
            format: "%H:%M".into(),
            corner: fourcast_config::Corner::TopRight,
            visible: true,
        });
        let mut hidden = old.clone();
        hidden.overlays.set_visible("clock", false);
        let p = plan(Some(&old), &hidden);
        assert!(p.overlays && !p.program);
        let mut moved = old.clone();
        if let Some(c) = moved.overlays.clock.as_mut() {
            c.corner = fourcast_config::Corner::BottomLeft;
        }
        assert!(plan(Some(&old), &moved).program);
    }

    #[test]
    fn a_new_program_size_rebuilds_both() {
        let mut new = base();
        new.program.fps = 25;
        let p = plan(Some(&base()), &new);
        assert_eq!((p.program, p.ladder), (true, LadderChange::Rebuild));
    }

    #[test]
    fn hls_and_http_changes_are_told_apart() {
        let mut new = base();
        new.outputs.hls.window = 10;
        assert_eq!(plan(Some(&base()), &new).ladder, LadderChange::Rebuild);
        let mut new = base();
        new.http.listen = "127.0.0.1:9000".into();
        assert!(
            plan(Some(&base()), &new).is_empty(),
            "the engine does not serve HTTP"
        );
    }
}
