//! The report's charts as inline SVG (plotters, SVG backend only: no fonts or bitmaps to bundle, the
//! browser renders the text). Horizontal bars throughout, because the category labels (query and
//! strategy names) are long and read best on the left.
//!
//! A chart that fails to draw becomes a short note in the page, never a failed report.
//!
//! Dependencies point one way: `html` embeds these charts; this module knows nothing of the page
//! (it escapes with `report::html_escape` and formats ticks with `report::fmt`).

use plotters::prelude::*;

use crate::report::{fmt, html_escape};

/// Strategy colours (Tableau 10): stable per position, distinguishable, readable on white.
pub const PALETTE: [(u8, u8, u8); 10] = [
    (78, 121, 167),
    (242, 142, 43),
    (89, 161, 79),
    (225, 87, 89),
    (118, 183, 178),
    (237, 201, 72),
    (176, 122, 161),
    (255, 157, 167),
    (156, 117, 95),
    (186, 176, 172),
];

pub fn color(i: usize) -> RGBColor {
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    RGBColor(r, g, b)
}

pub fn css_color(i: usize) -> String {
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    format!("#{r:02x}{g:02x}{b:02x}")
}

const FONT: &str = "sans-serif";

/// One bar of a grouped chart: the main value and an optional whisker end (p95).
#[derive(Debug, Clone, Copy)]
pub struct Bar {
    pub value: f64,
    pub whisker: Option<f64>,
}

/// Grouped horizontal bars on a log axis: one group per category (top to bottom), one bar per series.
/// `values[category][series]`; `None` leaves a gap.
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    reason = "categories, series and label lengths come from a comparison report: a few dozen, \
              far inside i32 and u32"
)]
pub fn grouped_log_bars(
    title: &str,
    axis: &str,
    categories: &[String],
    series: &[String],
    values: &[Vec<Option<Bar>>],
    width: u32,
) -> String {
    let per_group = series.len().max(1) as u32 * 13 + 14;
    let height = 90 + (categories.len() as u32 + 1) * per_group;
    draw(width, height, |root| {
        let all = values.iter().flatten().flatten();
        let lo = all
            .clone()
            .map(|b| b.value)
            .filter(|v| *v > 0.0)
            .fold(f64::INFINITY, f64::min);
        let hi = all
            .map(|b| b.whisker.unwrap_or(b.value).max(b.value))
            .fold(0.0, f64::max);
        let (lo, hi) = if lo.is_finite() && hi > 0.0 {
            (decade_below(lo), decade_above(hi))
        } else {
            (0.001, 1.0)
        };
        let n = categories.len();
        let label_width = categories.iter().map(String::len).max().unwrap_or(8) as u32 * 8 + 12;
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 19))
            .margin(12)
            .x_label_area_size(34)
            .y_label_area_size(label_width)
            // One spare row on top holds the legend, so it never covers a bar.
            .build_cartesian_2d((lo..hi).log_scale(), rows(n, 1))?;
        let name_of = |v: &i32| label(categories, *v);
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_label_formatter(&name_of)
            .x_label_formatter(&|v| fmt::sig3(*v))
            .x_labels(12)
            .x_desc(axis)
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 13))
            .light_line_style(RGBColor(235, 235, 235))
            .bold_line_style(RGBColor(215, 215, 215))
            .draw()?;
        let band = 80 / series.len().max(1) as i32;
        for (si, name) in series.iter().enumerate() {
            let c = color(si);
            let mut rects = Vec::new();
            let mut whiskers = Vec::new();
            for (ci, row) in values.iter().enumerate() {
                let Some(Some(bar)) = row.get(si) else {
                    continue;
                };
                // Category 0 on top: plotters' y grows upwards.
                let top = (n - 1 - ci) as i32 * UNIT + 90 - si as i32 * band;
                let bottom = top - band * 85 / 100;
                rects.push(Rectangle::new(
                    [(lo, bottom), (bar.value.max(lo), top)],
                    c.filled(),
                ));
                if let Some(w) = bar.whisker.filter(|w| *w > bar.value) {
                    let mid = (top + bottom) / 2;
                    whiskers.push(PathElement::new(
                        vec![(bar.value, mid), (w, mid)],
                        c.stroke_width(2),
                    ));
                    whiskers.push(PathElement::new(
                        vec![(w, bottom), (w, top)],
                        c.stroke_width(2),
                    ));
                }
            }
            chart
                .draw_series(rects)?
                .label(name.as_str())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], c.filled()));
            chart.draw_series(whiskers)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(200, 200, 200))
            .label_font((FONT, 13))
            .draw()?;
        Ok(())
    })
}

