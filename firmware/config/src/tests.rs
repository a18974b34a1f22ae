use toml::{Table, Value};

use super::*;

fn default_doc() -> Table {
    let text = default_for_board("virtual").unwrap().to_toml();
    text.parse::<Table>().unwrap()
}

fn at<'a>(doc: &'a mut Table, path: &[&str]) -> &'a mut Value {
    let (first, rest) = path.split_first().unwrap();
    let mut v = doc.get_mut(*first).unwrap_or_else(|| panic!("no {first}"));
    for key in rest {
        v = match key.parse::<usize>() {
            Ok(i) => &mut v.as_array_mut().unwrap()[i],
            Err(_) => v.get_mut(*key).unwrap_or_else(|| panic!("no {key}")),
        };
    }
    v
}

fn set(path: &'static [&'static str], value: Value) -> impl Fn(&mut Table) {
    move |doc| {
        let (last, parent) = path.split_last().unwrap();
        let table = if parent.is_empty() {
            doc
        } else {
            at(doc, parent).as_table_mut().unwrap()
        };
        table.insert(last.to_string(), value.clone());
    }
}

fn errors_of(edit: impl Fn(&mut Table)) -> Vec<FieldError> {
    let mut doc = default_doc();
    edit(&mut doc);
    match Config::from_toml(&toml::to_string(&doc).unwrap()) {
        Ok(_) => Vec::new(),
        Err(e) => e.0,
    }
}

#[test]
fn the_default_config_round_trips_through_toml() {
    for board in fourcast_board::names() {
        let config = default_for_board(board).unwrap();
        let text = config.to_toml();
        let back = Config::from_toml(&text).unwrap_or_else(|e| panic!("{board}: {e}"));
        assert_eq!(back, config, "{board}");
    }
}

#[test]
fn the_virtual_default_is_a_720p30_grid_of_four_test_cameras() {
    let c = default_for_board("virtual").unwrap();
    assert_eq!(
        (c.program.width, c.program.height, c.program.fps),
        (1280, 720, 30)
    );
    assert_eq!(c.inputs.len(), 4);
    let labels: Vec<_> = c.inputs.iter().map(Input::label).collect();
    assert_eq!(labels, ["CAM 1", "CAM 2", "CAM 3", "CAM 4"]);
    let tones: HashSetOf = c
        .inputs
        .iter()
        .map(|i| match i.source {
            Source::Test { tone_hz, .. } => tone_hz,
            _ => panic!("{} is not a test input", i.name),
        })
        .collect();
    assert_eq!(tones.len(), 4, "each camera has its own tone");
}

type HashSetOf = std::collections::HashSet<u32>;

/// One change to the default document.
type Edit = Box<dyn Fn(&mut Table)>;

#[test]
fn sections_with_defaults_may_be_left_out() {
    let text = r#"
board = "virtual"
program = { width = 640, height = 360, fps = 25 }
inputs = [ { name = "a", kind = "test", pattern = "ball" } ]
ladder = { rungs = [ { name = "low", width = 640, height = 360, bitrate_kbps = 600 } ] }
"#;
    let c = Config::from_toml(text).unwrap();
    assert_eq!(c.outputs.hls.segment_seconds, 2);
    assert_eq!(c.http.listen, "0.0.0.0:8080");
    assert_eq!(c.ladder.encoder, "auto");
}

