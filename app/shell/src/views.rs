//! Views the screens show, assembled from the core's state.

use uuid::Uuid;

use choucha_app_api::{
    EnrolmentView, Home, Inspection, RecheckRow, RecheckState, RecheckView, TaskDetail, TaskRow,
    TaskState,
};
use choucha_app_core::{App, CoreError, TaskStatus};

use crate::Shell;

/// The core's task status, with "sealed" split into 已封存 (the server has
/// not acknowledged the record yet) and 待同步 (it has; evidence is still
/// on its way or being checked).
pub fn task_state(
    app: &App,
    status: TaskStatus,
    record: Option<Uuid>,
) -> Result<TaskState, CoreError> {
    Ok(match status {
        TaskStatus::Pending => TaskState::Pending,
        TaskStatus::InProgress => TaskState::InProgress,
        TaskStatus::AwaitingSignatures => TaskState::AwaitingSignatures,
        TaskStatus::AwaitingSync => match record {
            Some(id) if app.server_state(&id)?.is_some() => TaskState::AwaitingSync,
            _ => TaskState::Sealed,
        },
        TaskStatus::Submitted => TaskState::Submitted,
        TaskStatus::Returned => TaskState::Returned,
        TaskStatus::Withdrawn => TaskState::Withdrawn,
    })
}

pub fn home(shell: &Shell) -> Result<Home, CoreError> {
    let app = shell.app()?;
    let enrolment = app.enrolment()?.map(|e| EnrolmentView {
        server_url: e.server_url,
        device_id: e.device_id,
        officer_id: e.officer_id,
        officer_name: e.officer_name,
    });
    let mut tasks = Vec::new();
    for t in app.tasks()? {
        let bundle = app.task(&t.task_id)?;
        tasks.push(TaskRow {
            state: task_state(app, t.status, t.record_id)?,
            task_id: t.task_id,
            target_name: t.target_name,
            category: bundle.task.category,
            address: bundle.target.address.clone(),
            due: t.due,
            record_id: t.record_id,
        });
    }
    let rechecks = app
        .rechecks(today())?
        .into_iter()
        .map(|r| RecheckRow {
            state: recheck_state(r.record_id, r.sealed),
            recheck_id: r.task.recheck_id,
            target_name: r.task.target_name,
            order_no: r.task.order_no,
            deadline: r.task.deadline,
            days_left: r.days_left,
            findings: r.task.findings.len(),
        })
        .collect();
    Ok(Home {
        enrolment,
        tasks,
        rechecks,
        sync: shell.sync.view(app)?,
        settings: shell.settings(),
        notice: shell
            .notice
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone(),
    })
}

fn status_of(app: &App, task_id: &str) -> Result<(TaskState, Option<Uuid>), CoreError> {
    let row = app
        .tasks()?
        .into_iter()
        .find(|t| t.task_id == task_id)
        .ok_or_else(|| CoreError::NotFound(format!("任务 {task_id}")))?;
    Ok((task_state(app, row.status, row.record_id)?, row.record_id))
}

pub fn task_detail(app: &App, task_id: &str) -> Result<TaskDetail, CoreError> {
    let bundle = app.task(task_id)?;
    let checklist = app.checklist(&bundle.task.checklist)?;
    let (state, record_id) = status_of(app, task_id)?;
    let missing = match record_id {
        Some(id) => app.check(&id)?,
        None => Vec::new(),
    };
    Ok(TaskDetail {
        task_id: task_id.to_owned(),
        team: bundle.task.team.clone(),
        due: bundle.task.due,
        checklist_title: checklist.title.clone(),
        checklist_items: checklist.items().count(),
        state,
        record_id,
        missing,
        withdrawn: (state == TaskState::Withdrawn).then(|| "抽取结果已被重新抽取替代".to_owned()),
        target: bundle.target,
    })
}

pub fn inspection(app: &App, record_id: &Uuid) -> Result<Inspection, CoreError> {
    let record = app.record(record_id)?;
    let checklist = app.checklist(&record.checklist)?;
    let bundle = app.task(&record.task_id)?;
    let (state, _) = status_of(app, &record.task_id)?;
    let returned = if state == TaskState::Returned {
        app.latest_return(record_id)?
    } else {
        None
    };
    Ok(Inspection {
        violations: choucha_shared::completeness::check(&record, &checklist),
        conclusion: choucha_shared::conclusion::conclude(&record.items, &checklist),
        content_hash: record.content_hash().to_string(),
        checklist: (*checklist).clone(),
        target: bundle.target,
        editable: !app.is_sealed(record_id)?,
        state,
        returned,
        questions: app.questions(&record.task_id)?,
        faq: app.faq(&record.checklist.id)?,
        escalations: app.escalations(&record.task_id)?,
        record,
    })
}

/// Today in China Standard Time, which deadlines are counted in.
fn today() -> chrono::NaiveDate {
    chrono::Utc::now()
        .with_timezone(&choucha_app_core::app::china_time())
        .date_naive()
}

fn recheck_state(record_id: Option<Uuid>, sealed: bool) -> RecheckState {
    match (record_id, sealed) {
        (_, true) => RecheckState::Sealed,
        (Some(_), false) => RecheckState::InProgress,
        (None, false) => RecheckState::Pending,
    }
}

/// One 复查 with its record (once started).
pub fn recheck(app: &App, recheck_id: &str) -> Result<RecheckView, CoreError> {
    let summary = app.recheck_summary(recheck_id, today())?;
    let record = summary
        .record_id
        .map(|id| app.recheck_record(&id))
        .transpose()?;
    let violations = match &record {
        Some(r) => choucha_shared::recheck::check(&summary.task, r),
        None => Vec::new(),
    };
    Ok(RecheckView {
        state: recheck_state(summary.record_id, summary.sealed),
        content_hash: record
            .as_ref()
            .map(|r| r.content_hash().to_string())
            .unwrap_or_default(),
        days_left: summary.days_left,
        task: summary.task,
        record,
        violations,
    })
}

/// The 复查 view of the task a 复查 record belongs to.
pub fn recheck_of_record(app: &App, record_id: &Uuid) -> Result<RecheckView, CoreError> {
    let record = app.recheck_record(record_id)?;
    recheck(app, &record.recheck_id)
}
