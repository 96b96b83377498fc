//! 节假日安排: the years the working-day calendar covers (built in, the
//! deployment's file, or entered here) and, for the quality section, the
//! form to enter next year's arrangement once the State Council announces
//! it. A refused entry is shown again with its input and the reason.

use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::auth::{CurrentUser, Role};
use super::error::ConsoleResult;
use super::page::{Lang, csrf_field, layout, page};
use crate::AppState;
use crate::oversight::today_cst;
use crate::service::{self, ServiceError};
use choucha_shared::value::china_minute_of;

const ENTERERS: &[Role] = &[Role::Admin, Role::Supervisor];

#[derive(Debug, Default, Deserialize)]
pub struct YearForm {
    #[serde(default)]
    year: String,
    #[serde(default)]
    holidays: String,
    #[serde(default)]
    working_weekends: String,
}

async fn calendar_page(
    state: &AppState,
    user: &CurrentUser,
    lang: Lang,
    form: &YearForm,
    error: Option<&str>,
) -> ConsoleResult<Markup> {
    let calendar = service::calendar::current(state).await?;
    let entered = state.store.calendar_years().await?;
    let missing = calendar.missing_next_year(today_cst());
    let next = chrono::Datelike::year(&today_cst()) + 1;
    let year_value = if form.year.is_empty() {
        next.to_string()
    } else {
        form.year.clone()
    };
    Ok(layout(
        lang,
        Some(user),
        lang.t("节假日安排", "Holiday arrangements"),
        html! {
            p { (lang.t(
                "公示期限（检查后 20 个工作日）和经营异常名录列入期限按工作日计算，依据国务院办公厅每年发布的部分节假日安排。",
                "Publication (20 working days) and listing deadlines count working days, per the State Council's yearly holiday arrangement."
            )) }
            @if let Some(y) = missing {
                p.notice #calendar-missing { (match lang {
                    Lang::Zh => format!("{y} 年节假日安排尚未录入：跨入 {y} 年的期限按周末计算，标为“暂定”。"),
                    Lang::En => format!("{y} is not entered yet: deadlines running into it count weekends only and are marked provisional."),
                }) }
            }
            table #calendar-years {
                tr { th { (lang.t("年份", "Year")) } th { (lang.t("来源", "Source")) } }
                @for y in calendar.years() {
                    @let by = entered.iter().find(|e| e.year == y);
                    tr data-year=(y) {
                        td { (y) }
                        td { @match by {
                            Some(e) => { (lang.t("控制台录入：", "Entered: ")) (e.entered_by) "，" (china_minute_of(Some(&e.entered_at))) }
                            None => { (lang.t("内置或部署文件", "Built in or the deployment's file")) }
                        } }
                    }
                }
            }
            @if ENTERERS.contains(&user.role) {
                h2 { (lang.t("录入一年的安排", "Enter a year")) }
                form method="post" action="/console/calendar" #calendar-form {
                    (csrf_field(user))
                    @if let Some(e) = error { p.error #calendar-error role="alert" { (e) } }
                    label { (lang.t("年份", "Year")) " " input name="year" #calendar-year value=(year_value) required; }
                    label { (lang.t("放假的工作日（YYYY-MM-DD，以空格、逗号或换行分隔；周末不必列出）", "Weekdays off (YYYY-MM-DD, separated by spaces, commas or lines; weekends need not be listed)"))
                        textarea name="holidays" #calendar-holidays rows="4" { (form.holidays) } }
                    label { (lang.t("调休上班的周末", "Weekend days worked (调休)"))
                        textarea name="working_weekends" #calendar-working rows="2" { (form.working_weekends) } }
                    button type="submit" #calendar-submit { (lang.t("录入", "Enter")) }
                }
            }
        },
    ))
}

/// Every logged-in role: which years are covered, and from where.
pub async fn show(
    State(state): State<AppState>,
    user: CurrentUser,
    lang: Lang,
) -> ConsoleResult<Response> {
    let body = calendar_page(&state, &user, lang, &YearForm::default(), None).await?;
    Ok(page(StatusCode::OK, body))
}

/// The quality section enters a year; refused input comes back with it.
pub async fn enter(
    State(state): State<AppState>,
    user: CurrentUser,
    lang: Lang,
    Form(form): Form<YearForm>,
) -> ConsoleResult<Response> {
    user.require(ENTERERS)?;
    let year = match form.year.trim().parse::<i32>() {
        Ok(y) if (2000..=2100).contains(&y) => y,
        _ => {
            let msg = format!("“{}”不是年份 (year)", form.year.trim());
            let body = calendar_page(&state, &user, lang, &form, Some(&msg)).await?;
            return Ok(page(StatusCode::BAD_REQUEST, body));
        }
    };
    match service::calendar::enter_year(
        &state,
        &user.actor(),
        year,
        &form.holidays,
        &form.working_weekends,
    )
    .await
    {
        Ok(()) => Ok(Redirect::to("/console/calendar").into_response()),
        Err(e @ (ServiceError::BadInput { .. } | ServiceError::Conflict(_))) => {
            let body = calendar_page(&state, &user, lang, &form, Some(&e.to_string())).await?;
            Ok(page(StatusCode::BAD_REQUEST, body))
        }
        Err(e) => Err(e.into()),
    }
}