/// Each bad document names the field it is wrong about.
#[test]
#[allow(clippy::too_many_lines)] // a table of cases
fn every_bad_document_names_its_field() {
    let bad_file = Value::String("/nonexistent/clip.mp4".into());
    let file_input = |doc: &mut Table| {
        let input = at(doc, &["inputs", "1"]).as_table_mut().unwrap();
        input.insert("kind".into(), Value::String("file".into()));
        input.remove("pattern");
        input.remove("tone_hz");
    };
    let cases: Vec<(&str, Edit)> = vec![
        (
            "program.fps",
            Box::new(set(&["program", "fps"], Value::Integer(0))),
        ),
        (
            "program.fps",
            Box::new(set(&["program", "fps"], Value::Integer(120))),
        ),
        (
            "program.width",
            Box::new(set(&["program", "width"], Value::Integer(1281))),
        ),
        (
            "program.height",
            Box::new(set(&["program", "height"], Value::Integer(100))),
        ),
        (
            "program.layout",
            Box::new(set(&["program", "layout"], Value::String("mosaic".into()))),
        ),
        (
            "program.colour",
            Box::new(set(&["program", "colour"], Value::String("red".into()))),
        ),
        ("extra", Box::new(set(&["extra"], Value::Boolean(true)))),
        (
            "board",
            Box::new(set(&["board"], Value::String("pi5".into()))),
        ),
        (
            "inputs[1].name",
            Box::new(set(&["inputs", "0", "name"], Value::String("cam2".into()))),
        ),
        (
            "inputs[2].name",
            Box::new(set(&["inputs", "2", "name"], Value::String("cam 3".into()))),
        ),
        (
            "inputs[1].kind",
            Box::new(set(&["inputs", "1", "kind"], Value::String("hdmi".into()))),
        ),
        (
            "inputs[3].pattern",
            Box::new(set(
                &["inputs", "3", "pattern"],
                Value::String("plaid".into()),
            )),
        ),
        (
            "inputs[0].tone_hz",
            Box::new(set(&["inputs", "0", "tone_hz"], Value::Integer(5))),
        ),
        ("inputs[1].path", Box::new(file_input)),
        (
            "inputs[1].path",
            Box::new(move |doc: &mut Table| {
                file_input(doc);
                set(&["inputs", "1", "path"], bad_file.clone())(doc);
            }),
        ),
        (
            "inputs[0].path",
            Box::new(set(
                &["inputs", "0", "path"],
                Value::String("/etc/hostname".into()),
            )),
        ),
        (
            "inputs",
            Box::new(|doc: &mut Table| {
                let inputs = at(doc, &["inputs"]).as_array_mut().unwrap();
                let mut fifth = inputs[0].clone();
                fifth
                    .as_table_mut()
                    .unwrap()
                    .insert("name".into(), Value::String("cam5".into()));
                inputs.push(fifth);
            }),
        ),
        ("inputs", Box::new(set(&["inputs"], Value::Array(vec![])))),
        (
            "ladder.rungs[0].height",
            Box::new(set(&["program", "height"], Value::Integer(480))),
        ),
        (
            "ladder.rungs[2].width",
            Box::new(set(
                &["ladder", "rungs", "2", "width"],
                Value::Integer(2000),
            )),
        ),
        (
            "ladder.rungs[1].bitrate_kbps",
            Box::new(set(
                &["ladder", "rungs", "1", "bitrate_kbps"],
                Value::Integer(-800),
            )),
        ),
        (
            "ladder.rungs[1].bitrate_kbps",
            Box::new(set(
                &["ladder", "rungs", "1", "bitrate_kbps"],
                Value::Integer(99),
            )),
        ),
        (
            "ladder.rungs[2].name",
            Box::new(set(
                &["ladder", "rungs", "2", "name"],
                Value::String("720p".into()),
            )),
        ),
        (
            "ladder.rungs[0].height",
            Box::new(set(
                &["ladder", "rungs", "0", "height"],
                Value::Integer(719),
            )),
        ),
        (
            "ladder.rungs",
            Box::new(set(&["ladder", "rungs"], Value::Array(vec![]))),
        ),
        (
            "ladder.encoder",
            Box::new(set(
                &["ladder", "encoder"],
                Value::String("x264enc ! fakesink".into()),
            )),
        ),
        (
            "ladder.x264_preset",
            Box::new(set(
                &["ladder", "x264_preset"],
                Value::String("placebo".into()),
            )),
        ),
        (
            "ladder.rungs[0].codec",
            Box::new(set(
                &["ladder", "rungs", "0", "codec"],
                Value::String("hevc".into()),
            )),
        ),
        (
            "outputs.hls.segment_seconds",
            Box::new(set(
                &["outputs", "hls", "segment_seconds"],
                Value::Integer(0),
            )),
        ),
        (
            "outputs.hls.segment_seconds",
            Box::new(set(
                &["outputs", "hls", "segment_seconds"],
                Value::Integer(11),
            )),
        ),
        (
            "outputs.hls.window",
            Box::new(set(&["outputs", "hls", "window"], Value::Integer(1))),
        ),
        (
            "outputs.hls.part_ms",
            Box::new(set(&["outputs", "hls", "part_ms"], Value::Integer(50))),
        ),
        (
            // More than half of a 1-s segment.
            "outputs.hls.part_ms",
            Box::new(|doc: &mut Table| {
                set(&["outputs", "hls", "segment_seconds"], Value::Integer(1))(doc);
                set(&["outputs", "hls", "part_ms"], Value::Integer(600))(doc);
            }),
        ),
        (
            "http.listen",
            Box::new(set(&["http", "listen"], Value::String("localhost".into()))),
        ),
        (
            "audio.sample_rate",
            Box::new(set(&["audio", "sample_rate"], Value::Integer(22050))),
        ),
        (
            "audio.channels",
            Box::new(set(&["audio", "channels"], Value::Integer(6))),
        ),
        (
            "storage.data_dir",
            Box::new(set(&["storage", "data_dir"], Value::String(String::new()))),
        ),
    ];
    assert!(cases.len() >= 20);
    for (want, edit) in cases {
        let errors = errors_of(edit);
        assert!(
            errors.iter().any(|e| e.path == want),
            "expected an error at {want}, got {errors:?}"
        );
        assert!(errors.iter().all(|e| !e.message.is_empty()));
    }
}

