//! SVG learning curves: the mean ± one standard deviation across runs of a metric (by default the
//! moving average return) against a step count (environment steps for `pg train`, sampled
//! completions for `pg lm`), with each run drawn faintly and the solved threshold dashed. Plain SVG
//! text, no plotting library.

use crate::error::{PgError, Result};
use crate::metrics::Table;
use crate::run::dir::RunDir;
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// The largest magnitude drawn: larger values (a diverged run's 1e308) would overflow the axis
/// arithmetic. [`load_curves`] refuses them; [`render_svg`] leaves them out like NaN.
pub const PLOT_LIMIT: f64 = 1e100;

/// Whether `y` can be drawn: finite and within [`PLOT_LIMIT`].
pub fn plottable(y: f64) -> bool {
    y.is_finite() && y.abs() <= PLOT_LIMIT
}

/// One run's curve: `(x, value)` points in increasing `x` (env steps, or sampled completions).
pub type Curve = Vec<(f64, f64)>;

/// The x-axis label of `pg train` curves (the `env_steps` column).
pub const ENV_STEPS_AXIS: &str = "environment steps";

/// What to draw.
#[derive(Clone, Debug)]
pub struct PlotSpec {
    /// Title above the plot.
    pub title: String,
    /// Label of the x axis (e.g. "environment steps" or "sampled completions").
    pub x_label: String,
    /// Label of the y axis.
    pub y_label: String,
    /// A horizontal dashed line (e.g. the solved threshold), if any.
    pub threshold: Option<f64>,
}

/// What the x axis of a `pg train` curve counts (Spinning Up's three choices).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum XAxis {
    /// Environment steps (`env_steps`).
    Steps,
    /// Finished episodes (the running sum of the `episodes` column).
    Episodes,
    /// Wall-clock seconds of training (`elapsed_seconds`).
    Time,
}

impl XAxis {
    /// The `metrics.csv` column it is read from.
    pub fn column(self) -> &'static str {
        match self {
            XAxis::Steps => "env_steps",
            XAxis::Episodes => "episodes",
            XAxis::Time => "elapsed_seconds",
        }
    }

    /// Whether the column counts per row, so the axis is its running sum.
    fn cumulative(self) -> bool {
        self == XAxis::Episodes
    }

    /// The axis label.
    pub fn label(self) -> &'static str {
        match self {
            XAxis::Steps => ENV_STEPS_AXIS,
            XAxis::Episodes => "episodes",
            XAxis::Time => "seconds",
        }
    }
}

/// Reads each run's `metrics.csv` and returns its `(x_column, y_column)` curve, leaving out rows
/// where either is NaN (a column that does not apply). A value that is infinite or beyond
/// [`PLOT_LIMIT`] is an error naming the run, the column and the value.
pub fn load_curves(runs: &[PathBuf], x_column: &str, y_column: &str) -> Result<Vec<Curve>> {
    runs.iter()
        .map(|dir| load_curve(dir, x_column, false, y_column))
        .collect()
}

/// [`load_curves`] of `pg train` runs against `axis`.
pub fn load_curves_along(runs: &[PathBuf], axis: XAxis, y_column: &str) -> Result<Vec<Curve>> {
    runs.iter()
        .map(|dir| load_curve(dir, axis.column(), axis.cumulative(), y_column))
        .collect()
}

/// One run's curve; with `cumulative`, x is the running sum of `x_column`.
fn load_curve(dir: &Path, x_column: &str, cumulative: bool, y_column: &str) -> Result<Curve> {
    let run = RunDir::open(dir)?;
    let p = run.metrics_path();
    let t = Table::read(&p)?;
    let mut x = t.column(x_column, &p)?;
    if cumulative {
        let mut sum = 0.0;
        for v in &mut x {
            sum += *v;
            *v = sum;
        }
    }
    let y = t.column(y_column, &p)?;
    let mut curve = Curve::new();
    for (row, (x, y)) in x.into_iter().zip(y).enumerate() {
        if x.is_nan() || y.is_nan() {
            continue;
        }
        for (column, v) in [(x_column, x), (y_column, y)] {
            if !plottable(v) {
                return Err(PgError::Csv {
                    path: p.clone(),
                    line: row + 2,
                    message: format!(
                        "`{column}` is {v:e}; pg plots values between -{PLOT_LIMIT:e} and {PLOT_LIMIT:e}"
                    ),
                });
            }
        }
        curve.push((x, y));
    }
    Ok(curve)
}

/// The x-axis label of `pg lm plot --xaxis kl` (the `kl` column of RL runs).
pub const KL_AXIS: &str = "KL to the reference (nats per completion)";

