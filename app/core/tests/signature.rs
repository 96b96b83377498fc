//! Signature capture → PNG bound to the record hash; refusals.

use std::io::Cursor;

use choucha_app_core::signature::{
    self, Capture, MAX_HEIGHT, MAX_WIDTH, Point, SignatureError, Stroke, check_binding,
    read_metadata, refusal, render,
};
use choucha_shared::record::{Signature, SignerRole};
use choucha_shared::value::Sha256Hex;
use chrono::{DateTime, Duration, TimeZone, Utc};

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 18, 2, 30, 15).unwrap() + Duration::milliseconds(250)
}

fn hash(seed: &str) -> Sha256Hex {
    Sha256Hex::of(seed.as_bytes())
}

fn pt(x: f32, y: f32, t_ms: u32) -> Point {
    Point {
        x,
        y,
        t_ms,
        pressure: None,
    }
}

/// A wave across a 600×200 pad plus an underline.
fn capture() -> Capture {
    let wave = (0..60)
        .map(|i| {
            let x = 50.0 + i as f32 * 8.0;
            let y = 100.0 + 40.0 * (i as f32 / 6.0).sin();
            pt(x, y, i * 16)
        })
        .collect();
    let line = (0..20)
        .map(|i| pt(80.0 + i as f32 * 20.0, 170.0, 1200 + i * 16))
        .collect();
    Capture {
        width: 600,
        height: 200,
        strokes: vec![Stroke { points: wave }, Stroke { points: line }],
    }
}

/// Decode to 8-bit grayscale pixels.
fn decode(png_bytes: &[u8]) -> (u32, u32, Vec<u8>) {
    let decoder = png::Decoder::new(Cursor::new(png_bytes));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).expect("decodes");
    assert_eq!(info.color_type, png::ColorType::Grayscale);
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

fn pixel(img: &(u32, u32, Vec<u8>), x: f32, y: f32) -> u8 {
    let (w, _, data) = img;
    data[y.round() as usize * *w as usize + x.round() as usize]
}

#[test]
fn renders_black_strokes_on_white_at_pad_size() {
    let c = capture();
    let img = render(&c, "张三", SignerRole::Officer, at(), &hash("record")).unwrap();
    assert!(img.png.starts_with(b"\x89PNG\r\n\x1a\n"));
    assert_eq!(img.sha256, Sha256Hex::of(&img.png));
    let decoded = decode(&img.png);
    assert_eq!((decoded.0, decoded.1), (600, 200));
    // Dark where the pen went...
    for stroke in &c.strokes {
        for p in &stroke.points {
            assert!(
                pixel(&decoded, p.x, p.y) < 100,
                "pixel at ({}, {}) is {}",
                p.x,
                p.y,
                pixel(&decoded, p.x, p.y)
            );
        }
    }
    // ...white where it did not, and anti-aliased at the edges.
    for (x, y) in [
        (0.0, 0.0),
        (599.0, 0.0),
        (10.0, 190.0),
        (590.0, 199.0),
        (300.0, 20.0),
    ] {
        assert_eq!(pixel(&decoded, x, y), 255, "({x}, {y})");
    }
    let data = &decoded.2;
    let dark = data.iter().filter(|&&v| v < 128).count();
    let grey = data.iter().filter(|&&v| v > 0 && v < 255).count();
    assert!(dark > 1000 && dark < 600 * 200 / 5, "dark pixels: {dark}");
    assert!(grey > 100, "no anti-aliasing: {grey} intermediate pixels");
}

#[test]
fn pressure_varies_the_pen_and_still_renders() {
    let mut c = capture();
    for s in &mut c.strokes {
        for (i, p) in s.points.iter_mut().enumerate() {
            p.pressure = Some((i % 10) as f32 / 10.0);
        }
    }
    let img = render(&c, "张三", SignerRole::Officer, at(), &hash("r")).unwrap();
    let decoded = decode(&img.png);
    let p = &c.strokes[0].points[37];
    assert!(pixel(&decoded, p.x, p.y) < 128);
    assert_ne!(
        img.png,
        render(&capture(), "张三", SignerRole::Officer, at(), &hash("r"))
            .unwrap()
            .png
    );
}

#[test]
fn deterministic_bytes_and_hash() {
    let a = render(&capture(), "张三", SignerRole::Officer, at(), &hash("r")).unwrap();
    let b = render(&capture(), "张三", SignerRole::Officer, at(), &hash("r")).unwrap();
    assert_eq!(a, b);
}

