//! What the panel's buttons do, as a pure rule: Next moves the panel's preview to the next
//! scene, Cut takes the previewed scene and moves the preview on, Record and Go live
//! toggle. The daemon carries the action out through the API's own handlers.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Button {
    GoLive,
    Record,
    NextScene,
    Cut,
}

impl Button {
    pub const ALL: [Button; 4] = [
        Button::GoLive,
        Button::Record,
        Button::NextScene,
        Button::Cut,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Button::GoLive => "go_live",
            Button::Record => "record",
            Button::NextScene => "next_scene",
            Button::Cut => "cut",
        }
    }

    pub fn from_name(name: &str) -> Option<Button> {
        Button::ALL.into_iter().find(|b| b.name() == name)
    }
}

/// What a press asks of the box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Take(String),
    StartRecording,
    StopRecording,
    /// Start every enabled uplink.
    GoLive,
    /// Stop every uplink.
    StopLive,
}

/// What the panel knows of the box when a button is pressed.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Scene names in the config's order.
    pub scenes: Vec<String>,
    pub live: bool,
    pub recording: bool,
}

/// The panel's own state: which scene is previewed.
#[derive(Debug, Clone, Default)]
pub struct Switcher {
    preview: usize,
}

impl Switcher {
    /// The scene Cut would take.
    pub fn preview<'a>(&self, scenes: &'a [String]) -> Option<&'a str> {
        if scenes.is_empty() {
            return None;
        }
        scenes.get(self.preview % scenes.len()).map(String::as_str)
    }

    pub fn press(&mut self, button: Button, facts: &Facts) -> Option<Action> {
        match button {
            Button::GoLive if facts.live => Some(Action::StopLive),
            Button::GoLive => Some(Action::GoLive),
            Button::Record if facts.recording => Some(Action::StopRecording),
            Button::Record => Some(Action::StartRecording),
            Button::NextScene => {
                if !facts.scenes.is_empty() {
                    self.preview = (self.preview % facts.scenes.len() + 1) % facts.scenes.len();
                }
                None
            }
            Button::Cut => {
                let scene = self.preview(&facts.scenes)?.to_string();
                self.preview = (self.preview % facts.scenes.len() + 1) % facts.scenes.len();
                Some(Action::Take(scene))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts {
        Facts {
            scenes: vec!["wide".into(), "close".into(), "pip".into()],
            live: false,
            recording: false,
        }
    }

    #[test]
    fn next_previews_and_cut_takes_then_moves_on() {
        let mut s = Switcher::default();
        let f = facts();
        assert_eq!(s.preview(&f.scenes), Some("wide"));
        assert_eq!(s.press(Button::NextScene, &f), None);
        assert_eq!(s.preview(&f.scenes), Some("close"));
        assert_eq!(s.press(Button::Cut, &f), Some(Action::Take("close".into())));
        assert_eq!(s.preview(&f.scenes), Some("pip"));
        assert_eq!(s.press(Button::Cut, &f), Some(Action::Take("pip".into())));
        assert_eq!(s.preview(&f.scenes), Some("wide"));
    }

    #[test]
    fn record_and_go_live_toggle() {
        let mut s = Switcher::default();
        let mut f = facts();
        assert_eq!(s.press(Button::Record, &f), Some(Action::StartRecording));
        assert_eq!(s.press(Button::GoLive, &f), Some(Action::GoLive));
        f.recording = true;
        f.live = true;
        assert_eq!(s.press(Button::Record, &f), Some(Action::StopRecording));
        assert_eq!(s.press(Button::GoLive, &f), Some(Action::StopLive));
    }

    #[test]
    fn with_no_scenes_cut_does_nothing_and_a_shrunk_list_wraps() {
        let mut s = Switcher::default();
        assert_eq!(s.press(Button::Cut, &Facts::default()), None);
        assert_eq!(s.press(Button::NextScene, &Facts::default()), None);
        let mut f = facts();
        s.press(Button::NextScene, &f);
        s.press(Button::NextScene, &f);
        f.scenes.truncate(2);
        assert_eq!(s.preview(&f.scenes), Some("wide"));
        assert_eq!(s.press(Button::Cut, &f), Some(Action::Take("wide".into())));
    }

    #[test]
    fn buttons_have_names_both_ways() {
        for b in Button::ALL {
            assert_eq!(Button::from_name(b.name()), Some(b));
        }
        assert_eq!(Button::from_name("eject"), None);
    }
}
