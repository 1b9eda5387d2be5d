//! The report's charts.
//!
//! Two kinds, both readable from a 420 px phone to a 1400 px screen:
//! - **Bars** ([`bar_rows`]): HTML and CSS, not images: a row per strategy with its label, a bar on a
//!   linear axis from 0 (so 8× reads as 8×), an optional range line (min-max over rounds) and the
//!   value with its verdict written out. Text stays text at every width.
//! - **Lines** ([`lines`]): inline SVG (plotters, SVG backend only: no fonts or bitmaps to bundle, the
//!   browser renders the text), drawn twice, wide and narrow, and the page shows the one that fits
//!   (CSS), so the lettering is never scaled below legibility.
//!
//! A chart that fails to draw becomes a short note in the page, never a failed report.
//!
//! Colours: strategies take [`PALETTE`], which holds no red and no green; [`PASS`] and [`FAIL`] are
//! reserved for verdicts, so a badge can never be read as a strategy.
//!
//! Dependencies point one way: `html` embeds these charts; this module knows nothing of the page
//! (it escapes with `report::html_escape` and formats ticks with `report::fmt`).

use std::fmt::Write as _;

use plotters::prelude::*;

use crate::report::{fmt, html_escape};

/// Strategy colours: blue, orange, mauve, magenta, gold, slate, indigo, grey — no red and no green,
/// which mean fail and pass.
pub const PALETTE: [(u8, u8, u8); 8] = [
    (78, 121, 167),
    (242, 142, 43),
    (176, 122, 161),
    (160, 70, 170),
    (214, 170, 40),
    (90, 100, 120),
    (95, 75, 160),
    (150, 150, 150),
];

/// The colour of a passing verdict (the page's `--ok`).
pub const PASS: (u8, u8, u8) = (47, 133, 90);

/// The colour of a failing verdict (the page's `--bad`).
pub const FAIL: (u8, u8, u8) = (197, 48, 48);

pub fn color(i: usize) -> RGBColor {
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    RGBColor(r, g, b)
}

pub fn css_color(i: usize) -> String {
    hex(PALETTE[i % PALETTE.len()])
}

/// `#rrggbb`.
pub fn hex((r, g, b): (u8, u8, u8)) -> String {
    format!("#{r:02x}{g:02x}{b:02x}")
}

const FONT: &str = "sans-serif";

/// One row of a bar chart.
#[derive(Debug, Clone)]
pub struct BarRow {
    /// The row's label (a strategy name).
    pub label: String,
    /// Palette index of its colour.
    pub color: usize,
    /// The bar's length, in the chart's unit.
    pub value: f64,
    /// A range drawn over the bar (min-max over rounds), if measured.
    pub range: Option<(f64, f64)>,
    /// What is written after the bar: the value and its verdict.
    pub text: String,
}

/// Horizontal bars on one linear axis from 0 to the largest value or range end, as HTML.
pub fn bar_rows(rows: &[BarRow]) -> String {
    let hi = rows
        .iter()
        .map(|r| r.range.map_or(r.value, |(_, h)| h.max(r.value)))
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let pct = |v: f64| {
        if hi > 0.0 && v.is_finite() {
            (v / hi * 100.0).clamp(0.0, 100.0)
        } else {
            0.0
        }
    };
    let mut out = String::from("<div class=\"bars\">");
    for r in rows {
        let _ = write!(
            out,
            "<div class=\"brow\"><span class=\"bl\">{}</span><span class=\"track\"><span class=\"bar\" style=\"width:{:.2}%;background:{}\"></span>",
            html_escape(&r.label),
            pct(r.value),
            css_color(r.color)
        );
        if let Some((lo, h)) = r.range {
            let _ = write!(
                out,
                "<span class=\"span\" style=\"left:{:.2}%;width:{:.2}%\"></span>",
                pct(lo),
                (pct(h) - pct(lo)).max(0.3)
            );
        }
        let _ = write!(
            out,
            "</span><span class=\"bv\">{}</span></div>",
            html_escape(&r.text)
        );
    }
    out.push_str("</div>");
    out
}

/// One line of a line chart.
#[derive(Debug, Clone)]
pub struct Line {
    /// The legend entry.
    pub name: String,
    /// Palette index of its colour.
    pub color: usize,
    /// Dashed (the runs with collisions) or solid.
    pub dashed: bool,
    /// A value per x position (`None`: not measured there).
    pub points: Vec<Option<f64>>,
}

