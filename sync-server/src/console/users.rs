//! Console users: the admin's user page and the `choucha-server user`
//! command line, thin over `crate::service::users`.

use std::io::Read as _;

use anyhow::Context as _;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;

use super::auth::{CurrentUser, Role};
use super::error::{ConsoleError, ConsoleResult};
use super::page::{Lang, csrf_field, layout, page};
use crate::AppState;
use crate::service::{self, Actor};
use crate::store::ConsoleUser;
use choucha_shared::value::china_minute_of;

/// `choucha-server user …`
#[derive(Debug, clap::Subcommand)]
pub enum UserCommand {
    /// Add a console user; prints a generated password unless
    /// --password-stdin is given.
    Add {
        username: String,
        /// admin, supervisor, town_lead or auditor.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// The town/street a town_lead is limited to.
        #[arg(long)]
        jurisdiction: Option<String>,
        /// Read the password from standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a new password (ends the user's sessions).
    Passwd {
        username: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// List console users.
    List,
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s)
        .ok_or_else(|| format!("unknown role '{s}': use admin, supervisor, town_lead or auditor"))
}

fn read_password_stdin() -> anyhow::Result<String> {
    let mut s = String::new();
    std::io::stdin()
        .read_to_string(&mut s)
        .context("reading the password from standard input")?;
    Ok(s.trim_end_matches(['\r', '\n']).to_owned())
}

/// Runs a `user` subcommand.
pub async fn run_cli(state: &AppState, cmd: UserCommand) -> anyhow::Result<()> {
    match cmd {
        UserCommand::Add {
            username,
            role,
            jurisdiction,
            password_stdin,
        } => {
            let password = if password_stdin {
                Some(read_password_stdin()?)
            } else {
                None
            };
            let (user, generated) = service::users::create_user(
                &state.store,
                &Actor::cli(),
                &username,
                role,
                jurisdiction.as_deref(),
                password,
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("已添加用户 {}（{}）", user.username, user.role.label_zh());
            if let Some(p) = generated {
                println!("password: {p}");
            }
        }
        UserCommand::Passwd {
            username,
            password_stdin,
        } => {
            let given = if password_stdin {
                Some(read_password_stdin()?)
            } else {
                None
            };
            let generated =
                service::users::set_password(&state.store, &Actor::cli(), &username, given)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("已更新用户 {username} 的密码");
            if let Some(p) = generated {
                println!("password: {p}");
            }
        }
        UserCommand::List => {
            for u in state.store.console_users().await? {
                println!(
                    "{}\t{}\t{}{}",
                    u.username,
                    u.role.code(),
                    u.jurisdiction.unwrap_or_default(),
                    if u.disabled { "\t(disabled)" } else { "" }
                );
            }
        }
    }
    Ok(())
}

fn users_page(
    lang: Lang,
    user: &CurrentUser,
    users: &[ConsoleUser],
    towns: &[String],
    notice: Option<Markup>,
) -> Markup {
    layout(
        lang,
        Some(user),
        lang.t("用户管理", "Users"),
        html! {
            @if let Some(n) = notice { (n) }
            table #users {
                tr {
                    th { (lang.t("用户名", "Username")) } th { (lang.t("角色与镇街", "Role and town")) }
                    th { (lang.t("创建时间", "Created")) } th { (lang.t("状态", "State")) } th { (lang.t("操作", "Actions")) }
                }
                @for u in users {
                    tr data-user=(u.username) class=[u.disabled.then_some("disabled")] {
                        td { (u.username) }
                        td {
                            // Role and town in one form: a town lead needs
                            // a town, no other role has one.
                            form method="post" action={ "/console/users/" (u.username) "/role" } .inline {
                                (csrf_field(user))
                                select name="role" { @for r in Role::ALL { option value=(r.code()) selected[r == u.role] { (lang.role(r)) } } }
                                " "
                                select name="jurisdiction" {
                                    option value="" { "—" }
                                    @for t in towns { option value=(t) selected[u.jurisdiction.as_deref() == Some(t.as_str())] { (t) } }
                                }
                                " " button type="submit" .change-role { (lang.t("修改", "Change")) }
                            }
                        }
                        td { (china_minute_of(Some(&u.created_at))) }
                        td.state { @if u.disabled { (lang.t("已停用", "Disabled")) } @else { (lang.t("正常", "Active")) } }
                        td {
                            @if u.username != user.username {
                                form method="post" action={ "/console/users/" (u.username) (if u.disabled { "/enable" } else { "/disable" }) } .inline {
                                    (csrf_field(user))
                                    button type="submit" .toggle-user { @if u.disabled { (lang.t("启用", "Enable")) } @else { (lang.t("停用", "Disable")) } }
                                }
                            }
                            " "
                            form method="post" action={ "/console/users/" (u.username) "/password" } .inline {
                                (csrf_field(user))
                                button type="submit" .reset-password { (lang.t("重置密码", "Reset password")) }
                            }
                        }
                    }
                }
            }
            h2 { (lang.t("添加用户", "Add a user")) }
            form method="post" action="/console/users" #add-user {
                (csrf_field(user))
                label { (lang.t("用户名", "Username")) " " input name="username" required; } " "
                label { (lang.t("角色", "Role")) " "
                    select name="role" { @for r in Role::ALL { option value=(r.code()) { (lang.role(r)) } } }
                } " "
                label { (lang.t("镇街（仅镇街负责人）", "Town (town leads only)")) " "
                    select name="jurisdiction" { option value="" { "—" } @for t in towns { option value=(t) { (t) } } }
                } " "
                button type="submit" { (lang.t("添加", "Add")) }
            }
        },
    )
}