/// A curve whose x is not a counter (the KL of an RL run goes up and down from step to step)
/// made drawable: the means of `block` consecutive points (the last block may be shorter), in
/// increasing order of x.
///
/// ```
/// use policy_gradient::plot::in_order_of_x;
/// let c = vec![(1.0, 10.0), (3.0, 30.0), (2.0, 20.0), (0.0, 0.0)];
/// assert_eq!(in_order_of_x(&c, 2), vec![(1.0, 10.0), (2.0, 20.0)]);
/// assert_eq!(in_order_of_x(&c, 1)[0], (0.0, 0.0));
/// ```
pub fn in_order_of_x(curve: &[(f64, f64)], block: usize) -> Curve {
    let mut out: Curve = curve
        .chunks(block.max(1))
        .map(|c| {
            let n = c.len() as f64;
            let (x, y) = c.iter().fold((0.0, 0.0), |(a, b), p| (a + p.0, b + p.1));
            (x / n, y / n)
        })
        .collect();
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out
}

/// The value of `curve` at `x` by linear interpolation; `None` outside the curve or where it is NaN.
pub fn interpolate(curve: &[(f64, f64)], x: f64) -> Option<f64> {
    let i = curve.partition_point(|p| p.0 < x);
    let y = if i < curve.len() && curve[i].0 == x {
        curve[i].1
    } else if i == 0 || i == curve.len() {
        return None;
    } else {
        let (x0, y0) = curve[i - 1];
        let (x1, y1) = curve[i];
        y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    };
    plottable(y).then_some(y)
}

/// Mean and population standard deviation across runs at each x of the first run's grid
/// (restricted to where at least one run has a finite value): `(x, mean, sd, runs counted)`.
pub fn mean_sd(curves: &[Curve]) -> Vec<(f64, f64, f64, usize)> {
    let Some(first) = curves.first() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for &(x, _) in first {
        let ys: Vec<f64> = curves.iter().filter_map(|c| interpolate(c, x)).collect();
        if ys.is_empty() {
            continue;
        }
        let n = ys.len() as f64;
        let m = ys.iter().sum::<f64>() / n;
        let sd = (ys.iter().map(|y| (y - m).powi(2)).sum::<f64>() / n).sqrt();
        out.push((x, m, sd, ys.len()));
    }
    out
}

fn nice_step(range: f64) -> f64 {
    let raw = range / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    mag * if f < 1.5 {
        1.0
    } else if f < 3.5 {
        2.0
    } else if f < 7.5 {
        5.0
    } else {
        10.0
    }
}

fn fmt_tick(v: f64) -> String {
    let v = v + 0.0; // no "-0"
    let a = v.abs();
    if a >= 1e6 {
        format!("{}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{}k", v / 1e3)
    } else {
        format!("{}", (v * 1000.0).round() / 1000.0)
    }
}

/// Renders the curves of one group as an SVG document (no legend).
///
/// ```
/// use policy_gradient::plot::{render_svg, PlotSpec};
/// let runs = vec![vec![(0.0, 1.0), (10.0, 3.0)], vec![(0.0, 3.0), (10.0, 5.0)]];
/// let spec = PlotSpec {
///     title: "t".into(),
///     x_label: "environment steps".into(),
///     y_label: "return".into(),
///     threshold: Some(4.0),
/// };
/// let svg = render_svg(&runs, &spec);
/// assert!(svg.starts_with("<svg") && svg.contains("2 runs"));
/// assert!(svg.contains(">environment steps</text>"));
/// ```
pub fn render_svg(curves: &[Curve], spec: &PlotSpec) -> String {
    render_groups(
        &[Series {
            label: String::new(),
            curves: curves.to_vec(),
        }],
        spec,
    )
}

/// One group of runs drawn as one curve (mean ± sd across its runs) with one legend entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// The legend text; empty for a plot of one group, which needs no legend.
    pub label: String,
    /// The curve of each run of the group.
    pub curves: Vec<Curve>,
}

/// The colours of successive groups (a colour-blind-safe qualitative palette), reused cyclically.
const PALETTE: &[&str] = &[
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
];