#[test]
fn metadata_round_trips() {
    let img = render(
        &capture(),
        "  欧阳·娜娜 ",
        SignerRole::EnterpriseRepresentative,
        at(),
        &hash("record-1"),
    )
    .unwrap();
    let meta = read_metadata(&img.png).unwrap();
    assert_eq!(meta.signer_name, "欧阳·娜娜");
    assert_eq!(meta.role, SignerRole::EnterpriseRepresentative);
    assert_eq!(meta.signed_at, at());
    assert_eq!(meta.content_hash, hash("record-1"));
    assert_eq!((meta.width, meta.height), (600, 200));
    assert!(meta.matches_strokes(&img.strokes_json));
    assert!(!meta.matches_strokes("{}"));
    // The strokes are kept and read back to the same capture.
    assert_eq!(
        signature::capture_from_json(&img.strokes_json).unwrap(),
        capture()
    );

    for role in [SignerRole::Officer, SignerRole::Expert] {
        let img = render(&capture(), "李四", role, at(), &hash("x")).unwrap();
        assert_eq!(read_metadata(&img.png).unwrap().role, role);
    }
}

#[test]
fn hash_depends_on_content_hash_signer_and_time() {
    let base = render(&capture(), "张三", SignerRole::Officer, at(), &hash("v1")).unwrap();
    let other_record = render(&capture(), "张三", SignerRole::Officer, at(), &hash("v2")).unwrap();
    let other_name = render(&capture(), "张四", SignerRole::Officer, at(), &hash("v1")).unwrap();
    let other_role = render(&capture(), "张三", SignerRole::Expert, at(), &hash("v1")).unwrap();
    let later = render(
        &capture(),
        "张三",
        SignerRole::Officer,
        at() + Duration::seconds(1),
        &hash("v1"),
    )
    .unwrap();
    for other in [&other_record, &other_name, &other_role, &later] {
        assert_ne!(base.sha256, other.sha256);
    }
    // Same strokes, same pixels: only the binding differs.
    assert_eq!(decode(&base.png), decode(&other_record.png));
    assert_eq!(base.strokes_json, other_record.strokes_json);
}

fn signature_for(img: &signature::SignatureImage, content_hash: Sha256Hex) -> Signature {
    Signature {
        role: SignerRole::Officer,
        person_id: Some("渝50010023001".to_owned()),
        name: "张三".to_owned(),
        image_sha256: img.sha256.clone(),
        signed_at: at(),
        content_hash,
    }
}

#[test]
fn check_binding_verifies_image_against_the_signature() {
    let img = render(&capture(), "张三", SignerRole::Officer, at(), &hash("v1")).unwrap();
    let sig = signature_for(&img, hash("v1"));
    assert_eq!(
        check_binding(&img.png, &sig).unwrap().content_hash,
        hash("v1")
    );

    // The record changed after signing: the signature names the new hash,
    // but the image was bound to the old one.
    let forged = signature_for(&img, hash("v2"));
    assert_eq!(
        check_binding(&img.png, &forged).unwrap_err(),
        SignatureError::Mismatch {
            field: "content_hash"
        }
    );
    let mut other_role = sig.clone();
    other_role.role = SignerRole::Expert;
    assert_eq!(
        check_binding(&img.png, &other_role).unwrap_err(),
        SignatureError::Mismatch { field: "role" }
    );
    let mut other_name = sig.clone();
    other_name.name = "李四".to_owned();
    assert_eq!(
        check_binding(&img.png, &other_name).unwrap_err(),
        SignatureError::Mismatch { field: "name" }
    );
    let mut other_time = sig.clone();
    other_time.signed_at = at() + Duration::minutes(5);
    assert_eq!(
        check_binding(&img.png, &other_time).unwrap_err(),
        SignatureError::Mismatch { field: "signed_at" }
    );

    // Any changed byte changes the image hash.
    let mut tampered = img.png.clone();
    let last = tampered.len() - 20;
    tampered[last] ^= 1;
    assert_eq!(
        check_binding(&tampered, &sig).unwrap_err(),
        SignatureError::ImageHashMismatch
    );
}

#[test]
fn read_metadata_refuses_foreign_and_broken_images() {
    // A plain PNG without the binding chunks.
    let mut plain = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut plain, 2, 2);
        enc.set_color(png::ColorType::Grayscale);
        let mut w = enc.write_header().unwrap();
        w.write_image_data(&[255; 4]).unwrap();
    }
    assert!(matches!(
        read_metadata(&plain).unwrap_err(),
        SignatureError::MissingMetadata(_)
    ));
    assert!(matches!(
        read_metadata(b"not a png").unwrap_err(),
        SignatureError::Decode(_)
    ));
    let img = render(&capture(), "张三", SignerRole::Officer, at(), &hash("v1")).unwrap();
    assert!(matches!(
        read_metadata(&img.png[..img.png.len() / 2]).unwrap_err(),
        SignatureError::Decode(_)
    ));
}

#[test]
fn large_pads_are_scaled_down_to_the_cap() {
    let mut c = capture();
    c.width = 3200;
    c.height = 800;
    for s in &mut c.strokes {
        for p in &mut s.points {
            p.x *= 4.0;
            p.y *= 4.0;
        }
    }
    let img = render(&c, "张三", SignerRole::Officer, at(), &hash("r")).unwrap();
    let decoded = decode(&img.png);
    assert_eq!((decoded.0, decoded.1), (MAX_WIDTH, MAX_WIDTH / 4));
    assert!(decoded.0 <= MAX_WIDTH && decoded.1 <= MAX_HEIGHT);
    let p = &c.strokes[0].points[10];
    assert!(pixel(&decoded, p.x / 2.0, p.y / 2.0) < 128);
}

