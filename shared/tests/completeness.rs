//! Sealing rules over whole records: a complete record passes, and a record
//! with several gaps gets every one of them reported.

use choucha_shared::checklist::{self, Checklist, Verdict};
use choucha_shared::completeness::{Violation, check, ensure_sealable};
use choucha_shared::plan::{MemberRole, TeamMember};
use choucha_shared::record::{
    Disposition, Finding, InspectionRecord, ItemEntry, Photo, PhotoSubject, Signature,
    SignatureRefusal, SignerRole,
};
use choucha_shared::{CivilDate, GeoPoint, Sha256Hex, TargetCategory};
use chrono::{TimeZone, Utc};
use uuid::Uuid;

const CHECKLIST: &str = r#"
schema = 1
id = "ccc"
version = 1
category = "ccc"
title = "强制性产品认证获证企业监督检查表"
effective = "2023-12-29"
legal_basis = ["《中华人民共和国认证认可条例》"]
verdicts = ["conform", "nonconform", "not_applicable"]

[[sections]]
id = "1"
title = "认证证书"

[[sections.items]]
id = "CCC-1.01"
text = "列入目录的产品是否经过认证"
basis = "《中华人民共和国认证认可条例》第二十七条"
evidence = ["document"]

[[sections.items]]
id = "CCC-1.02"
text = "产品是否按规定加施强制性产品认证标志"
basis = "《强制性产品认证管理规定》"
evidence = ["photo", "site_check"]

[[sections.items]]
id = "CCC-1.03"
text = "认证证书是否有效"
basis = "《强制性产品认证管理规定》"
evidence = ["online"]
"#;

fn checklist() -> Checklist {
    checklist::parse("ccc.v1.toml", CHECKLIST).unwrap()
}

fn sha(n: u8) -> Sha256Hex {
    Sha256Hex::of(&[n])
}

fn photo(n: u8, subject: PhotoSubject) -> Photo {
    Photo {
        sha256: sha(n),
        subject,
        taken_at: Utc.with_ymd_and_hms(2024, 1, 10, 2, 0, n.into()).unwrap(),
        gps: Some(GeoPoint::new(29.6, 106.3, Some(6.0)).unwrap()),
        gps_time: None,
        bytes: 400_000,
        width: 2048,
        height: 1536,
    }
}

fn member(role: MemberRole, id: &str, name: &str) -> TeamMember {
    TeamMember {
        role,
        person_id: id.into(),
        name: name.into(),
    }
}

/// A record that satisfies every rule: one nonconformity with its note,
/// photo and rectification order; all three parties signed.
fn complete_record() -> InspectionRecord {
    let mut r = InspectionRecord {
        format: 1,
        record_id: Uuid::nil(),
        task_id: "T-2023-0001".into(),
        target: choucha_shared::directory::TargetKey("91350100M000100Y43".into()),
        target_name: "重庆某某电器有限公司".into(),
        category: TargetCategory::Ccc,
        checklist: checklist().reference(),
        team: vec![
            member(MemberRole::Officer, "渝50010023001", "张三"),
            member(MemberRole::Officer, "渝50010023002", "李四"),
            member(MemberRole::Expert, "EXP-007", "王五"),
        ],
        started_at: Utc.with_ymd_and_hms(2024, 1, 10, 1, 30, 0).unwrap(),
        inspection_date: CivilDate::parse("2024-01-10").unwrap(),
        items: Default::default(),
        photos: vec![
            photo(1, PhotoSubject::Gate),
            photo(2, PhotoSubject::Process),
        ],
        findings: vec![],
        signatures: vec![],
        refusal: None,
    };
    r.items.insert(
        "CCC-1.01".into(),
        ItemEntry {
            verdict: Some(Verdict::Conform),
            note: None,
        },
    );
    r.items.insert(
        "CCC-1.02".into(),
        ItemEntry {
            verdict: Some(Verdict::Nonconform),
            note: Some("部分产品未加施CCC标志".into()),
        },
    );
    r.items.insert(
        "CCC-1.03".into(),
        ItemEntry {
            verdict: Some(Verdict::NotApplicable),
            note: None,
        },
    );
    r.photos
        .push(photo(3, PhotoSubject::Item("CCC-1.02".into())));
    r.findings.push(Finding {
        finding_id: Uuid::from_u128(7),
        item_id: Some("CCC-1.02".into()),
        description: "库存产品未加施CCC标志".into(),
        disposition: Disposition::RectificationOrder {
            order_no: "渝高新市监责改〔2024〕1号".into(),
            deadline: CivilDate::parse("2024-01-25").unwrap(),
            requirements: "对库存产品加施标志后方可出厂".into(),
            follow_up: None,
        },
    });
    sign_all(&mut r);
    r
}

