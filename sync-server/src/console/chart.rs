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

/// Colours of a stacked chart's segments, in order (colour-blind safe).
const SEGMENT_COLOURS: [&str; 4] = ["#1a7f37", "#3b6ea5", "#e3a008", "#c9ced6"];

/// A horizontal stacked bar chart: per row, segments in the order of
/// `legend` (at most four), each bar as long as its total against the
/// longest. For progress: approved, under review, waiting, not yet.
pub fn stacked(id: &str, title: &str, legend: &[&str], rows: &[(String, Vec<usize>)]) -> Markup {
    let max = rows
        .iter()
        .map(|(_, v)| v.iter().sum::<usize>())
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let plot = WIDTH - LABEL_W - 60.0;
    let legend_h = 24.0;
    let height = legend_h + rows.len() as f64 * (BAR_H + GAP) + GAP;
    html! {
        figure.chart {
            svg id=(id) xmlns="http://www.w3.org/2000/svg" role="img" aria-label=(title)
                viewBox={ "0 0 " (WIDTH) " " (height) } width="100%" style="max-width: 640px" {
                title { (title) }
                @for (i, (name, colour)) in legend.iter().zip(SEGMENT_COLOURS).enumerate() {
                    @let x = LABEL_W + i as f64 * 100.0;
                    rect x=(x) y="4" width="12" height="12" fill=(colour) {}
                    text x=(x + 16.0) y="14" font-size="12" { (name) }
                }
                @for (i, (label, values)) in rows.iter().enumerate() {
                    @let y = legend_h + GAP + i as f64 * (BAR_H + GAP);
                    @let total: usize = values.iter().sum();
                    g.bar data-label=(label) data-value=(total) {
                        text x=(LABEL_W - 6.0) y=(y + BAR_H * 0.72) text-anchor="end" font-size="12" { (shorten(label, 18)) }
                        @for (x, w, value, colour, name) in segment_spans(values, max, plot, legend) {
                            rect.segment x=(format!("{x:.1}")) y=(y) width=(format!("{w:.1}")) height=(BAR_H) fill=(colour) data-value=(value) {
                                title { (label) " " (name) "：" (value) }
                            }
                        }
                        text x=(format!("{:.1}", LABEL_W + total as f64 / max * plot + 4.0)) y=(y + BAR_H * 0.72) font-size="12" { (total) }
                    }
                }
            }
            figcaption { (title) }
        }
    }
}

/// Where each non-zero segment of a stacked bar starts and how long it
/// is, with its value, colour and name.
fn segment_spans<'a>(
    values: &[usize],
    max: f64,
    plot: f64,
    legend: &[&'a str],
) -> Vec<(f64, f64, usize, &'static str, &'a str)> {
    let mut x = LABEL_W;
    let mut out = Vec::new();
    for ((value, colour), name) in values.iter().zip(SEGMENT_COLOURS).zip(legend) {
        let w = *value as f64 / max * plot;
        if *value > 0 {
            out.push((x, w, *value, colour, *name));
        }
        x += w;
    }
    out
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
        let svg = stacked(
            "s",
            "各镇街进度",
            &["已通过", "审核中", "待检查"],
            &[
                ("西永街道".to_owned(), vec![2, 1, 1]),
                ("虎溪街道".to_owned(), vec![0, 0, 2]),
            ],
        )
        .into_string();
        // Segments of zero are left out; the longest total fills the plot.
        assert_eq!(svg.matches("class=\"segment\"").count(), 4, "{svg}");
        assert!(
            svg.contains("data-label=\"西永街道\" data-value=\"4\""),
            "{svg}"
        );
        // 2 + 1 + 1 spans the 360-unit plot from x = 220: its total is
        // written just after it; half of it for 2 of 4.
        assert!(svg.contains("<text x=\"584.0\""), "{svg}");
        assert!(svg.contains("width=\"180.0\""), "{svg}");
        assert!(svg.contains("西永街道 已通过：2"), "{svg}");
        assert!(
            bars("e", "空", &[])
                .into_string()
                .contains("viewBox=\"0 0 640 6\"")
        );
    }
}