/// Simple horizontal bars on a linear axis from 0, one per label, each in its strategy's colour,
/// with the formatted value at the end of the bar.
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    reason = "categories, series and label lengths come from a comparison report: a few dozen, \
              far inside i32 and u32"
)]
pub fn bars(
    title: &str,
    axis: &str,
    labels: &[String],
    values: &[f64],
    fmt: &dyn Fn(f64) -> String,
    width: u32,
) -> String {
    let height = 80 + labels.len() as u32 * 34;
    draw(width, height, |root| {
        let n = labels.len();
        let hi = values
            .iter()
            .copied()
            .fold(0.0, f64::max)
            .max(f64::MIN_POSITIVE)
            * 1.3;
        let label_width = labels.iter().map(String::len).max().unwrap_or(8) as u32 * 7 + 12;
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 17))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(label_width)
            .build_cartesian_2d(0f64..hi, rows(n, 0))?;
        let name_of = |v: &i32| label(labels, *v);
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_label_formatter(&name_of)
            .x_label_formatter(&|v| fmt(*v))
            .x_labels(4)
            .x_desc(axis)
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 12))
            .light_line_style(RGBColor(240, 240, 240))
            .bold_line_style(RGBColor(215, 215, 215))
            .draw()?;
        for (i, v) in values.iter().enumerate() {
            let y = (n - 1 - i) as i32 * UNIT;
            chart.draw_series(std::iter::once(Rectangle::new(
                [(0.0, y + 20), (*v, y + 80)],
                color(i).filled(),
            )))?;
            chart.draw_series(std::iter::once(Text::new(
                fmt(*v),
                (*v + hi * 0.01, y + 62),
                (FONT, 12).into_font().color(&RGBColor(60, 60, 60)),
            )))?;
        }
        Ok(())
    })
}

/// Category rows on the y axis: row `i` spans `i * UNIT .. (i + 1) * UNIT` (integer coordinates, so
/// plotters' default tick formatting applies), with a labelled key point at each row's centre, and
/// `spare` empty rows above them.
const UNIT: i32 = 100;

#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    reason = "categories, series and label lengths come from a comparison report: a few dozen, \
              far inside i32 and u32"
)]
fn rows(
    n: usize,
    spare: usize,
) -> plotters::coord::combinators::WithKeyPoints<plotters::coord::types::RangedCoordi32> {
    (0..(n + spare) as i32 * UNIT)
        .with_key_points((0..n as i32).map(|i| i * UNIT + UNIT / 2).collect())
}

/// The label of the row at `v`; row 0 (the first category) is drawn at the top.
fn label(names: &[String], v: i32) -> String {
    // Rows below 0 (none are drawn) have no label.
    let Ok(row) = usize::try_from(v / UNIT) else {
        return String::new();
    };
    if row < names.len() {
        names[names.len() - 1 - row].clone()
    } else {
        String::new()
    }
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

fn decade_below(v: f64) -> f64 {
    10f64.powf(v.log10().floor())
}

fn decade_above(v: f64) -> f64 {
    10f64.powf(v.log10().ceil()).max(decade_below(v) * 10.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(
        clippy::float_cmp,
        reason = "decade bounds are exact powers of ten from powf: equality is intended"
    )]
    fn charts_are_svg_with_their_labels() {
        let svg = grouped_log_bars(
            "Latency",
            "ms",
            &["provider_day".into(), "patient_by_mrn".into()],
            &["fk-only".into(), "tuned".into()],
            &[
                vec![
                    Some(Bar {
                        value: 0.5,
                        whisker: Some(0.9),
                    }),
                    Some(Bar {
                        value: 0.05,
                        whisker: None,
                    }),
                ],
                vec![
                    None,
                    Some(Bar {
                        value: 0.02,
                        whisker: Some(0.03),
                    }),
                ],
            ],
            700,
        );
        assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(200)]);
        for label in [
            "provider_day",
            "patient_by_mrn",
            "fk-only",
            "tuned",
            "Latency",
        ] {
            assert!(svg.contains(label), "{label} missing");
        }
        let svg = bars(
            "Index size",
            "MB",
            &["a".into(), "b".into()],
            &[1.0, 3.0],
            &|v| format!("{v:.1}"),
            400,
        );
        assert!(svg.starts_with("<svg") && svg.contains("3.0"));
        assert_eq!((decade_below(0.034), decade_above(0.034)), (0.01, 0.1));
        assert_eq!(decade_above(1.0), 10.0);
    }
}