fn sign(r: &InspectionRecord, role: SignerRole, id: Option<&str>, name: &str, n: u8) -> Signature {
    Signature {
        role,
        person_id: id.map(Into::into),
        name: name.into(),
        image_sha256: sha(100 + n),
        signed_at: Utc.with_ymd_and_hms(2024, 1, 10, 3, 0, n.into()).unwrap(),
        content_hash: r.content_hash(),
    }
}

fn sign_all(r: &mut InspectionRecord) {
    r.signatures = vec![
        sign(r, SignerRole::Officer, Some("渝50010023001"), "张三", 1),
        sign(r, SignerRole::Officer, Some("渝50010023002"), "李四", 2),
        sign(r, SignerRole::Expert, Some("EXP-007"), "王五", 3),
        sign(r, SignerRole::EnterpriseRepresentative, None, "赵六", 4),
    ];
}

#[test]
fn complete_record_can_be_sealed() {
    assert_eq!(check(&complete_record(), &checklist()), vec![]);
}

#[test]
fn every_violation_is_listed_not_just_the_first() {
    let mut r = complete_record();
    r.photos.retain(|p| p.subject != PhotoSubject::Gate);
    r.items.get_mut("CCC-1.02").unwrap().note = Some("  ".into());
    r.signatures.retain(|s| s.name != "李四");
    // Re-sign the changed content so only the intended gaps remain.
    let keep: Vec<_> = r.signatures.iter().map(|s| s.name.clone()).collect();
    sign_all(&mut r);
    r.signatures.retain(|s| keep.contains(&s.name));

    let v = ensure_sealable(&r, &checklist()).unwrap_err();
    assert_eq!(
        v,
        vec![
            Violation::NonconformityWithoutNote {
                item_id: "CCC-1.02".into()
            },
            Violation::GatePhotoMissing,
            Violation::OfficerSignaturesMissing { found: 1 },
        ]
    );
    // The messages are what the inspector reads: Chinese, naming the item.
    assert_eq!(v[0].to_string(), "检查项 CCC-1.02 不符合，须填写问题说明");
    assert_eq!(v[0].item_id(), Some("CCC-1.02"));
}

#[test]
fn missing_verdicts_photos_and_findings() {
    let mut r = complete_record();
    r.items.remove("CCC-1.01");
    r.items.get_mut("CCC-1.03").unwrap().verdict = Some(Verdict::Major);
    r.photos
        .retain(|p| p.subject != PhotoSubject::Item("CCC-1.02".into()));
    r.findings.clear();
    r.items.insert(
        "CCC-9.99".into(),
        ItemEntry {
            verdict: Some(Verdict::Conform),
            note: None,
        },
    );
    sign_all(&mut r);
    assert_eq!(
        check(&r, &checklist()),
        vec![
            Violation::ItemWithoutVerdict {
                item_id: "CCC-1.01".into()
            },
            Violation::NonconformityWithoutPhoto {
                item_id: "CCC-1.02".into()
            },
            Violation::NonconformityWithoutFinding {
                item_id: "CCC-1.02".into()
            },
            Violation::VerdictNotAllowed {
                item_id: "CCC-1.03".into(),
                verdict: Verdict::Major
            },
            Violation::UnknownItem {
                item_id: "CCC-9.99".into()
            },
        ]
    );
}

