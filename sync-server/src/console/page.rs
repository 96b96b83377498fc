//! The console's page frame, language choice and error pages.
//!
//! Pages are rendered with `maud`, which escapes every interpolated value:
//! text from imports, forms and devices cannot become markup.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::auth::{CurrentUser, Role, cookie};

/// Cookie holding the chosen language.
pub const LANG_COOKIE: &str = "choucha_lang";

/// The console's language: Chinese unless English was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Zh,
    En,
}

impl Lang {
    /// Picks the text for this language.
    pub fn t<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    pub fn role(self, r: Role) -> &'static str {
        match self {
            Lang::Zh => r.label_zh(),
            Lang::En => r.label_en(),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(match cookie(&parts.headers, LANG_COOKIE) {
            Some("en") => Lang::En,
            _ => Lang::Zh,
        })
    }
}

/// Small stylesheet: readable on a desk screen and printable (draw record,
/// record view) without the navigation.
const STYLE: &str = r#"
body{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:0;color:#222;background:#f6f7f9}
header{background:#1d3b6a;color:#fff;padding:.5em 1em;display:flex;gap:1em;align-items:center;flex-wrap:wrap}
header a{color:#fff;text-decoration:none}header .who{margin-left:auto}
nav#menu{display:flex;gap:1em;flex-wrap:wrap}#menu-toggle{display:none}
header form{display:inline}header button{background:none;border:1px solid #fff;color:#fff;cursor:pointer}
main{padding:1em 1.5em;max-width:1200px}
table{border-collapse:collapse;background:#fff;margin:.5em 0}
th,td{border:1px solid #ccd;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#e8ecf3}
.flag{color:#a00;font-weight:bold}.ok{color:#070}.muted{color:#666}
.state-returned,.state-has_issues,.state-incomplete{color:#a00}.state-approved{color:#070}
.notice{background:#fff6d6;border:1px solid #e6c200;padding:.5em}
.error{background:#fde8e8;border:1px solid #c00;padding:.5em}
.field-error{display:block;margin:.3em 0;max-width:40em}
[aria-invalid=true]{outline:2px solid #c00}
form.inline{display:inline}
img.thumb{max-width:160px;max-height:120px;border:1px solid #999}
code{word-break:break-all}
input,select,textarea{max-width:100%;box-sizing:border-box}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(250px,1fr));gap:.8em;margin:.8em 0}
.card{background:#fff;border:1px solid #ccd;border-radius:4px;padding:.5em .8em}
.card h3{margin:.2em 0;font-size:1.05em}.card p{margin:.2em 0}
.bar-row{display:grid;grid-template-columns:7em 1fr auto;gap:.4em;align-items:center;font-size:.9em}
.bar-row progress{width:100%;height:.9em}
@media (max-width:700px){.js #menu-toggle{display:inline-block;padding:.3em .8em}
.js nav#menu{display:none;order:9;flex-basis:100%;flex-direction:column;gap:.2em}.js header.open nav#menu{display:flex}
nav#menu a{padding:.35em 0}main{padding:.5em}h1{font-size:1.3em}table{display:block;overflow-x:auto;max-width:100%}}
.signatures{break-inside:avoid;margin-top:1.5em}
.sig-grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(14em,1fr));gap:1.6em 2em;margin-top:1em}
.sig{display:flex;align-items:flex-end;gap:.5em}.sig .line{flex:1;border-bottom:1px solid #222;height:1.8em}
.print-only{display:none}
@media print{header,.noprint,#refused{display:none}.print-only{display:block}body{background:#fff;font-size:10pt}
main{max-width:none;padding:0}h1{font-size:14pt;margin:0 0 .4em}h2{font-size:11pt}
table{display:table;width:100%;font-size:8.5pt;overflow:visible}thead{display:table-header-group}tr{break-inside:avoid}
th,td{padding:.15em .35em}code.id{white-space:nowrap}a{color:inherit;text-decoration:none}}
"#;

/// A full page with the navigation for `user` (none on the login and
/// public pages).
pub fn layout(lang: Lang, user: Option<&CurrentUser>, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — " (lang.t("双随机监督检查", "Choucha")) }
                style { (PreEscaped(STYLE)) }
                script src="/console/assets/console.js" defer {}
            }
            body {
                header {
                    strong { (lang.t("双随机、一公开 监督检查", "Random inspections console")) }
                    @if user.is_some() {
                        // On a phone the menu folds behind this button (the
                        // script unfolds it; without the script it stays open).
                        button type="button" #menu-toggle aria-controls="menu" aria-expanded="false" { (lang.t("菜单", "Menu")) }
                    }
                    @if let Some(u) = user {
                        nav #menu {
                        a href="/console" { (lang.t("首页", "Home")) }
                        // Only links the role can open: a town lead does not
                        // read plans and draws (403).
                        @if u.role != Role::TownLead {
                            a href="/console/plans" { (lang.t("抽查", "Draws")) }
                        }
                        a href="/console/review" { (lang.t("审核", "Review")) }
                        a href="/console/followup" { (lang.t("后续处置", "Follow-up")) }
                        a href="/console/questions" { (lang.t("现场咨询", "Questions")) }
                        a href="/console/escalations" { (lang.t("问题上报", "Escalations")) }
                        a href="/console/analysis" { (lang.t("问题分析", "Analysis")) }
                        @if u.role == Role::TownLead {
                            a href="/console/tasks" #nav-tasks { (lang.t("本镇街任务", "My town's tasks")) }
                        } @else {
                            a href="/console/tasks" #nav-tasks { (lang.t("镇街任务", "Tasks by town")) }
                        }
                        a href="/console/town-reports" { (lang.t("镇街报告", "Town reports")) }
                        a href="/console/dashboard" { (lang.t("统计", "Dashboard")) }
                        a href="/console/reports" { (lang.t("报表", "Reports")) }
                        a href="/console/disclosure" { (lang.t("结果公示", "Disclosure")) }
                        a href="/console/abnormal" { (lang.t("经营异常名录", "Abnormal list")) }
                        @if u.role == Role::Admin {
                            a href="/console/users" { (lang.t("用户", "Users")) }
                            a href="/console/import" { (lang.t("名录导入", "Import")) }
                            a href="/console/tokens" { (lang.t("接口令牌", "API tokens")) }
                        }
                        @if matches!(u.role, Role::Admin | Role::Auditor | Role::Supervisor) {
                            a href="/console/audit" { (lang.t("操作日志", "Audit log")) }
                        }
                        }
                    }
                    a href="/public" { (lang.t("公示", "Public")) }
                    span.who {
                        @if let Some(u) = user {
                            span #current-user { (u.username) } " (" (lang.role(u.role))
                            @if let Some(j) = &u.jurisdiction { " · " (j) }
                            ") "
                            form method="post" action="/console/logout" {
                                input type="hidden" name="csrf" value=(u.csrf_token);
                                button type="submit" #logout { (lang.t("退出", "Log out")) }
                            }
                            " "
                        }
                        @match lang {
                            Lang::Zh => a href="/console/lang/en" { "English" },
                            Lang::En => a href="/console/lang/zh" { "中文" },
                        }
                    }
                }
                main {
                    h1 { (title) }
                    @if let Some(r) = super::refusal::current() { (super::refusal::markup(&r)) }
                    (body)
                }
            }
        }
    }
}

/// How a page meant for paper prints: on A4 (landscape for wide tables),
/// each page headed with `head` (the plan, the town) and numbered
/// "第 3 页，共 7 页", so a loose sheet still says what it belongs to.
pub fn print_setup(lang: Lang, head: &str, landscape: bool) -> Markup {
    // A CSS string: no quote, backslash, line break or `<` (which could
    // end the style element) is taken as it is.
    let mut quoted = String::with_capacity(head.len() + 2);
    quoted.push('"');
    for c in head.chars() {
        match c {
            '"' | '\\' | '<' | '>' => quoted.push_str(&format!("\\{:X} ", c as u32)),
            '\n' | '\r' => quoted.push(' '),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    let pages = match lang {
        Lang::Zh => r#""第 " counter(page) " 页，共 " counter(pages) " 页""#,
        Lang::En => r#""Page " counter(page) " of " counter(pages)"#,
    };
    let orientation = if landscape { "landscape" } else { "portrait" };
    let css = format!(
        "@page{{size:A4 {orientation};margin:14mm 10mm 14mm;\
         @top-left{{content:{quoted};font-size:9pt;color:#444}}\
         @bottom-right{{content:{pages};font-size:9pt;color:#444}}}}"
    );
    html! { style { (PreEscaped(css)) } }
}

/// Lines to sign on paper, one per role, and the date.
pub fn signature_lines(lang: Lang, roles: &[&str]) -> Markup {
    html! {
        section.signatures #signatures {
            h2 { (lang.t("签字", "Signatures")) }
            div.sig-grid {
                @for r in roles { div.sig { span.role { (r) (lang.t("：", ":")) } span.line {} } }
                div.sig { span.role { (lang.t("日期：", "Date:")) } span.line {} }
            }
        }
    }
}

/// The hidden CSRF field every POST form carries.
pub fn csrf_field(user: &CurrentUser) -> Markup {
    html! { input type="hidden" name="csrf" value=(user.csrf_token); }
}

/// An HTML response.
pub fn page(status: StatusCode, markup: Markup) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        markup.into_string(),
    )
        .into_response()
}

/// A bare error page (the message is already bilingual). The field it
/// names, if any, is the one its trailing `(field)` names.
pub fn error_page(status: StatusCode, message: &str) -> Response {
    error_page_on(status, message, field_named_in(message))
}

/// A bare error page about one form field.
pub fn error_page_on(status: StatusCode, message: &str, field: Option<String>) -> Response {
    let mut resp = page(
        status,
        html! {
            (DOCTYPE)
            html lang="zh-CN" {
                head { meta charset="utf-8"; title { (status.as_u16()) } }
                body {
                    h1 { (status.as_u16()) " " (status.canonical_reason().unwrap_or("")) }
                    p.error #error data-field=[field.as_deref()] { (message) }
                    p { a href="/console" { "返回首页 (home)" } }
                }
            }
        },
    );
    // The console's layer shows it again in the console's own layout,
    // with the navigation of whoever is logged in (`in_layout`), or on the
    // page of the form that was refused (`refusal`).
    resp.extensions_mut().insert(ErrorMessage {
        message: message.to_owned(),
        field,
    });
    resp
}

/// The form field a message names by the convention of this code base's
/// messages: a trailing `(field_name)` after the words for the officer
/// (`每组人数 'x' 不是整数 (team_size)`).
pub fn field_named_in(message: &str) -> Option<String> {
    let inner = message.trim_end().strip_suffix(')')?;
    let (_, name) = inner.rsplit_once('(')?;
    let mut chars = name.chars();
    let first = chars.next()?;
    (first.is_ascii_lowercase()
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
    .then(|| name.to_owned())
}

/// The message of an error page, for [`error_in_layout`], and the form
/// field it is about, when it names one.
#[derive(Debug, Clone)]
pub struct ErrorMessage {
    pub message: String,
    pub field: Option<String>,
}

/// An error page in the console's layout: the status in words, the
/// message, the way back; with the navigation when someone is logged in.
pub fn error_in_layout(
    lang: Lang,
    user: Option<&CurrentUser>,
    status: StatusCode,
    message: &str,
    field: Option<&str>,
) -> Response {
    let title = match status {
        StatusCode::NOT_FOUND => lang.t("没有找到", "Not found"),
        StatusCode::FORBIDDEN => lang.t("无权访问", "Not allowed"),
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => {
            lang.t("填写有误", "Please check the input")
        }
        StatusCode::CONFLICT => lang.t("无法完成", "Cannot be done"),
        StatusCode::TOO_MANY_REQUESTS => lang.t("请稍后再试", "Try again later"),
        _ => lang.t("出错了", "Something went wrong"),
    };
    let mut resp = page(
        status,
        layout(
            lang,
            user,
            title,
            html! {
                p.error #error role="alert" data-field=[field] { (message) }
                p { a href="/console" #error-home { (lang.t("返回首页", "Home")) } }
            },
        ),
    );
    resp.extensions_mut().insert(ErrorMessage {
        message: message.to_owned(),
        field: field.map(str::to_owned),
    });
    resp
}
