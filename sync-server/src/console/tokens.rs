//! The admin's page of API tokens (接口令牌): who holds which, until
//! when, issue one (its secret shown once on the answer page) and revoke
//! one. Thin over `crate::service::admin_tokens`.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;

use super::auth::{CurrentUser, Role};
use super::error::ConsoleResult;
use super::page::{Lang, csrf_field, layout, page};
use crate::AppState;
use crate::service::admin_tokens;
use crate::store::{AdminToken, DEFAULT_TOKEN_DAYS, MAX_TOKEN_DAYS, TokenState};
use choucha_shared::value::china_minute_of;

/// A token's state as the console and the command line say it.
pub fn state_label(lang: Lang, state: TokenState) -> &'static str {
    match state {
        TokenState::Active => lang.t("有效", "Active"),
        TokenState::Expired => lang.t("已过期", "Expired"),
        TokenState::Revoked => lang.t("已撤销", "Revoked"),
    }
}

fn tokens_page(
    lang: Lang,
    user: &CurrentUser,
    tokens: &[AdminToken],
    notice: Option<Markup>,
) -> Markup {
    layout(
        lang,
        Some(user),
        lang.t("接口令牌", "API tokens"),
        html! {
            @if let Some(n) = notice { (n) }
            p.hint { (lang.t(
                "接口令牌供其他系统调用本系统的管理接口，持有令牌即拥有系统管理员的权限。请只签发给确需使用的人员，并设定尽量短的有效期；不再使用时立即撤销。",
                "An API token gives its holder an administrator's access to the REST API. Issue one only to a person who needs it, for as short a time as will do, and revoke it when it is no longer used."
            )) }
            table #tokens {
                tr {
                    th { (lang.t("编号", "Id")) } th { (lang.t("持有人", "Holder")) } th { (lang.t("签发人", "Issued by")) }
                    th { (lang.t("签发时间", "Issued")) } th { (lang.t("到期时间", "Expires")) } th { (lang.t("状态", "State")) } th {}
                }
                @for t in tokens {
                    @let state = t.state();
                    tr data-token=(t.id) {
                        td { code { (t.id) } } td { (t.name) } td { (t.issued_by.as_deref().unwrap_or("—")) }
                        td { (china_minute_of(Some(&t.created_at))) } td { (china_minute_of(Some(&t.expires_at))) }
                        td.state { (state_label(lang, state)) }
                        td {
                            @if state == TokenState::Active {
                                form method="post" action={ "/console/tokens/" (t.id) "/revoke" } {
                                    (csrf_field(user))
                                    button type="submit" { (lang.t("撤销", "Revoke")) }
                                }
                            }
                        }
                    }
                }
            }
            h2 { (lang.t("签发令牌", "Issue a token")) }
            form method="post" action="/console/tokens" #issue-token {
                (csrf_field(user))
                label { (lang.t("持有人姓名", "Holder's name")) " " input name="name" required maxlength="64"; } " "
                label { (lang.t("有效期（天）", "Valid for (days)")) " "
                    input name="days" type="number" min="1" max=(MAX_TOKEN_DAYS) value=(DEFAULT_TOKEN_DAYS) required;
                } " "
                button type="submit" { (lang.t("签发", "Issue")) }
            }
        },
    )
}

/// Admin only: every token and the issue form.
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    lang: Lang,
) -> ConsoleResult<Response> {
    user.require(&[Role::Admin])?;
    let tokens = admin_tokens::list(&state.store).await?;
    Ok(page(
        StatusCode::OK,
        tokens_page(lang, &user, &tokens, None),
    ))
}

#[derive(Debug, Deserialize)]
pub struct IssueForm {
    name: String,
    days: u32,
}

/// Admin only: issues a token and shows its secret once.
pub async fn issue(
    State(state): State<AppState>,
    user: CurrentUser,
    lang: Lang,
    Form(form): Form<IssueForm>,
) -> ConsoleResult<Response> {
    user.require(&[Role::Admin])?;
    let (secret, token) =
        admin_tokens::issue(&state.store, &user.actor(), &form.name, form.days).await?;
    let tokens = admin_tokens::list(&state.store).await?;
    let notice = html! {
        div.notice #new-token {
            p {
                (lang.t("已为 ", "Issued to ")) (token.name) (lang.t(" 签发令牌 ", ", token ")) code { (token.id) }
                (lang.t("，有效期至 ", ", valid until ")) (china_minute_of(Some(&token.expires_at)))
                (lang.t("。令牌只显示这一次，请立即复制并妥善保存：", ". The token is shown only this once; copy it now and keep it safe:"))
            }
            p { code #token-secret { (secret) } }
        }
    };
    Ok(page(
        StatusCode::CREATED,
        tokens_page(lang, &user, &tokens, Some(notice)),
    ))
}

/// Admin only: revokes a token; effective at once.
pub async fn revoke(
    State(state): State<AppState>,
    user: CurrentUser,
    lang: Lang,
    Path(id): Path<String>,
) -> ConsoleResult<Response> {
    user.require(&[Role::Admin])?;
    let token = admin_tokens::revoke(&state.store, &user.actor(), &id).await?;
    let tokens = admin_tokens::list(&state.store).await?;
    let notice = html! {
        p.notice #revoked {
            (lang.t("已撤销 ", "Revoked the token of ")) (token.name) (lang.t(" 的令牌 ", " ")) code { (token.id) }
        }
    };
    Ok(page(
        StatusCode::OK,
        tokens_page(lang, &user, &tokens, Some(notice)),
    ))
}
