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
        outcome: Default::default(),
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

// ---------------------------------------------------------------------------
// Targets that could not be inspected: each case's evidence instead of items
// ---------------------------------------------------------------------------

use choucha_shared::outcome::{
    ActivityNotFoundEvidence, ClosedEvidence, ContactAttempt, ContactWay, Outcome, OutcomeKind,
    PremisesFound, UncooperativeEvidence, UnreachableEvidence, Witness,
};

fn at(minute: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 10, 2, minute, 0).unwrap()
}

/// A record of `outcome` with no verdicts, findings or photos but
/// `photos`, signed by both officers only.
fn case(outcome: Outcome, photos: Vec<Photo>) -> InspectionRecord {
    let mut r = complete_record();
    r.items.clear();
    r.findings.clear();
    r.photos = photos;
    r.outcome = outcome;
    sign_officers(&mut r);
    r
}

fn sign_officers(r: &mut InspectionRecord) {
    sign_all(r);
    r.signatures.retain(|s| s.role == SignerRole::Officer);
}

fn unreachable() -> UnreachableEvidence {
    UnreachableEvidence {
        premises: PremisesFound::Locked,
        description: String::new(),
        observed_at: at(5),
        attempts: vec![
            ContactAttempt {
                way: ContactWay::Phone,
                whom: "023-6512 0000（登记电话）".into(),
                at: at(10),
                result: "无人接听".into(),
            },
            ContactAttempt {
                way: ContactWay::PropertyManager,
                whom: "园区物业 刘经理".into(),
                at: at(20),
                result: "称该企业已于 2023 年 6 月搬离".into(),
            },
        ],
    }
}

#[test]
fn unreachable_needs_the_address_photo_what_was_found_and_every_attempt() {
    let good = case(
        Outcome::Unreachable(unreachable()),
        vec![photo(1, PhotoSubject::Address)],
    );
    // No verdicts, no expert, no enterprise: the address, the attempts and
    // two officers are the evidence.
    assert_eq!(check(&good, &checklist()), vec![]);

    let mut e = unreachable();
    e.premises = PremisesFound::Other;
    e.attempts[1].result = " ".into();
    let mut bad = case(Outcome::Unreachable(e), vec![photo(2, PhotoSubject::Gate)]);
    bad.signatures.retain(|s| s.name != "李四");
    assert_eq!(
        check(&bad, &checklist()),
        vec![
            Violation::AddressPhotoMissing,
            Violation::PremisesNotDescribed,
            Violation::ContactAttemptIncomplete { attempt: 2 },
            Violation::OfficerSignaturesMissing { found: 1 },
        ]
    );

    let mut no_fix = photo(1, PhotoSubject::Address);
    no_fix.gps = None;
    let mut e = unreachable();
    e.attempts.clear();
    let bad = case(Outcome::Unreachable(e), vec![no_fix]);
    let v = check(&bad, &checklist());
    assert_eq!(
        v,
        vec![
            Violation::AddressPhotoWithoutGps,
            Violation::ContactAttemptsMissing
        ]
    );
    assert!(v[0].to_string().contains("定位"), "{}", v[0]);
}

#[test]
fn activity_not_found_needs_the_gate_what_is_done_there_and_the_enterprise() {
    let outcome = |d: &str| {
        Outcome::ActivityNotFound(ActivityNotFoundEvidence {
            description: d.into(),
        })
    };
    let mut bad = case(outcome(""), vec![]);
    bad.refusal = None;
    assert_eq!(
        check(&bad, &checklist()),
        vec![
            Violation::GatePhotoMissing,
            Violation::ActivityNotDescribed,
            Violation::EnterpriseSignatureMissing,
        ]
    );
    let mut good = case(
        outcome("现场仅从事电器仓储，未从事强制性认证产品的生产"),
        vec![photo(1, PhotoSubject::Gate)],
    );
    sign_all(&mut good);
    good.signatures.retain(|s| s.role != SignerRole::Expert);
    assert_eq!(check(&good, &checklist()), vec![]);
}