#[test]
fn all_errors_are_reported_not_just_the_first() {
    let errors = errors_of(|doc| {
        set(&["program", "fps"], Value::Integer(0))(doc);
        set(&["outputs", "hls", "window"], Value::Integer(0))(doc);
        set(&["ladder", "rungs", "0", "bitrate_kbps"], Value::Integer(1))(doc);
    });
    let paths: Vec<_> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "program.fps",
            "ladder.rungs[0].bitrate_kbps",
            "outputs.hls.window"
        ]
    );
}

#[test]
fn a_rung_taller_than_the_program_says_by_how_much() {
    let errors = errors_of(set(
        &["ladder", "rungs", "2", "height"],
        Value::Integer(1080),
    ));
    assert_eq!(
        errors[0].to_string(),
        "ladder.rungs[2].height: must be ≤ program height 720"
    );
}

#[test]
fn a_syntax_error_is_reported_with_its_position() {
    let err = Config::from_toml("board = \"virtual\"\nprogram = {").unwrap_err();
    assert_eq!(err.0[0].path, "(document)");
    assert!(err.0[0].message.contains("at byte"), "{err}");
}

#[test]
fn a_missing_section_is_named() {
    let err = Config::from_toml("board = \"virtual\"").unwrap_err();
    assert!(err.to_string().contains("missing field `program`"), "{err}");
}

#[test]
fn https_needs_an_address_of_its_own_and_ttls_are_bounded() {
    let paths = |errs: Vec<FieldError>| errs.into_iter().map(|e| e.path).collect::<Vec<_>>();
    let listen = default_doc()["http"]["listen"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        paths(errors_of(set(
            &["http", "https_listen"],
            Value::String(listen)
        ))),
        vec!["http.https_listen"]
    );
    assert_eq!(
        paths(errors_of(set(
            &["http", "https_listen"],
            Value::String("8443".into())
        ))),
        vec!["http.https_listen"]
    );
    assert!(
        errors_of(set(
            &["http", "https_listen"],
            Value::String("0.0.0.0:8443".into())
        ))
        .is_empty()
    );
    assert_eq!(
        paths(errors_of(set(
            &["http", "hls_url_ttl_s"],
            Value::Integer(59)
        ))),
        vec!["http.hls_url_ttl_s"]
    );
    assert_eq!(
        paths(errors_of(set(
            &["http", "hls_access"],
            Value::String("private".into())
        ))),
        vec!["http.hls_access"]
    );
    assert_eq!(
        paths(errors_of(set(&["multiview", "fps"], Value::Integer(11)))),
        vec!["multiview.fps"]
    );
}

fn paths_of(c: &Config) -> Vec<String> {
    match c.validate() {
        Ok(()) => Vec::new(),
        Err(e) => e.0.into_iter().map(|f| f.path).collect(),
    }
}

#[test]
fn network_inputs_are_checked_field_by_field() {
    let mut c = default_for_board("virtual").unwrap();
    c.inputs[1] = Input::srt("cam2", 9001, "short");
    c.inputs[2] = Input::rtmp("cam3", "bad key!");
    c.inputs[3] = Input::srt("cam4", 9001, "long enough passphrase");
    let paths = paths_of(&c);
    for want in [
        "inputs[1].passphrase",
        "inputs[2].key",
        "inputs[3].listen_port",
    ] {
        assert!(
            paths.iter().any(|p| p == want),
            "{want} missing from {paths:?}"
        );
    }
    c.inputs[1] = Input::srt("cam2", 9001, "long enough passphrase");
    c.inputs[2] = Input::rtmp("cam3", "phone-key-1");
    c.inputs[3] = Input::srt("cam4", 9002, "long enough passphrase");
    assert_eq!(paths_of(&c), Vec::<String>::new());
    // Without a passphrase an SRT input is open to anyone: only when said so.
    if let Source::Srt(s) = &mut c.inputs[3].source {
        s.passphrase = None;
    }
    assert_eq!(paths_of(&c), vec!["inputs[3].passphrase".to_string()]);
    if let Source::Srt(s) = &mut c.inputs[3].source {
        s.open = true;
    }
    assert_eq!(paths_of(&c), Vec::<String>::new());
    c.ingest.rtmp_listen = "nowhere".into();
    assert_eq!(paths_of(&c), vec!["ingest.rtmp_listen".to_string()]);
}