/// Renders several groups as an SVG document: for each group its runs faintly, the ±1 sd band
/// and the mean in the group's colour, and a legend with one entry (`<g class="legend-entry">`)
/// per labelled group.
///
/// ```
/// use policy_gradient::plot::{render_groups, PlotSpec, Series};
/// let a = Series { label: "lr=0.001".into(), curves: vec![vec![(0.0, 1.0), (10.0, 3.0)]] };
/// let b = Series { label: "lr=0.003".into(), curves: vec![vec![(0.0, 2.0), (10.0, 5.0)]] };
/// let spec = PlotSpec {
///     title: "t".into(),
///     x_label: "environment steps".into(),
///     y_label: "return".into(),
///     threshold: None,
/// };
/// let svg = render_groups(&[a, b], &spec);
/// assert_eq!(svg.matches("class=\"legend-entry\"").count(), 2);
/// assert!(svg.contains(">lr=0.003 (1 run)</text>"));
/// ```
pub fn render_groups(groups: &[Series], spec: &PlotSpec) -> String {
    let (w, h) = (720.0, 440.0);
    let (left, right, top, bottom) = (70.0, 20.0, 40.0, 50.0);
    let stats: Vec<_> = groups.iter().map(|g| mean_sd(&g.curves)).collect();
    let runs: usize = groups.iter().map(|g| g.curves.len()).sum();
    let mut xs = vec![0.0];
    let mut ys: Vec<f64> = spec.threshold.into_iter().collect();
    for c in groups.iter().flat_map(|g| &g.curves) {
        for &(x, y) in c {
            if plottable(x) && plottable(y) {
                xs.push(x);
                ys.push(y);
            }
        }
    }
    for &(_, m, sd, _) in stats.iter().flatten() {
        ys.push(m + sd);
        ys.push(m - sd);
    }
    let x_max = xs.iter().cloned().fold(1.0, f64::max);
    let (mut y_min, mut y_max) = ys
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &y| {
            (a.min(y), b.max(y))
        });
    if !y_min.is_finite() {
        (y_min, y_max) = (0.0, 1.0);
    }
    if y_max - y_min < 1e-9 {
        y_min -= 1.0;
        y_max += 1.0;
    }
    let pad = 0.05 * (y_max - y_min);
    let (y_min, y_max) = (y_min - pad, y_max + pad);
    let px = |x: f64| left + (w - left - right) * x / x_max;
    let py = |y: f64| top + (h - top - bottom) * (1.0 - (y - y_min) / (y_max - y_min));

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="15">{} ({} runs)</text>"#,
        w / 2.0,
        escape(&spec.title),
        runs
    );
    // Grid and ticks.
    let xs_step = nice_step(x_max);
    let mut t = 0.0;
    while t <= x_max + 1e-9 {
        let _ = writeln!(
            s,
            r##"<line x1="{0:.1}" y1="{1}" x2="{0:.1}" y2="{2}" stroke="#eee"/><text x="{0:.1}" y="{3}" text-anchor="middle">{4}</text>"##,
            px(t),
            top,
            h - bottom,
            h - bottom + 16.0,
            fmt_tick(t)
        );
        t += xs_step;
    }
    let ys_step = nice_step(y_max - y_min);
    let mut t = (y_min / ys_step).ceil() * ys_step;
    while t <= y_max {
        let _ = writeln!(
            s,
            r##"<line x1="{0}" y1="{1:.1}" x2="{2}" y2="{1:.1}" stroke="#eee"/><text x="{3}" y="{4:.1}" text-anchor="end">{5}</text>"##,
            left,
            py(t),
            w - right,
            left - 6.0,
            py(t) + 4.0,
            fmt_tick(t)
        );
        t += ys_step;
    }
    let _ = writeln!(
        s,
        r##"<rect x="{left}" y="{top}" width="{}" height="{}" fill="none" stroke="#333"/>"##,
        w - left - right,
        h - top - bottom
    );
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
        (left + w - right) / 2.0,
        h - 12.0,
        escape(&spec.x_label)
    );
    let _ = writeln!(
        s,
        r#"<text x="16" y="{0}" text-anchor="middle" transform="rotate(-90 16 {0})">{1}</text>"#,
        (top + h - bottom) / 2.0,
        escape(&spec.y_label)
    );
    // Per group: the ±1 sd band, then the individual runs, then the mean.
    for (i, (group, stats)) in groups.iter().zip(&stats).enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        if !stats.is_empty() {
            let mut d = String::new();
            for (i, &(x, m, sd, _)) in stats.iter().enumerate() {
                let _ = write!(
                    d,
                    "{}{:.1},{:.1} ",
                    if i == 0 { "M" } else { "L" },
                    px(x),
                    py(m + sd)
                );
            }
            for &(x, m, sd, _) in stats.iter().rev() {
                let _ = write!(d, "L{:.1},{:.1} ", px(x), py(m - sd));
            }
            let _ = writeln!(
                s,
                r##"<path d="{d}Z" fill="{colour}" fill-opacity="0.2" stroke="none"/>"##
            );
        }
        for c in &group.curves {
            let _ = writeln!(
                s,
                r##"<path d="{}" fill="none" stroke="{colour}" stroke-opacity="0.25" stroke-width="1"/>"##,
                polyline(c, &px, &py)
            );
        }
        let mean: Curve = stats.iter().map(|&(x, m, _, _)| (x, m)).collect();
        let _ = writeln!(
            s,
            r##"<path d="{}" fill="none" stroke="{colour}" stroke-width="2"/>"##,
            polyline(&mean, &px, &py)
        );
    }
    if let Some(th) = spec.threshold {
        let _ = writeln!(
            s,
            r##"<line x1="{left}" y1="{0:.1}" x2="{1}" y2="{0:.1}" stroke="#d62728" stroke-dasharray="6,4"/><text x="{2}" y="{3:.1}" text-anchor="end" fill="#d62728">solved: {4}</text>"##,
            py(th),
            w - right,
            w - right - 4.0,
            py(th) - 4.0,
            th
        );
    }
    let _ = writeln!(
        s,
        r##"<text x="{}" y="{}" fill="#333">mean ± 1 sd across runs</text>"##,
        left + 8.0,
        top + 16.0
    );
    legend(&mut s, groups, left + 8.0, top + 34.0);
    s.push_str("</svg>\n");
    s
}

