//! Server-rendered SVG charts: readable without JavaScript, printable, and
//! the same in every browser. A horizontal bar chart is a few rectangles
//! and labels, so it is written here with maud rather than through a
//! plotting library, which would bring font handling for the Chinese
//! labels that the browser already does for `<text>`.

use maud::{Markup, html};

/// Width of the label column and of the whole chart (SVG units).
const LABEL_W: f64 = 220.0;
const WIDTH: f64 = 640.0;
const BAR_H: f64 = 20.0;
const GAP: f64 = 6.0;

/// A horizontal bar chart of `(label, value)`, in the order given; `id`
/// names it for tests and links. Scales to its container's width.
pub fn bars(id: &str, title: &str, rows: &[(String, usize)]) -> Markup {
    let max = rows.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1) as f64;
    let plot = WIDTH - LABEL_W - 40.0;
    let height = rows.len() as f64 * (BAR_H + GAP) + GAP;
    html! {
        figure.chart {
            svg id=(id) xmlns="http://www.w3.org/2000/svg" role="img" aria-label=(title)
                viewBox={ "0 0 " (WIDTH) " " (height) } width="100%" style="max-width: 640px" {
                title { (title) }
                @for (i, (label, value)) in rows.iter().enumerate() {
                    @let y = GAP + i as f64 * (BAR_H + GAP);
                    @let w = (*value as f64 / max * plot).max(1.0);
                    g.bar data-label=(label) data-value=(value) {
                        text x=(LABEL_W - 6.0) y=(y + BAR_H * 0.72) text-anchor="end" font-size="12" { (shorten(label, 18)) }
                        rect x=(LABEL_W) y=(y) width=(format!("{w:.1}")) height=(BAR_H) fill="#3b6ea5" {
                            title { (label) "：" (value) }
                        }
                        text x=(LABEL_W + w + 4.0) y=(y + BAR_H * 0.72) font-size="12" { (value) }
                    }
                }
            }
            figcaption { (title) }
        }
    }
}

/// At most `n` characters, with an ellipsis when cut.
fn shorten(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(n - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_value_and_keep_every_label() {
        let rows = vec![
            ("西永街道".to_owned(), 4),
            ("虎溪街道".to_owned(), 2),
            ("一个名字特别特别特别特别特别特别长的检查项".to_owned(), 1),
        ];
        let svg = bars("c", "各镇街发现问题数", &rows).into_string();
        assert!(svg.contains("<svg id=\"c\""), "{svg}");
        assert_eq!(svg.matches("<rect").count(), 3);
        // The largest bar fills the plot; the others in proportion.
        assert!(svg.contains("width=\"380.0\""), "{svg}");
        assert!(svg.contains("width=\"190.0\""), "{svg}");
        assert!(svg.contains("data-label=\"西永街道\" data-value=\"4\""));
        assert!(svg.contains('…'), "a long label is cut on the chart");
        assert!(
            svg.contains("一个名字特别特别特别特别特别特别长的检查项：1"),
            "its full name in the tooltip"
        );
        assert!(
            bars("e", "空", &[])
                .into_string()
                .contains("viewBox=\"0 0 640 6\"")
        );
    }
}