/// The default document with input 1 replaced by this TOML table's fields.
fn input_errors(fields: &str) -> Vec<FieldError> {
    let table: Table = format!("name = \"cam2\"\n{fields}").parse().unwrap();
    errors_of(move |doc| *at(doc, &["inputs", "1"]) = Value::Table(table.clone()))
}

#[test]
fn an_input_has_its_own_kinds_fields_and_only_those() {
    for (fields, path, says) in [
        (
            "kind = \"srt\"\nlisten_port = 9001\nkey = \"phone-key-1\"",
            "inputs[1].key",
            "only rtmp inputs have key",
        ),
        (
            "kind = \"srt\"",
            "inputs[1].listen_port",
            "an srt input needs a listen_port",
        ),
        (
            "kind = \"rtmp\"",
            "inputs[1].key",
            "an rtmp input needs a key",
        ),
        (
            "kind = \"file\"",
            "inputs[1].path",
            "a file input needs a path",
        ),
        (
            "kind = \"test\"",
            "inputs[1].pattern",
            "a test input needs a pattern",
        ),
        (
            "kind = \"rtmp\"\nkey = \"phone-key-1\"\nloop = false",
            "inputs[1].loop",
            "only file inputs have loop",
        ),
        (
            "kind = \"file\"\npath = \"/etc/hostname\"\ntone_hz = 440",
            "inputs[1].tone_hz",
            "only test inputs have tone_hz",
        ),
    ] {
        let errs = input_errors(fields);
        assert_eq!(errs.len(), 1, "{fields}: {errs:?}");
        assert_eq!(errs[0].path, path, "{fields}");
        assert!(
            errs[0].message.contains(says),
            "{fields}: {}",
            errs[0].message
        );
    }
}

#[test]
fn an_input_reads_back_with_its_defaults_resolved() {
    let mut c = default_for_board("virtual").unwrap();
    c.inputs[1] = Input::srt("cam2", 9001, "long enough passphrase");
    let toml = c.to_toml().replace("\"***\"", "\"long enough passphrase\"");
    let back = Config::from_toml(&toml).unwrap();
    let Source::Srt(srt) = &back.inputs[1].source else {
        panic!("not srt: {:?}", back.inputs[1]);
    };
    assert_eq!(srt.latency_ms, DEFAULT_SRT_LATENCY_MS);
    let text = "kind = \"file\"\npath = \"/etc/hostname\"";
    let mut doc = default_doc();
    *at(&mut doc, &["inputs", "1"]) =
        Value::Table(format!("name = \"cam2\"\n{text}").parse().unwrap());
    let c = Config::parse(&toml::to_string(&doc).unwrap()).unwrap();
    assert_eq!(
        c.inputs[1].source,
        Source::File {
            path: "/etc/hostname".into(),
            looped: true
        }
    );
}