/// The list again with a notice above it.
async fn answer(
    state: &AppState,
    user: &CurrentUser,
    lang: Lang,
    status: StatusCode,
    notice: Markup,
) -> ConsoleResult<Response> {
    let users = state.store.console_users().await?;
    let towns: Vec<String> = state.store.jurisdictions().await?.into_iter().collect();
    Ok(page(
        status,
        users_page(lang, user, &users, &towns, Some(notice)),
    ))
}

/// Admin only: disables a user (their sessions end) or enables one.
pub async fn set_disabled(
    State(state): State<AppState>,
    user: CurrentUser,
    lang: Lang,
    Path((username, op)): Path<(String, String)>,
) -> ConsoleResult<Response> {
    user.require(&[Role::Admin])?;
    let disabled = match op.as_str() {
        "disable" => true,
        "enable" => false,
        _ => return Err(ConsoleError::not_found()),
    };
    let changed = service::users::set_disabled(
        &state.store,
        &user.actor(),
        &user.username,
        &username,
        disabled,
    )
    .await?;
    let notice = html! {
        p.notice #user-changed {
            (changed.username) " "
            @if disabled { (lang.t("已停用，其登录已失效", "is disabled; their sessions ended")) } @else { (lang.t("已启用", "is enabled")) }
        }
    };
    answer(&state, &user, lang, StatusCode::OK, notice).await
}

/// Admin only: a new generated password, shown once; the user's sessions
/// end.
pub async fn reset_password(
    State(state): State<AppState>,
    user: CurrentUser,
    lang: Lang,
    Path(username): Path<String>,
) -> ConsoleResult<Response> {
    user.require(&[Role::Admin])?;
    let password =
        service::users::set_password(&state.store, &user.actor(), &username, None).await?;
    let notice = html! {
        p.notice #new-password {
            (lang.t("已重置 ", "Reset the password of ")) (username)
            (lang.t(" 的密码。新密码（仅显示一次）：", ". New password (shown once): "))
            code { (password.unwrap_or_default()) }
        }
    };
    answer(&state, &user, lang, StatusCode::OK, notice).await
}

#[derive(Debug, Deserialize)]
pub struct RoleForm {
    role: String,
    #[serde(default)]
    jurisdiction: Option<String>,
}

/// Admin only: a new role and town; the user's sessions end so it applies
/// at once.
pub async fn change_role(
    State(state): State<AppState>,
    user: CurrentUser,
    lang: Lang,
    Path(username): Path<String>,
    Form(form): Form<RoleForm>,
) -> ConsoleResult<Response> {
    user.require(&[Role::Admin])?;
    let role = parse_role(&form.role).map_err(ConsoleError::BadRequest)?;
    let changed = service::users::change_role(
        &state.store,
        &user.actor(),
        &username,
        role,
        form.jurisdiction.as_deref(),
    )
    .await?;
    let notice = html! {
        p.notice #user-changed {
            (changed.username) (lang.t(" 的角色已改为 ", "'s role is now ")) (lang.role(changed.role))
            @if let Some(j) = &changed.jurisdiction { "（" (j) "）" }
        }
    };
    answer(&state, &user, lang, StatusCode::OK, notice).await
}

/// Admin only: the user list and the add form.
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    lang: Lang,
) -> ConsoleResult<Response> {
    user.require(&[Role::Admin])?;
    let users = state.store.console_users().await?;
    let towns: Vec<String> = state.store.jurisdictions().await?.into_iter().collect();
    Ok(page(
        StatusCode::OK,
        users_page(lang, &user, &users, &towns, None),
    ))
}

#[derive(Debug, Deserialize)]
pub struct AddUserForm {
    username: String,
    role: String,
    #[serde(default)]
    jurisdiction: Option<String>,
}

/// Admin only: adds a user and shows the generated password once.
pub async fn add(
    State(state): State<AppState>,
    user: CurrentUser,
    lang: Lang,
    Form(form): Form<AddUserForm>,
) -> ConsoleResult<Response> {
    user.require(&[Role::Admin])?;
    let role = parse_role(&form.role).map_err(ConsoleError::BadRequest)?;
    let (added, password) = service::users::create_user(
        &state.store,
        &user.actor(),
        &form.username,
        role,
        form.jurisdiction.as_deref(),
        None,
    )
    .await?;
    let users = state.store.console_users().await?;
    let towns: Vec<String> = state.store.jurisdictions().await?.into_iter().collect();
    let notice = html! {
        p.notice #new-password {
            (lang.t("已添加用户 ", "Added user ")) (added.username)
            (lang.t("。初始密码（仅显示一次）：", ". Initial password (shown once): "))
            code { (password.unwrap_or_default()) }
        }
    };
    Ok(page(
        StatusCode::CREATED,
        users_page(lang, &user, &users, &towns, Some(notice)),
    ))
}