/// A line chart over categorical x positions (client counts), y linear from 0, as SVG `width`
/// pixels wide.
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_precision_loss,
    reason = "x positions and legend rows are a handful"
)]
pub fn lines(
    title: &str,
    x_axis: &str,
    y_axis: &str,
    xs: &[String],
    lines: &[Line],
    width: u32,
) -> String {
    let legend_rows = lines.len() as u32;
    let height = 300 + legend_rows * 18;
    let font = if width < 500 { 14 } else { 13 };
    draw(width, height, |root| {
        let (plot, legend) = root.split_vertically(300);
        let hi = lines
            .iter()
            .flat_map(|l| l.points.iter().flatten())
            .copied()
            .filter(|v| v.is_finite())
            .fold(0.0, f64::max)
            .max(f64::MIN_POSITIVE)
            * 1.15;
        let n = xs.len().max(1) as i32;
        let mut chart = ChartBuilder::on(&plot)
            .caption(title, (FONT, font + 3))
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(if width < 500 { 46 } else { 56 })
            .build_cartesian_2d(-1..n * 2 - 1, 0f64..hi)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(xs.len().max(1) * 2 + 1)
            .x_label_formatter(&|v| {
                if v % 2 == 0 {
                    xs.get(usize::try_from(v / 2).unwrap_or(usize::MAX))
                        .cloned()
                        .unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_labels(5)
            .y_label_formatter(&|v| fmt::si(*v))
            .x_desc(x_axis)
            .y_desc(y_axis)
            .label_style((FONT, font))
            .axis_desc_style((FONT, font))
            .light_line_style(RGBColor(240, 240, 240))
            .bold_line_style(RGBColor(215, 215, 215))
            .draw()?;
        for l in lines {
            let c = color(l.color);
            let pts: Vec<(i32, f64)> = l
                .points
                .iter()
                .enumerate()
                .filter_map(|(i, v)| v.map(|v| (i as i32 * 2, v)))
                .collect();
            if l.dashed {
                chart.draw_series(DashedLineSeries::new(pts.clone(), 7, 5, c.stroke_width(2)))?;
            } else {
                chart.draw_series(LineSeries::new(pts.clone(), c.stroke_width(2)))?;
            }
            chart.draw_series(pts.iter().map(|p| {
                Circle::new(
                    *p,
                    4,
                    if l.dashed {
                        c.stroke_width(2)
                    } else {
                        c.filled()
                    },
                )
            }))?;
        }
        // The legend under the plot, one row per line, so it never covers a point.
        for (i, l) in lines.iter().enumerate() {
            let y = 4 + i as i32 * 18;
            let c = color(l.color);
            let style = if l.dashed {
                c.stroke_width(2)
            } else {
                c.filled()
            };
            legend.draw(&Circle::new((18, y + 7), 4, style))?;
            legend.draw(&PathElement::new(
                vec![(8, y + 7), (28, y + 7)],
                c.stroke_width(2),
            ))?;
            legend.draw(&Text::new(
                l.name.clone(),
                (36, y),
                (FONT, font).into_font().color(&RGBColor(50, 50, 50)),
            ))?;
        }
        Ok(())
    })
}

type DrawResult = Result<(), Box<dyn std::error::Error>>;

fn draw(
    width: u32,
    height: u32,
    f: impl FnOnce(&DrawingArea<SVGBackend<'_>, plotters::coord::Shift>) -> DrawResult,
) -> String {
    let mut svg = String::new();
    let result = {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        let r = root
            .fill(&WHITE)
            .map_err(|e| e.to_string().into())
            .and_then(|()| f(&root));
        r.and_then(|()| root.present().map_err(|e| e.to_string().into()))
    };
    match result {
        Ok(()) => svg,
        Err(e) => format!(
            "<p class=\"note\">chart not drawn: {}</p>",
            html_escape(&e.to_string())
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hue in degrees of an RGB colour.
    #[allow(
        clippy::float_cmp,
        reason = "max and min are among r, g, b: exact comparisons pick the channel"
    )]
    fn hue((r, g, b): (u8, u8, u8)) -> f64 {
        let (r, g, b) = (f64::from(r), f64::from(g), f64::from(b));
        let (max, min) = (r.max(g).max(b), r.min(g).min(b));
        if max == min {
            return f64::NAN; // grey: no hue
        }
        let h = if max == r {
            (g - b) / (max - min)
        } else if max == g {
            2.0 + (b - r) / (max - min)
        } else {
            4.0 + (r - g) / (max - min)
        };
        (h * 60.0).rem_euclid(360.0)
    }

    #[test]
    fn no_strategy_colour_looks_like_pass_or_fail() {
        for c in PALETTE {
            let h = hue(c);
            for reserved in [PASS, FAIL] {
                let d = (h - hue(reserved)).abs();
                let d = d.min(360.0 - d);
                assert!(
                    h.is_nan() || d >= 25.0,
                    "{c:?} is {d:.0}° from {reserved:?}"
                );
            }
        }
    }

    #[test]
    fn bars_are_linear_from_zero_with_ranges_and_labels() {
        let html = bar_rows(&[
            BarRow {
                label: "fk-only".into(),
                color: 0,
                value: 8.0,
                range: Some((7.5, 10.0)),
                text: "8.00 ms · base".into(),
            },
            BarRow {
                label: "tuned".into(),
                color: 1,
                value: 1.0,
                range: None,
                text: "1.00 ms · 8.00× faster".into(),
            },
        ]);
        // 8 of 10 and 1 of 10: an 8× gap is 8× as long.
        assert!(
            html.contains("width:80.00%") && html.contains("width:10.00%"),
            "{html}"
        );
        assert!(html.contains("left:75.00%;width:25.00%"), "{html}");
        assert!(html.contains("8.00× faster") && html.contains("fk-only"));
    }

    #[test]
    fn line_charts_are_svg_with_their_labels() {
        let svg = lines(
            "Bookings per second",
            "clients",
            "bookings/s",
            &["1".into(), "4".into(), "16".into()],
            &[
                Line {
                    name: "tuned".into(),
                    color: 0,
                    dashed: false,
                    points: vec![Some(900.0), Some(2000.0), Some(2100.0)],
                },
                Line {
                    name: "tuned, 25% collisions".into(),
                    color: 0,
                    dashed: true,
                    points: vec![Some(800.0), None, Some(300.0)],
                },
            ],
            640,
        );
        assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(200)]);
        for label in [
            "Bookings per second",
            "tuned, 25% collisions",
            "16",
            "clients",
        ] {
            assert!(svg.contains(label), "{label} missing");
        }
    }
}