#[test]
fn overlays_are_checked_field_by_field() {
    let dir = std::env::temp_dir().join(format!("fourcast-overlay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = dir.join("logo.png");
    std::fs::write(&text, "not a picture").unwrap();
    let mut c = default_for_board("virtual").unwrap();
    c.overlays.logo = Some(Logo {
        path: text.clone(),
        x: 1200,
        y: 10,
        width: 200,
        opacity: 1.5,
        visible: true,
    });
    c.overlays.lower_third = Some(LowerThird {
        title: " ".into(),
        subtitle: String::new(),
        size: 500,
        text_color: "white".into(),
        background: "#000000".into(),
        background_opacity: 0.5,
        fade_ms: 300,
        visible: false,
    });
    c.scenes[0].overlays = Some(vec!["clock".into(), "sparkles".into()]);
    let paths = paths_of(&c);
    for want in [
        "overlays.logo.path",
        "overlays.logo.width",
        "overlays.logo.opacity",
        "overlays.lower_third.title",
        "overlays.lower_third.size",
        "overlays.lower_third.text_color",
        "scenes[0].overlays[0]",
        "scenes[0].overlays[1]",
    ] {
        assert!(
            paths.iter().any(|p| p == want),
            "{want} missing from {paths:?}"
        );
    }
    let e = c.validate().unwrap_err();
    let logo = e.0.iter().find(|f| f.path == "overlays.logo.path").unwrap();
    assert!(logo.message.contains("not a PNG"), "{}", logo.message);
    // Sizes whose sum overflows a u32 are refused, not wrapped (or a panic).
    if let Some(l) = c.overlays.logo.as_mut() {
        (l.x, l.width, l.y) = (u32::MAX - 100, 20_000, u32::MAX);
    }
    let paths = paths_of(&c);
    for want in ["overlays.logo.width", "overlays.logo.y"] {
        assert!(
            paths.iter().any(|p| p == want),
            "{want} missing from {paths:?}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn capture_inputs_name_their_device_and_its_sound() {
    let capture = |device: &str, audio: Option<&str>| {
        let mut t = Table::new();
        t.insert("name".into(), "cam1".into());
        t.insert("kind".into(), "v4l2".into());
        t.insert("device".into(), device.into());
        if let Some(a) = audio {
            t.insert("audio".into(), a.into());
        }
        Value::Table(t)
    };
    let set_cam = |v: Value| {
        move |doc: &mut Table| {
            at(doc, &["inputs"]).as_array_mut().unwrap()[0] = v.clone();
        }
    };
    assert!(errors_of(set_cam(capture("/dev/video0", Some("hw:Loopback,1,0")))).is_empty());
    assert!(
        errors_of(set_cam(capture(
            "/dev/v4l/by-path/pci-0000:00:14.0-usb-0:2:1.0-video-index0",
            None
        )))
        .is_empty(),
        "a stable by-path name; it need not exist now (an unplugged camera)"
    );
    let e = errors_of(set_cam(capture("video0", None)));
    assert_eq!(e[0].path, "inputs[0].device", "{e:?}");
    let e = errors_of(set_cam(capture("/dev/../etc/passwd", None)));
    assert_eq!(e[0].path, "inputs[0].device", "{e:?}");
    let e = errors_of(set_cam(capture("/dev/video0", Some("hw:0; rm"))));
    assert_eq!(e[0].path, "inputs[0].audio", "{e:?}");
    let e = errors_of(|doc: &mut Table| {
        let inputs = at(doc, &["inputs"]).as_array_mut().unwrap();
        inputs[0] = capture("/dev/video0", None);
        let mut second = capture("/dev/video0", None);
        second
            .as_table_mut()
            .unwrap()
            .insert("name".into(), "cam2".into());
        inputs[1] = second;
    });
    assert_eq!(e[0].path, "inputs[1].device", "{e:?}");
    let mut wrong = capture("/dev/video0", None);
    wrong
        .as_table_mut()
        .unwrap()
        .insert("listen_port".into(), 9000.into());
    let e = errors_of(set_cam(wrong));
    assert!(e[0].message.contains("only srt inputs"), "{e:?}");
}

#[test]
fn a_capture_input_can_insist_on_raw_or_mjpeg() {
    let capture = |format: &str| {
        let mut t = Table::new();
        t.insert("name".into(), "cam1".into());
        t.insert("kind".into(), "v4l2".into());
        t.insert("device".into(), "/dev/video0".into());
        t.insert("format".into(), format.into());
        Value::Table(t)
    };
    let set_cam = |v: Value| {
        move |doc: &mut Table| {
            at(doc, &["inputs"]).as_array_mut().unwrap()[0] = v.clone();
        }
    };
    for ok in ["auto", "raw", "mjpeg"] {
        assert!(errors_of(set_cam(capture(ok))).is_empty(), "{ok}");
    }
    let e = errors_of(set_cam(capture("h264")));
    assert!(e[0].path.starts_with("inputs[0]"), "{e:?}");
    assert!(e[0].message.contains("h264"), "{e:?}");
    // Kept through a round trip, and `auto` (the default) left out.
    let mut c = default_for_board("virtual").unwrap();
    c.inputs[0].source = Source::V4l2(CaptureInput {
        device: "/dev/video0".into(),
        audio: None,
        format: CaptureFormat::Mjpeg,
        signal: SignalSource::Node,
    });
    let back = Config::from_toml(&c.to_toml()).unwrap();
    assert_eq!(back.inputs[0].source, c.inputs[0].source);
    c.inputs[0].source = Source::V4l2(CaptureInput {
        device: "/dev/video0".into(),
        audio: None,
        format: CaptureFormat::Auto,
        signal: SignalSource::Node,
    });
    assert!(!c.to_toml().contains("format"));
    // Only capture inputs have a format.
    let mut test = Table::new();
    test.insert("name".into(), "cam1".into());
    test.insert("kind".into(), "test".into());
    test.insert("pattern".into(), "smpte".into());
    test.insert("format".into(), "raw".into());
    let e = errors_of(set_cam(Value::Table(test)));
    assert!(
        e[0].message.contains("only v4l2 inputs have format"),
        "{e:?}"
    );
}

#[test]
fn a_sound_only_input_names_its_alsa_device_and_is_never_a_tile() {
    let desk = |device: &str| {
        let mut t = Table::new();
        t.insert("name".into(), "desk".into());
        t.insert("kind".into(), "alsa".into());
        t.insert("device".into(), device.into());
        Value::Table(t)
    };
    let add = |v: Value| {
        move |doc: &mut Table| {
            at(doc, &["inputs"]).as_array_mut().unwrap().push(v.clone());
        }
    };
    let e = errors_of(add(desk("hw:CARD=USB,DEV=0")));
    assert!(e.is_empty(), "{e:?}");
    let e = errors_of(add(desk("/dev/snd/pcmC0D0c")));
    assert_eq!(e[0].path, "inputs[4].device", "{e:?}");
    assert!(e[0].message.contains("ALSA device name"), "{e:?}");
    let mut none = desk("x");
    none.as_table_mut().unwrap().remove("device");
    let e = errors_of(add(none));
    assert!(
        e[0].message.contains("an alsa input needs a device"),
        "{e:?}"
    );
    let mut c = default_for_board("virtual").unwrap();
    c.inputs.push(Input::new(
        "desk",
        Source::Alsa {
            device: "hw:Loopback,1,0".into(),
        },
    ));
    let back = Config::from_toml(&c.to_toml()).unwrap();
    assert_eq!(back.inputs[4].source, c.inputs[4].source);
    assert!(!c.inputs[4].has_picture());
    // The grid shows the cameras only; a shot naming the sound is refused, naming it.
    let program = c.program.shot();
    let shown = program.shown(&c);
    assert!(!shown.contains(&"desk"), "{shown:?}");
    let shot = Shot {
        layout: Layout::Single,
        inputs: vec!["desk".into()],
        pip: Pip::default(),
    };
    let e = shot.check(&c, "program");
    assert!(e[0].message.contains("sound-only"), "{e:?}");
}

#[test]
fn where_a_capture_reads_its_signal_is_a_word_every_profile_spells_right() {
    assert_eq!(SignalSource::parse("node"), Ok(SignalSource::Node));
    assert_eq!(SignalSource::parse("frames"), Ok(SignalSource::Frames));
    assert_eq!(
        SignalSource::parse("subdev:tc358743"),
        Ok(SignalSource::Subdev("tc358743".into()))
    );
    for bad in ["subdev:", "subdev:../../x", "edid", ""] {
        let e = SignalSource::parse(bad).unwrap_err();
        assert!(e.contains("subdev:NAME"), "{bad}: {e}");
    }
    for board in fourcast_board::names() {
        for c in fourcast_board::profile(board).unwrap().capture {
            if let Some(word) = &c.signal {
                assert!(
                    SignalSource::parse(word).is_ok(),
                    "{board}: {}: {word}",
                    c.name
                );
            }
        }
    }
    let pi = default_for_board("rpi5").unwrap();
    let Source::V4l2(hdmi) = &pi.inputs[0].source else {
        panic!("the Pi's HDMI bridge is a capture input");
    };
    assert_eq!(hdmi.signal, SignalSource::Subdev("tc358743".into()));
    // A config that names it keeps it through a round trip; only capture inputs have it.
    let back = Config::from_toml(&pi.to_toml()).unwrap();
    assert_eq!(back.inputs[0].source, pi.inputs[0].source);
    let e = errors_of(|doc: &mut Table| {
        let cam = at(doc, &["inputs", "0"]).as_table_mut().unwrap();
        cam.insert("signal".into(), "frames".into());
    });
    assert!(
        e[0].message.contains("only v4l2 inputs have signal"),
        "{e:?}"
    );
}
