//! The report: markdown tables (printed and written to `bench.md`), the raw figures as JSON
//! (`bench.json`), and a hand-written SVG plot (`bench.svg`) of throughput and p50 latency
//! against concurrency, one line per workload and server configuration.

use super::ceiling::CeilingRow;
use super::load::Point;
use super::probe::ProbeRow;
use super::stages::StageRow;
use std::fmt::Write;

/// Reads one plotted value of a point.
type Metric = fn(&Point) -> f64;

/// A server the benchmark ran against.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ServerInfo {
    /// Label (`soyl`, `soyl max_batch=1`, `baseline`).
    pub label: String,
    /// Seconds from spawn to ready (None for an external `--url`).
    pub ready_s: Option<f64>,
    /// Peak resident memory after its load, in MiB.
    pub peak_rss_mib: Option<f64>,
}

/// Everything one `soyl bench` measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    /// CPU model and core count, and the device used.
    pub machine: String,
    /// UTC date and time of the run.
    pub date: String,
    /// Git commit of the checkout (or `unknown`).
    pub commit: String,
    /// Raw session throughput.
    pub ceiling: Vec<CeilingRow>,
    /// Preprocessing stages.
    pub stages: Vec<StageRow>,
    /// The face1 ceiling measured again after each soyl face1 point.
    pub probes: Vec<ProbeRow>,
    /// End-to-end points.
    pub points: Vec<Point>,
    /// Servers measured.
    pub servers: Vec<ServerInfo>,
    /// Target checks, one line each.
    pub summary: Vec<String>,
}

/// The report as markdown.
pub fn markdown(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# soyl bench\n\n{} · {} · commit {}\n",
        r.machine, r.date, r.commit
    );
    if !r.ceiling.is_empty() {
        s.push_str("## Ceiling: raw ONNX Runtime session (items/s)\n\n| model | device | sessions at once | batch | items/s |\n|---|---|---:|---:|---:|\n");
        for c in &r.ceiling {
            let _ = writeln!(
                s,
                "| {} | {:?} | {} | {} | {:.0} |",
                c.model, c.device, c.sessions, c.batch, c.items_per_s
            );
        }
        s.push('\n');
    }
    if !r.stages.is_empty() {
        s.push_str("## Preprocessing stages\n\n| workload | stage | threads | items/s | core-ms per item |\n|---|---|---:|---:|---:|\n");
        for st in &r.stages {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {:.1} | {:.2} |",
                st.workload,
                st.stage,
                st.threads,
                st.items_per_s,
                1e3 * st.threads as f64 / st.items_per_s
            );
        }
        s.push('\n');
    }
    end_to_end(&mut s, &r.points);
    if !r.probes.is_empty() {
        s.push_str("## face1 ceiling measured right after each soyl face1 point (items/s)\n\n| after clients | decode + detector input + crop, every core | detector | emotion |\n|---:|---:|---:|---:|\n");
        for p in &r.probes {
            let _ = writeln!(
                s,
                "| {} | {:.0} | {:.0} | {:.0} |",
                p.after_concurrency, p.cpu_share, p.detector, p.emotion
            );
        }
        s.push('\n');
    }
    if !r.servers.is_empty() {
        s.push_str("## Servers\n\n| server | ready (s) | peak RSS (MiB) |\n|---|---:|---:|\n");
        for v in &r.servers {
            let opt = |x: Option<f64>, p: usize| x.map_or("-".to_owned(), |x| format!("{x:.p$}"));
            let _ = writeln!(
                s,
                "| {} | {} | {} |",
                v.label,
                opt(v.ready_s, 2),
                opt(v.peak_rss_mib, 0)
            );
        }
        s.push('\n');
    }
    if !r.summary.is_empty() {
        s.push_str("## Targets\n\n");
        for line in &r.summary {
            let _ = writeln!(s, "- {line}");
        }
    }
    s
}

/// One side-by-side table per workload: jobs/s and p50/p95/p99 of every target per concurrency,
/// then the mean batch sizes soyl's lanes ran.
fn end_to_end(s: &mut String, points: &[Point]) {
    let targets = unique(points.iter().map(|p| p.target.as_str()));
    for workload in unique(points.iter().map(|p| p.workload.as_str())) {
        let _ = writeln!(
            s,
            "## End to end: {workload} (jobs/s, latency ms p50/p95/p99)\n"
        );
        s.push_str("| clients |");
        for t in &targets {
            let _ = write!(s, " {t} jobs/s | {t} p50/p95/p99 |");
        }
        s.push_str(" soyl lanes: mean batch, items per busy s |\n|---:|");
        s.push_str(&"---:|---:|".repeat(targets.len()));
        s.push_str("---|\n");
        let levels = unique_sorted(
            points
                .iter()
                .filter(|p| p.workload == workload)
                .map(|p| p.concurrency),
        );
        for c in levels {
            let _ = write!(s, "| {c} |");
            let mut batches = String::new();
            for t in &targets {
                match points
                    .iter()
                    .find(|p| p.workload == workload && p.concurrency == c && p.target == *t)
                {
                    Some(p) => {
                        let failed = if p.failed > 0 {
                            format!(" ({} failed)", p.failed)
                        } else {
                            String::new()
                        };
                        let cpu = p
                            .server_cpu_ms_per_job
                            .map(|ms| format!(" ({ms:.1} ms CPU/job)"))
                            .unwrap_or_default();
                        let _ = write!(
                            s,
                            " {:.1}{failed}{cpu} | {:.0}/{:.0}/{:.0} |",
                            p.throughput, p.p50_ms, p.p95_ms, p.p99_ms
                        );
                        if *t == "soyl" {
                            batches = lane_figures(p);
                        }
                    }
                    None => s.push_str(" - | - |"),
                }
            }
            let _ = writeln!(s, " {batches} |");
        }
        s.push('\n');
    }
}