/// The legend: a coloured line and `label (N runs)` per labelled group, one below the other.
fn legend(s: &mut String, groups: &[Series], x: f64, y: f64) {
    for (i, g) in groups.iter().enumerate() {
        if g.label.is_empty() {
            continue;
        }
        let colour = PALETTE[i % PALETTE.len()];
        let y = y + 16.0 * i as f64;
        let n = g.curves.len();
        let _ = writeln!(
            s,
            r##"<g class="legend-entry"><line x1="{x}" y1="{0:.1}" x2="{1}" y2="{0:.1}" stroke="{colour}" stroke-width="2"/><text x="{2}" y="{3:.1}">{4} ({n} run{5})</text></g>"##,
            y - 4.0,
            x + 18.0,
            x + 24.0,
            y,
            escape(&g.label),
            if n == 1 { "" } else { "s" }
        );
    }
}

fn polyline(c: &[(f64, f64)], px: &dyn Fn(f64) -> f64, py: &dyn Fn(f64) -> f64) -> String {
    let mut d = String::new();
    let mut pen_down = false;
    for &(x, y) in c {
        if !(plottable(x) && plottable(y)) {
            pen_down = false;
            continue;
        }
        let _ = write!(
            d,
            "{}{:.1},{:.1} ",
            if pen_down { "L" } else { "M" },
            px(x),
            py(y)
        );
        pen_down = true;
    }
    d
}

fn escape(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolation_is_linear_and_bounded() {
        let c = vec![(0.0, 0.0), (10.0, 10.0), (20.0, f64::NAN)];
        assert_eq!(interpolate(&c, 5.0), Some(5.0));
        assert_eq!(interpolate(&c, 10.0), Some(10.0));
        assert_eq!(interpolate(&c, 25.0), None);
        assert_eq!(interpolate(&c, 20.0), None);
    }

    #[test]
    fn mean_and_sd_across_runs() {
        let a = vec![(0.0, 1.0), (10.0, 1.0)];
        let b = vec![(0.0, 3.0), (20.0, 7.0)];
        let s = mean_sd(&[a, b]);
        assert_eq!(s, vec![(0.0, 2.0, 1.0, 2), (10.0, 3.0, 2.0, 2)]);
    }

    #[test]
    fn svg_is_well_formed_enough() {
        let svg = render_svg(
            &[vec![(0.0, f64::NAN), (100.0, 20.0), (200.0, 30.0)]],
            &PlotSpec {
                title: "CartPole <v1>".into(),
                x_label: "sampled completions".into(),
                y_label: "return".into(),
                threshold: Some(475.0),
            },
        );
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("CartPole &lt;v1&gt;"));
        assert!(svg.contains(">sampled completions</text>"));
        assert!(!svg.contains("environment steps"));
        assert!(svg.contains("solved: 475"));
        assert!(!svg.contains("NaN"));
    }

    #[test]
    fn huge_values_never_become_nan_coordinates() {
        let spec = PlotSpec {
            title: "t".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            threshold: None,
        };
        let curves = [
            vec![(0.0, 1e308), (100.0, -1e308), (200.0, 3.0)],
            vec![(0.0, f64::INFINITY), (100.0, 2.0), (200.0, 1e300)],
        ];
        let svg = render_svg(&curves, &spec);
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
    }

    #[test]
    fn loading_refuses_values_beyond_the_limit() {
        let dir = std::env::temp_dir().join(format!("pg-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config.toml"), "").unwrap();
        std::fs::write(
            dir.join("metrics.csv"),
            "env_steps,r\n10,nan\n20,1.5\n30,-1e308\n",
        )
        .unwrap();
        let e = load_curves(std::slice::from_ref(&dir), "env_steps", "r")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 4") && e.contains("`r` is -1e308") && e.contains("1e100"),
            "{e}"
        );
        std::fs::write(dir.join("metrics.csv"), "env_steps,r\n10,nan\n20,1.5\n").unwrap();
        let c = load_curves(std::slice::from_ref(&dir), "env_steps", "r").unwrap();
        assert_eq!(c, vec![vec![(20.0, 1.5)]]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