fn refused(c: &Capture) -> SignatureError {
    render(c, "张三", SignerRole::Officer, at(), &hash("r")).unwrap_err()
}

#[test]
fn bad_captures_are_refused_with_chinese_first_messages() {
    let empty = Capture {
        width: 600,
        height: 200,
        strokes: vec![],
    };
    let err = refused(&empty);
    assert_eq!(err, SignatureError::Empty);
    assert!(
        err.to_string().starts_with("签名为空，请在签名框内签字"),
        "{err}"
    );
    assert!(err.to_string().contains("the signature is empty"));

    let hollow = Capture {
        strokes: vec![Stroke::default(), Stroke::default()],
        ..empty.clone()
    };
    assert_eq!(refused(&hollow), SignatureError::Empty);

    let mut few = capture();
    few.strokes = vec![Stroke {
        points: few.strokes[0].points[..5].to_vec(),
    }];
    assert_eq!(refused(&few), SignatureError::TooFewPoints { points: 5 });
    assert!(refused(&few).to_string().starts_with("签名笔画过少"));

    let dot = Capture {
        width: 600,
        height: 200,
        strokes: vec![Stroke {
            points: (0..30)
                .map(|i| pt(300.0 + (i % 3) as f32, 100.0 + (i % 2) as f32, i))
                .collect(),
        }],
    };
    assert_eq!(refused(&dot), SignatureError::SingleSpot);

    let mut zero = capture();
    zero.width = 0;
    assert!(matches!(refused(&zero), SignatureError::ZeroSize { .. }));
    let mut zero_h = capture();
    zero_h.height = 0;
    assert!(matches!(refused(&zero_h), SignatureError::ZeroSize { .. }));

    let mut outside = capture();
    outside.strokes[1].points[3].x = 612.0;
    let err = refused(&outside);
    assert!(
        matches!(
            err,
            SignatureError::OutOfBounds {
                stroke: 2,
                point: 4,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("超出签名框"), "{err}");
    let mut negative = capture();
    negative.strokes[0].points[0].y = -1.0;
    assert!(matches!(
        refused(&negative),
        SignatureError::OutOfBounds { .. }
    ));

    let mut nan = capture();
    nan.strokes[0].points[7].x = f32::NAN;
    assert!(matches!(refused(&nan), SignatureError::NotFinite { .. }));
    let mut bad_pressure = capture();
    bad_pressure.strokes[0].points[7].pressure = Some(f32::INFINITY);
    assert!(matches!(
        refused(&bad_pressure),
        SignatureError::NotFinite { .. }
    ));

    let huge = Capture {
        width: 600,
        height: 200,
        strokes: vec![Stroke {
            points: (0..signature::MAX_POINTS as u32 + 1)
                .map(|i| pt((i % 500) as f32, (i % 150) as f32, i))
                .collect(),
        }],
    };
    assert!(matches!(
        refused(&huge),
        SignatureError::TooManyPoints { .. }
    ));

    // The signer needs a name.
    assert!(matches!(
        render(&capture(), "  ", SignerRole::Officer, at(), &hash("r")).unwrap_err(),
        SignatureError::SignerName(_)
    ));
}

#[test]
fn refusal_needs_a_reason_and_trims_the_witness() {
    let r = refusal(
        "  企业负责人不在场，委托人拒绝签字 ",
        Some("  王五（保安） "),
        at(),
    )
    .unwrap();
    assert_eq!(r.reason, "企业负责人不在场，委托人拒绝签字");
    assert_eq!(r.witness.as_deref(), Some("王五（保安）"));
    assert_eq!(r.recorded_at, at());

    let no_witness = refusal("拒绝签字", Some("   "), at()).unwrap();
    assert_eq!(no_witness.witness, None);
    assert_eq!(refusal("拒绝签字", None, at()).unwrap().witness, None);

    for blank in ["", "   ", "\n\t"] {
        let err = refusal(blank, Some("王五"), at()).unwrap_err();
        assert_eq!(err, SignatureError::RefusalReasonEmpty);
        assert!(err.to_string().starts_with("拒绝签字须填写理由"));
    }
    assert!(matches!(
        refusal(&"长".repeat(signature::MAX_REASON_CHARS + 1), None, at()).unwrap_err(),
        SignatureError::RefusalReasonTooLong(_)
    ));
    // A witness name is one line.
    assert!(matches!(
        refusal("拒绝签字", Some("王五\n赵六"), at()).unwrap_err(),
        SignatureError::WitnessName(_)
    ));
    // Multi-line reasons are fine.
    assert!(refusal("第一，不认可检查结论；\n第二，负责人不在", None, at()).is_ok());
}