#[test]
fn photo_evidence_is_required_unless_not_applicable() {
    let mut r = complete_record();
    r.items.get_mut("CCC-1.02").unwrap().verdict = Some(Verdict::Conform);
    r.findings.clear();
    r.photos
        .retain(|p| p.subject != PhotoSubject::Item("CCC-1.02".into()));
    sign_all(&mut r);
    assert_eq!(
        check(&r, &checklist()),
        vec![Violation::ItemPhotoMissing {
            item_id: "CCC-1.02".into()
        }]
    );
    r.items.get_mut("CCC-1.02").unwrap().verdict = Some(Verdict::NotApplicable);
    sign_all(&mut r);
    assert_eq!(check(&r, &checklist()), vec![]);
}

#[test]
fn experts_do_not_count_toward_two_officers_and_strangers_are_refused() {
    let mut r = complete_record();
    r.signatures.retain(|s| s.name != "李四");
    let mut stranger = sign(&r, SignerRole::Officer, Some("渝50010099999"), "钱七", 9);
    r.signatures.push(stranger.clone());
    stranger.role = SignerRole::Expert;
    stranger.person_id = Some("渝50010023002".into());
    r.signatures.push(stranger);
    let v = check(&r, &checklist());
    assert_eq!(
        v,
        vec![
            Violation::SignerNotOnTeam {
                name: "钱七".into()
            },
            Violation::SignerNotOnTeam {
                name: "钱七".into()
            },
            Violation::OfficerSignaturesMissing { found: 1 },
        ]
    );
}

#[test]
fn enterprise_refusal_needs_a_reason() {
    let mut r = complete_record();
    r.signatures
        .retain(|s| s.role != SignerRole::EnterpriseRepresentative);
    assert_eq!(
        check(&r, &checklist()),
        vec![Violation::EnterpriseSignatureMissing]
    );
    let at = Utc.with_ymd_and_hms(2024, 1, 10, 3, 30, 0).unwrap();
    r.refusal = Some(SignatureRefusal {
        reason: " ".into(),
        witness: None,
        recorded_at: at,
    });
    assert_eq!(
        check(&r, &checklist()),
        vec![Violation::RefusalWithoutReason]
    );
    r.refusal = Some(SignatureRefusal {
        reason: "企业负责人对检查结论有异议，拒绝签字".into(),
        witness: Some("社区网格员 孙八".into()),
        recorded_at: at,
    });
    assert_eq!(check(&r, &checklist()), vec![]);
}

#[test]
fn changing_content_after_signing_invalidates_signatures() {
    let mut r = complete_record();
    r.items.get_mut("CCC-1.01").unwrap().note = Some("补充说明".into());
    let v = check(&r, &checklist());
    assert_eq!(v.len(), 4, "{v:?}");
    assert!(
        v.iter()
            .all(|x| matches!(x, Violation::SignatureStale { .. }))
    );
}

#[test]
fn standards_are_checked_off_site() {
    // No gate photo and no enterprise signature for a standard (checked on
    // paper), but two officers must still sign.
    let text = CHECKLIST.replace("category = \"ccc\"", "category = \"standard\"");
    let c = checklist::parse("ccc.v1.toml", &text).unwrap();
    let mut r = complete_record();
    r.category = TargetCategory::Standard;
    r.photos
        .retain(|p| matches!(p.subject, PhotoSubject::Item(_)));
    r.signatures
        .retain(|s| s.role != SignerRole::EnterpriseRepresentative);
    sign_all(&mut r);
    r.signatures
        .retain(|s| s.role != SignerRole::EnterpriseRepresentative);
    assert_eq!(check(&r, &c), vec![]);
}

#[test]
fn deadline_must_follow_inspection() {
    let mut r = complete_record();
    if let Disposition::RectificationOrder { deadline, .. } = &mut r.findings[0].disposition {
        *deadline = CivilDate::parse("2024-01-10").unwrap();
    }
    sign_all(&mut r);
    assert_eq!(
        check(&r, &checklist()),
        vec![Violation::DeadlineNotAfterInspection {
            finding_id: Uuid::from_u128(7).to_string()
        }]
    );
}

#[test]
fn record_round_trips_through_json_with_format_version() {
    let r = complete_record();
    let json = serde_json::to_string(&r).unwrap();
    assert!(json.contains("\"format\":1"));
    let back: InspectionRecord = serde_json::from_str(&json).unwrap();
    assert_eq!(back, r);
    assert_eq!(back.content_hash(), r.content_hash());
}