#[test]
fn closed_needs_the_address_photo_what_was_found_and_the_ground() {
    let bad = case(
        Outcome::Closed(ClosedEvidence {
            description: " ".into(),
            basis: String::new(),
        }),
        vec![photo(1, PhotoSubject::Address)],
    );
    assert_eq!(
        check(&bad, &checklist()),
        vec![
            Violation::ClosureNotDescribed,
            Violation::ClosureBasisMissing
        ]
    );
    let good = case(
        Outcome::Closed(ClosedEvidence {
            description: "厂房已搬空，门口张贴停业公告".into(),
            basis: "企业已于 2023-11-02 办理注销登记".into(),
        }),
        vec![photo(1, PhotoSubject::Address)],
    );
    assert_eq!(check(&good, &checklist()), vec![]);
}

#[test]
fn uncooperative_needs_what_was_refused_the_warning_a_witness_and_the_refusal() {
    let evidence = || UncooperativeEvidence {
        refused: "拒绝检查人员进入生产车间，拒绝提供认证证书".into(),
        warning: "已告知拒绝、阻碍监督检查的法律责任".into(),
        warned_at: at(15),
        witness: Witness {
            name: "孙八".into(),
            contact: "园区管委会 网格员".into(),
        },
    };
    // The enterprise's signature does not stand in for its refusal.
    let mut signed = case(
        Outcome::Uncooperative(evidence()),
        vec![photo(1, PhotoSubject::Gate)],
    );
    sign_all(&mut signed);
    assert_eq!(
        check(&signed, &checklist()),
        vec![Violation::EnterpriseRefusalMissing]
    );

    let mut e = evidence();
    e.refused.clear();
    e.warning = "\t".into();
    e.witness.contact.clear();
    let bad = case(Outcome::Uncooperative(e), vec![]);
    assert_eq!(
        check(&bad, &checklist()),
        vec![
            Violation::GatePhotoMissing,
            Violation::RefusedActionNotDescribed,
            Violation::WarningNotRecorded,
            Violation::WitnessMissing,
            Violation::EnterpriseRefusalMissing,
        ]
    );

    let mut good = case(
        Outcome::Uncooperative(evidence()),
        vec![photo(1, PhotoSubject::Gate)],
    );
    good.refusal = Some(SignatureRefusal {
        reason: "企业负责人拒绝配合检查并拒绝签字".into(),
        witness: Some("孙八".into()),
        recorded_at: at(30),
    });
    assert_eq!(check(&good, &checklist()), vec![]);
}

#[test]
fn a_case_found_on_site_is_not_for_a_target_checked_off_site() {
    let text = CHECKLIST.replace("category = \"ccc\"", "category = \"standard\"");
    let c = checklist::parse("ccc.v1.toml", &text).unwrap();
    let mut r = case(
        Outcome::Unreachable(unreachable()),
        vec![photo(1, PhotoSubject::Address)],
    );
    r.category = TargetCategory::Standard;
    assert_eq!(
        check(&r, &c),
        vec![Violation::OutcomeNeedsSiteVisit {
            outcome: OutcomeKind::Unreachable
        }]
    );
}

#[test]
fn verdicts_given_outside_a_walk_through_must_still_be_on_the_scale() {
    let mut r = case(
        Outcome::Unreachable(unreachable()),
        vec![photo(1, PhotoSubject::Address)],
    );
    r.items.insert(
        "CCC-1.01".into(),
        ItemEntry {
            verdict: Some(Verdict::Major),
            note: None,
        },
    );
    sign_officers(&mut r);
    assert_eq!(
        check(&r, &checklist()),
        vec![Violation::VerdictNotAllowed {
            item_id: "CCC-1.01".into(),
            verdict: Verdict::Major
        }]
    );
}

#[test]
fn the_outcome_is_signed_and_a_normal_record_hashes_as_before() {
    // What the officers found at the gate is attested: changing it after
    // signing makes every signature stale.
    let mut r = case(
        Outcome::Unreachable(unreachable()),
        vec![photo(1, PhotoSubject::Address)],
    );
    if let Outcome::Unreachable(e) = &mut r.outcome {
        e.premises = PremisesFound::Demolished;
    }
    let v = check(&r, &checklist());
    assert!(
        v.len() == 2
            && v.iter()
                .all(|x| matches!(x, Violation::SignatureStale { .. })),
        "{v:?}"
    );
    // A normal record serialises without the field, so records sealed
    // before outcomes existed keep their content hash and version.
    let normal = complete_record();
    let json = serde_json::to_value(&normal).unwrap();
    assert!(json.get("outcome").is_none(), "{json}");
    let back: InspectionRecord = serde_json::from_value(json).unwrap();
    assert_eq!(back.version(), normal.version());
}