/// Each lane's mean batch and, where the server's metrics were read, its items per busy second.
fn lane_figures(p: &Point) -> String {
    p.mean_batch
        .iter()
        .map(|(lane, batch)| match p.lane_items_per_busy_s.get(lane) {
            Some(rate) => format!("{lane} {batch:.1}, {rate:.0}/s"),
            None => format!("{lane} {batch:.1}"),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn unique<'a>(items: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for i in items {
        if !out.contains(&i) {
            out.push(i);
        }
    }
    out
}

fn unique_sorted(items: impl Iterator<Item = usize>) -> Vec<usize> {
    let mut v: Vec<usize> = items.collect();
    v.sort_unstable();
    v.dedup();
    v
}

const WIDTH: f64 = 460.0;
const HEIGHT: f64 = 300.0;
const MARGIN: f64 = 56.0;

/// Throughput (left) and p50 latency (right) against concurrency, both on log scales.
pub fn svg(points: &[Point]) -> String {
    let series: Vec<(&str, &str)> = {
        let mut v: Vec<(&str, &str)> = Vec::new();
        for p in points {
            if !v.contains(&(p.target.as_str(), p.workload.as_str())) {
                v.push((p.target.as_str(), p.workload.as_str()));
            }
        }
        v
    };
    let levels = unique_sorted(points.iter().map(|p| p.concurrency));
    let legend_h = 18.0 * series.len() as f64 + 20.0;
    let total_w = 2.0 * WIDTH;
    let total_h = HEIGHT + legend_h;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{total_w}\" height=\"{total_h}\" \
         font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    let panels: [(&str, Metric); 2] = [
        ("throughput (jobs/s)", |p| p.throughput),
        ("p50 latency (ms)", |p| p.p50_ms),
    ];
    for (i, (title, value)) in panels.iter().enumerate() {
        let x0 = i as f64 * WIDTH;
        panel(&mut s, x0, title, &levels, points, &series, *value);
    }
    for (k, (target, workload)) in series.iter().enumerate() {
        let y = HEIGHT + 14.0 + 18.0 * k as f64;
        let (color, dash) = style(target, workload);
        let _ = writeln!(
            s,
            "<line x1=\"{MARGIN}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"{color}\" stroke-width=\"2\" stroke-dasharray=\"{dash}\"/>\
             <text x=\"{}\" y=\"{}\">{target} · {workload}</text>",
            MARGIN + 30.0,
            MARGIN + 36.0,
            y + 4.0
        );
    }
    s.push_str("</svg>\n");
    s
}

fn style(target: &str, workload: &str) -> (&'static str, &'static str) {
    let color = match workload {
        "face1" => "#1f77b4",
        "face6" => "#ff7f0e",
        "gallery" => "#9467bd",
        "voice" => "#2ca02c",
        _ => "#d62728",
    };
    let dash = match target {
        "soyl" => "none",
        "baseline" => "2,3",
        _ => "7,4",
    };
    (
        if target == "baseline" {
            "#444444"
        } else {
            color
        },
        dash,
    )
}

fn panel(
    s: &mut String,
    x0: f64,
    title: &str,
    levels: &[usize],
    points: &[Point],
    series: &[(&str, &str)],
    value: fn(&Point) -> f64,
) {
    let values: Vec<f64> = points.iter().map(value).filter(|v| *v > 0.0).collect();
    let lo = values
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min)
        .max(1e-3)
        .log10()
        .floor();
    let hi = values
        .iter()
        .copied()
        .fold(0.0, f64::max)
        .max(1e-3)
        .log10()
        .ceil()
        .max(lo + 1.0);
    let (left, right, top, bottom) = (x0 + MARGIN, x0 + WIDTH - 16.0, 28.0, HEIGHT - 36.0);
    let px = |i: usize| left + (right - left) * i as f64 / (levels.len().max(2) - 1) as f64;
    let py = |v: f64| bottom - (bottom - top) * (v.max(1e-3).log10() - lo) / (hi - lo);
    let _ = writeln!(s, "<text x=\"{}\" y=\"16\" font-size=\"13\" text-anchor=\"middle\">{title} vs concurrency</text>", (left + right) / 2.0);
    let _ = writeln!(
        s,
        "<rect x=\"{left}\" y=\"{top}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#999\"/>",
        right - left,
        bottom - top
    );
    let mut decade = lo;
    while decade <= hi {
        let y = py(10f64.powf(decade));
        let _ = writeln!(s, "<line x1=\"{left}\" y1=\"{y}\" x2=\"{right}\" y2=\"{y}\" stroke=\"#e5e5e5\"/><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>", left - 4.0, y + 4.0, 10f64.powf(decade));
        decade += 1.0;
    }
    for (i, c) in levels.iter().enumerate() {
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{c}</text>",
            px(i),
            bottom + 14.0
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">clients</text>",
        (left + right) / 2.0,
        bottom + 28.0
    );
    for (target, workload) in series {
        let (color, dash) = style(target, workload);
        let coords: Vec<String> = levels
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let p = points.iter().find(|p| {
                    p.target == *target && p.workload == *workload && p.concurrency == *c
                })?;
                Some(format!("{:.1},{:.1}", px(i), py(value(p))))
            })
            .collect();
        let _ = writeln!(s, "<polyline points=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" stroke-dasharray=\"{dash}\"/>", coords.join(" "));
    }
}
