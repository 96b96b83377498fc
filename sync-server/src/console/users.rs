//! Console users: the admin's user page and the `choucha-server user`
//! command line, thin over `crate::service::users`.

use std::io::Read as _;

use anyhow::Context as _;
use axum::Form;
use axum::extract::State;
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
                tr { th { (lang.t("用户名", "Username")) } th { (lang.t("角色", "Role")) } th { (lang.t("镇街", "Town")) } th { (lang.t("创建时间", "Created")) } }
                @for u in users {
                    tr { td { (u.username) } td { (lang.role(u.role)) } td { (u.jurisdiction.as_deref().unwrap_or("—")) } td { (u.created_at) } }
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
